//! What dialogs and text boxes do with keys and pastes: the add box, the filter, the
//! confirmations, the help's scrolling and the rate-limit box; and adding pasted URLs. Part of
//! `App`, pure like the rest of it; depends on the engine's command types and `format`.

use std::collections::HashSet;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::engine::{AddRequest, Command, ItemId, ItemState};
use crate::format::{self, parse_rate, size_spec};
use crate::tui::input::Edit;

use super::{App, Effect, Level, LimitTarget, Mode, dedup_key, pasted};

impl App {
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
                KeyCode::Esc => self.close_dialog(),
                KeyCode::Tab | KeyCode::BackTab => self.add_on_folder = !self.add_on_folder,
                KeyCode::Enter if plain => {
                    let text = self.add_input.text();
                    // A bad checksum or curl command keeps the box open with the text in it.
                    match pasted::read(&text, None) {
                        Err(e) => {
                            self.say(Level::Error, e);
                            return Vec::new();
                        }
                        Ok(p) if p.requests.is_empty() => {
                            self.say(Level::Warn, "no http:// or https:// URL in the text");
                            return Vec::new();
                        }
                        Ok(_) => {}
                    }
                    let folder = self.add_folder.text();
                    if folder.trim() != self.download_dir.display().to_string() {
                        return vec![Effect::AddIn { folder, text }];
                    }
                    self.add_input.clear();
                    self.mode = Mode::Normal;
                    return self.add_text(&text);
                }
                _ if self.add_on_folder => {
                    self.add_folder.handle_key(&key);
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
            Mode::ConfirmRemoveFinished(ids) => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                    self.mode = Mode::Normal;
                    let text = format!(
                        "removed {} from the list (the files stay)",
                        super::commands::count(ids.len(), "completed transfer")
                    );
                    self.say(Level::Info, text);
                    return ids.into_iter().map(|id| Effect::Send(Command::Remove(id))).collect();
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.mode = Mode::Normal,
                _ => {}
            },
            Mode::ConfirmRedownload(id) => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                    self.mode = Mode::Normal;
                    return self.redownload(id);
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.mode = Mode::Normal,
                _ => {}
            },
            Mode::ConfirmQuit => match key.code {
                KeyCode::Char('y' | 'Y' | 'q') | KeyCode::Enter => return vec![Effect::Quit],
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.mode = Mode::Normal,
                _ => {}
            },
            Mode::UrlBox(id) => return self.url_box_key(id, key),
            Mode::Folder => match key.code {
                KeyCode::Esc => self.close_dialog(),
                KeyCode::Enter => return vec![Effect::SetFolder(self.folder_input.text())],
                _ => {
                    self.folder_input.handle_key(&key);
                }
            },
            Mode::Limit(target) => match key.code {
                KeyCode::Esc => self.close_dialog(),
                KeyCode::Enter => return self.set_limit(target),
                _ => {
                    self.limit_input.handle_key(&key);
                }
            },
        }
        Vec::new()
    }

    /// Esc in a text box: it closes, and so does what it said (an error about text no longer
    /// on screen would only confuse).
    fn close_dialog(&mut self) {
        self.mode = Mode::Normal;
        self.message = None;
    }

    /// `r` on a completed item, confirmed: the same URL into the same folder, as a new item.
    /// The finished file is never touched: the new download gets a new name (`name (1).ext`)
    /// when it completes, so a failed re-download loses nothing. The old row leaves the list
    /// (its file stays). A URL that had credentials is not re-added: the list keeps it only
    /// with them removed, and downloading that would fail or fetch something else.
    fn redownload(&mut self, id: ItemId) -> Vec<Effect> {
        let Some(row) = self.rows.get(id) else { return Vec::new() };
        let label = row.label().to_string();
        if row.url.contains("***@") {
            self.say(
                Level::Warn,
                format!("{label}: its URL had credentials dlm does not keep; add it again"),
            );
            return Vec::new();
        }
        let request = AddRequest { dir: Some(row.dir.clone()), ..AddRequest::new(row.url.clone()) };
        self.adding.insert(dedup_key(&row.url));
        self.say(Level::Info, format!("downloading {label} again; the finished file stays as it is"));
        vec![Effect::Send(Command::Remove(id)), Effect::Add(request)]
    }

    /// The loop's answer to `Effect::SetFolder`: the folder, made absolute and ready, becomes
    /// the one for new downloads (the header shows it); a problem is said with the box left
    /// open to fix it.
    pub fn folder_checked(&mut self, checked: Result<PathBuf, String>) {
        match checked {
            Ok(dir) => {
                self.mode = Mode::Normal;
                self.say(Level::Info, format!("new downloads go to {}", dir.display()));
                self.download_dir = dir.clone();
                self.chosen_dir = Some(dir);
            }
            Err(why) => self.say(Level::Warn, why),
        }
    }

    /// The loop's answer to `Effect::AddIn`: the URLs go to the checked folder (this add
    /// only; `F` changes the folder for the next ones), or the problem is said with the box
    /// left open.
    pub fn add_in_folder(&mut self, text: &str, checked: Result<PathBuf, String>) -> Vec<Effect> {
        match checked {
            Ok(dir) => {
                self.add_input.clear();
                self.mode = Mode::Normal;
                self.add_text_to(text, Some(dir))
            }
            Err(why) => {
                self.say(Level::Warn, why);
                Vec::new()
            }
        }
    }

    /// Opens the rate-limit box holding the limit in force, ready to be edited.
    pub(super) fn open_limit(&mut self, target: LimitTarget) {
        let current = match target {
            LimitTarget::All => self.rate_limit,
            LimitTarget::Item(id) => self.rows.get(id).and_then(|r| r.limits.rate_limit),
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
                let Some(row) = self.rows.get_mut(id) else { return Vec::new() };
                row.item.limits.rate_limit = limit;
                let text = format!("{}: {shown}", row.label());
                self.say(Level::Info, text);
                vec![Effect::Send(Command::SetItemRateLimit { id, limit })]
            }
        }
    }

    /// A paste: into the text box that is open, else every http(s) URL in it is added.
    pub(super) fn paste(&mut self, text: &str) -> Vec<Effect> {
        match self.mode {
            Mode::Add if self.add_on_folder => self.add_folder.insert_str(text),
            Mode::Add => self.add_input.insert_str(text),
            Mode::Filter => {
                self.filter_input.insert_str(text);
                self.set_filter_from_input();
            }
            Mode::Limit(_) => self.limit_input.insert_str(text),
            Mode::UrlBox(_) => self.url_box_paste(text),
            Mode::Folder => self.folder_input.insert_str(text),
            // A paste is the main way in, so it works from the main view and from harmless
            // overlays alike.
            Mode::Normal | Mode::Help { .. } => {
                self.mode = Mode::Normal;
                return self.add_text(text);
            }
            Mode::ConfirmCancel(_)
            | Mode::ConfirmQuit
            | Mode::ConfirmRemoveFinished(_)
            | Mode::ConfirmRedownload(_) => {}
        }
        Vec::new()
    }

    /// Adds every http(s) URL in a text; reports duplicates (of unfinished items, or of adds
    /// the engine has not confirmed yet) and words that are not URLs.
    pub(super) fn add_text(&mut self, text: &str) -> Vec<Effect> {
        self.add_text_to(text, self.chosen_dir.clone())
    }

    /// The add box's preview line for `text`: what Enter would add, or why it would not.
    pub fn add_preview(text: &str) -> Result<String, String> {
        pasted::preview(text)
    }

    /// `add_text` into a folder (`None`: the engine's default). A URL keeps the checksum
    /// after it (`URL sha256=HEX`); a curl command is one download with its headers and
    /// cookies. A bad checksum or command adds nothing and says why.
    fn add_text_to(&mut self, text: &str, dir: Option<PathBuf>) -> Vec<Effect> {
        let pasted = match pasted::read(text, dir.as_ref()) {
            Ok(pasted) => pasted,
            Err(e) => {
                self.say(Level::Error, e);
                return Vec::new();
            }
        };
        let others = pasted.others;
        let pending: HashSet<&str> =
            self.rows.iter().filter(|r| r.is_pending()).map(|r| r.url.as_str()).collect();
        // A URL already downloaded is not fetched again by a paste (that would only make
        // `name (1).ext`); `r` on its row does it on purpose.
        let done: HashSet<&str> =
            self.rows.iter().filter(|r| r.state == ItemState::Done).map(|r| r.url.as_str()).collect();
        let mut fresh = HashSet::new();
        let mut effects = Vec::new();
        let (mut duplicates, mut had) = (0, 0);
        for request in pasted.requests {
            let key = dedup_key(&request.url);
            if pending.contains(key.as_str()) || self.adding.contains(&key) || fresh.contains(&key) {
                duplicates += 1;
                continue;
            }
            if done.contains(key.as_str()) {
                had += 1;
                continue;
            }
            fresh.insert(key);
            effects.push(Effect::Add(request));
        }
        self.adding.extend(fresh);
        let mut parts = Vec::new();
        match (effects.len(), &pasted.curl) {
            (0, _) => {}
            (1, Some(brings)) => parts.push(format!("added 1 URL from the curl command ({brings})")),
            (1, None) => parts.push("added 1 URL".to_string()),
            (n, _) => parts.push(format!("added {n} URLs")),
        }
        parts.extend(pasted.notices.iter().cloned());
        if duplicates > 0 {
            parts.push(format!("skipped {duplicates} already in the list"));
        }
        if had > 0 {
            parts.push(format!("skipped {had} already downloaded (r on it downloads it again)"));
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
            let quiet = others.is_empty() && duplicates + had == 0 && pasted.notices.is_empty();
            let level = if quiet { Level::Info } else { Level::Warn };
            self.say(level, parts.join("; "));
        }
        effects
    }
}
