//! What the person's keys, answers and text boxes do to the UI's model: the main view's named
//! actions, dialogs and text boxes, the rate-limit box and adding pasted URLs. Part of `App`,
//! pure like the rest of it; depends on the engine's command types and `format`.

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::engine::{AddRequest, Command, ItemState, MAX_CONNECTIONS, MAX_WORKERS};
use crate::format::{self, parse_rate, size_spec};
use crate::inputs::split_pasted;
use crate::tui::input::Edit;
use crate::tui::keys::KeyAction;

use super::{App, Effect, Level, LimitTarget, Mode, dedup_key};

impl App {
    pub(super) fn key_action(&mut self, action: KeyAction) -> Vec<Effect> {
        match (&self.mode, action) {
            (Mode::ConfirmQuit, KeyAction::Quit) => return vec![Effect::Quit],
            (Mode::Normal, _) => {}
            (Mode::Help { .. }, KeyAction::Help | KeyAction::Quit) => {
                self.mode = Mode::Normal;
                return Vec::new();
            }
            // Ctrl-C from a dialog or text box: close it and ask about quitting as from the
            // main view.
            (_, KeyAction::Quit) => self.mode = Mode::Normal,
            _ => return Vec::new(),
        }
        let selected = self.selected().map(|r| (r.id, r.state, r.label().to_string()));
        match action {
            KeyAction::Up => self.move_by(-1),
            KeyAction::Down => self.move_by(1),
            KeyAction::PageUp => self.move_by(-(self.page() as isize)),
            KeyAction::PageDown => self.move_by(self.page() as isize),
            KeyAction::Top => self.selected = 0,
            KeyAction::Bottom => self.selected = self.view.len().saturating_sub(1),
            KeyAction::Add => self.mode = Mode::Add,
            KeyAction::Filter => {
                self.mode = Mode::Filter;
            }
            KeyAction::Details => self.show_details = !self.show_details,
            KeyAction::Help => self.mode = Mode::Help { scroll: 0 },
            KeyAction::Suspend => return vec![Effect::Suspend],
            KeyAction::WorkersUp | KeyAction::WorkersDown => {
                let cap = step(self.cap, action == KeyAction::WorkersUp, MAX_WORKERS);
                if cap == self.cap {
                    self.say(Level::Info, format!("the worker cap is already {cap} (1–{MAX_WORKERS})"));
                    return Vec::new();
                }
                // Shown at once; the engine confirms with WorkersChanged.
                self.cap = cap;
                return vec![Effect::Send(Command::SetWorkers(cap))];
            }
            KeyAction::RateLimit => self.open_limit(LimitTarget::All),
            KeyAction::ItemRateLimit => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                if state.is_terminal() {
                    self.say(
                        Level::Info,
                        format!("{label} is finished; limits are for transfers still to run"),
                    );
                } else {
                    self.open_limit(LimitTarget::Item(id));
                }
            }
            KeyAction::ConnectionsUp | KeyAction::ConnectionsDown => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                if state.is_terminal() {
                    self.say(Level::Info, format!("{label} is finished; r retries it first"));
                    return Vec::new();
                }
                let Some(row) = self.rows.get_mut(&id) else { return Vec::new() };
                let n = step(row.connections, action == KeyAction::ConnectionsUp, MAX_CONNECTIONS);
                if n == row.connections {
                    self.say(Level::Info, format!("{label} already uses {n} (1–{MAX_CONNECTIONS})"));
                    return Vec::new();
                }
                // Shown at once, like the worker cap; the engine confirms with ItemLimitsChanged.
                row.connections = n;
                let plural = if n == 1 { "connection" } else { "connections" };
                let note =
                    if row.is_active() { " (continues from its .part with the new count)" } else { "" };
                self.say(Level::Info, format!("{label}: {n} {plural}{note}"));
                return vec![Effect::Send(Command::SetItemConnections { id, connections: n })];
            }
            KeyAction::PauseAll => {
                self.say(Level::Info, "pausing everything (R resumes)");
                return vec![Effect::Send(Command::PauseAll)];
            }
            KeyAction::ResumeAll => return vec![Effect::Send(Command::ResumeAll)],
            KeyAction::TogglePause => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                return match state {
                    ItemState::Queued | ItemState::Connecting | ItemState::Downloading => {
                        vec![Effect::Send(Command::Pause(id))]
                    }
                    ItemState::Paused => vec![Effect::Send(Command::Resume(id))],
                    ItemState::Failed | ItemState::Cancelled => {
                        self.say(Level::Info, format!("{label} is not running; r retries it"));
                        Vec::new()
                    }
                    ItemState::Done => {
                        self.say(Level::Info, format!("{label} is already done"));
                        Vec::new()
                    }
                };
            }
            KeyAction::Cancel => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                if matches!(state, ItemState::Done | ItemState::Cancelled) {
                    self.say(Level::Info, format!("{label} is finished; nothing to cancel (d removes it)"));
                } else {
                    self.mode = Mode::ConfirmCancel(id);
                }
            }
            KeyAction::Retry => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                if matches!(state, ItemState::Failed | ItemState::Cancelled) {
                    return vec![Effect::Send(Command::Retry(id))];
                }
                self.say(
                    Level::Info,
                    format!("{label} has not failed; only failed or cancelled items retry"),
                );
            }
            KeyAction::Remove => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                if state.is_terminal() {
                    return vec![Effect::Send(Command::Remove(id))];
                }
                self.say(Level::Info, format!("{label} is not finished; c cancels it first"));
            }
            KeyAction::Quit => {
                let c = self.counts();
                if c.running + c.queued > 0 {
                    self.mode = Mode::ConfirmQuit;
                } else {
                    return vec![Effect::Quit];
                }
            }
        }
        Vec::new()
    }

    pub(super) fn input(&mut self, key: KeyEvent) -> Vec<Effect> {
        let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
        match self.mode.clone() {
            Mode::Normal => {
                if key.code == KeyCode::Esc {
                    self.message = None;
                    if !self.filter.is_empty() {
                        self.filter_input.clear();
                        self.set_filter_from_input();
                    }
                }
            }
            Mode::Help { scroll } => match key.code {
                KeyCode::Esc | KeyCode::Enter => self.mode = Mode::Normal,
                KeyCode::Up | KeyCode::Char('k') => {
                    self.mode = Mode::Help { scroll: scroll.saturating_sub(1) }
                }
                KeyCode::Down | KeyCode::Char('j') => self.mode = Mode::Help { scroll: scroll + 1 },
                KeyCode::PageUp => self.mode = Mode::Help { scroll: scroll.saturating_sub(10) },
                KeyCode::PageDown => self.mode = Mode::Help { scroll: scroll + 10 },
                _ => {}
            },
            Mode::Add => match key.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Enter if plain => {
                    let text = self.add_input.text();
                    let (urls, _) = split_pasted(&text);
                    if urls.is_empty() {
                        self.say(Level::Warn, "no http:// or https:// URL in the text");
                        return Vec::new();
                    }
                    self.add_input.clear();
                    self.mode = Mode::Normal;
                    return self.add_text(&text);
                }
                _ => {
                    self.add_input.handle_key(&key);
                }
            },
            Mode::Filter => match key.code {
                KeyCode::Enter => self.mode = Mode::Normal,
                KeyCode::Esc => {
                    self.filter_input.clear();
                    self.set_filter_from_input();
                    self.mode = Mode::Normal;
                }
                _ => {
                    if self.filter_input.handle_key(&key) == Edit::Changed {
                        self.set_filter_from_input();
                    }
                }
            },
            Mode::ConfirmCancel(id) => {
                let delete_partial = match key.code {
                    KeyCode::Char('y' | 'Y') => false,
                    KeyCode::Char('d' | 'D') => true,
                    KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                        self.mode = Mode::Normal;
                        return Vec::new();
                    }
                    _ => return Vec::new(),
                };
                self.mode = Mode::Normal;
                return vec![Effect::Send(Command::Cancel { id, delete_partial })];
            }
            Mode::ConfirmQuit => match key.code {
                KeyCode::Char('y' | 'Y' | 'q') | KeyCode::Enter => return vec![Effect::Quit],
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.mode = Mode::Normal,
                _ => {}
            },
            Mode::Limit(target) => match key.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Enter => return self.set_limit(target),
                _ => {
                    self.limit_input.handle_key(&key);
                }
            },
        }
        Vec::new()
    }

    /// Opens the rate-limit box holding the limit in force, ready to be edited.
    fn open_limit(&mut self, target: LimitTarget) {
        let current = match target {
            LimitTarget::All => self.rate_limit,
            LimitTarget::Item(id) => self.rows.get(&id).and_then(|r| r.rate_limit),
        };
        self.limit_input.clear();
        self.limit_input.insert_str(&current.map(size_spec).unwrap_or_default());
        self.mode = Mode::Limit(target);
    }

    /// The limit in force for a target, as the limit box and messages say it.
    pub fn limit_text(limit: Option<u64>) -> String {
        limit.map_or_else(|| "no limit".to_string(), |l| format::rate(l as f64))
    }

    /// Enter in the limit box: a readable limit is applied (shown at once, sent to the
    /// engine); anything else is reported and the box stays open to fix it.
    fn set_limit(&mut self, target: LimitTarget) -> Vec<Effect> {
        let limit = match parse_rate(&self.limit_input.text()) {
            Ok(limit) => limit,
            Err(e) => {
                self.say(Level::Warn, e);
                return Vec::new();
            }
        };
        self.mode = Mode::Normal;
        let shown = Self::limit_text(limit);
        match target {
            LimitTarget::All => {
                self.rate_limit = limit;
                self.say(Level::Info, format!("all downloads together: {shown}"));
                vec![Effect::Send(Command::SetRateLimit(limit))]
            }
            LimitTarget::Item(id) => {
                let Some(row) = self.rows.get_mut(&id) else { return Vec::new() };
                row.rate_limit = limit;
                let text = format!("{}: {shown}", row.label());
                self.say(Level::Info, text);
                vec![Effect::Send(Command::SetItemRateLimit { id, limit })]
            }
        }
    }

    pub(super) fn set_filter_from_input(&mut self) {
        self.filter = self.filter_input.text().trim().to_lowercase();
        self.view_stale = true;
    }

    /// Adds every http(s) URL in a text; reports duplicates and words that are not URLs.
    pub(super) fn add_text(&mut self, text: &str) -> Vec<Effect> {
        let (urls, others) = split_pasted(text);
        let pending: HashSet<&str> =
            self.rows.values().filter(|r| r.is_pending()).map(|r| r.key.as_str()).collect();
        let mut seen = HashSet::new();
        let mut effects = Vec::new();
        let mut duplicates = 0;
        for url in urls {
            let key = dedup_key(&url);
            if pending.contains(key.as_str()) || !seen.insert(key) {
                duplicates += 1;
                continue;
            }
            effects.push(Effect::Add(AddRequest::new(url)));
        }
        let mut parts = Vec::new();
        match effects.len() {
            0 => {}
            1 => parts.push("added 1 URL".to_string()),
            n => parts.push(format!("added {n} URLs")),
        }
        if duplicates > 0 {
            parts.push(format!("skipped {duplicates} already in the list"));
        }
        if !others.is_empty() {
            const SHOWN: usize = 3;
            let mut words: Vec<String> = others.iter().take(SHOWN).map(|w| format!("{w:?}")).collect();
            if others.len() > SHOWN {
                words.push(format!("and {} more", others.len() - SHOWN));
            }
            parts.push(format!("ignored, not http(s) URLs: {}", words.join(", ")));
        }
        if parts.is_empty() {
            self.say(Level::Warn, "nothing to add: the paste was empty");
        } else {
            let level = if others.is_empty() && duplicates == 0 { Level::Info } else { Level::Warn };
            self.say(level, parts.join("; "));
        }
        effects
    }
}

/// One step up or down, staying within `1..=max`.
fn step(current: usize, up: bool, max: usize) -> usize {
    if up { (current + 1).min(max) } else { current.saturating_sub(1).max(1) }
}
