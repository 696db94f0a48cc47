//! What the main view's named key actions do to the UI's model: moving, opening dialogs,
//! pausing, cancelling, retrying, removing, and changing the worker cap and an item's
//! connections. Part of `App`, pure like the rest of it; depends on the engine's command types.

use crate::engine::{Command, ItemState, MAX_CONNECTIONS, MAX_WORKERS};
use crate::tui::keys::KeyAction;

use super::{App, Effect, Level, LimitTarget, Mode};

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
            KeyAction::Top => self.select_first(),
            KeyAction::Bottom => self.select_last(),
            KeyAction::Add => {
                // The folder field starts at the current folder each time; the URLs keep
                // their draft.
                self.add_folder.clear();
                self.add_folder.insert_str(&self.download_dir.display().to_string());
                self.add_on_folder = false;
                self.mode = Mode::Add;
            }
            KeyAction::Filter => {
                // The filter in force comes back selected: typing replaces it, a move edits it.
                self.filter_input.select_all();
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
            KeyAction::RefreshUrl => self.open_url_box(),
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
                    self.say(Level::Info, finished_hint(&label, state));
                    return Vec::new();
                }
                let Some(row) = self.rows.get_mut(id) else { return Vec::new() };
                let n = step(row.limits.connections, action == KeyAction::ConnectionsUp, MAX_CONNECTIONS);
                if n == row.limits.connections {
                    self.say(Level::Info, format!("{label} already uses {n} (1–{MAX_CONNECTIONS})"));
                    return Vec::new();
                }
                // Shown at once, like the worker cap; the engine confirms with ItemLimitsChanged.
                row.item.limits.connections = n;
                let plural = if n == 1 { "connection" } else { "connections" };
                let note =
                    if row.is_active() { " (continues from its .part with the new count)" } else { "" };
                self.say(Level::Info, format!("{label}: {n} {plural}{note}"));
                return vec![Effect::Send(Command::SetItemConnections { id, connections: n })];
            }
            KeyAction::PauseAll => return self.pause_all(true),
            KeyAction::ResumeAll => return self.pause_all(false),
            KeyAction::TogglePause => return self.toggle_pause(),
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
                match state {
                    ItemState::Failed | ItemState::Cancelled => {
                        return vec![Effect::Send(Command::Retry(id))];
                    }
                    ItemState::Done => self.mode = Mode::ConfirmRedownload(id),
                    _ => self.say(Level::Info, format!("{label} has not finished; nothing to retry")),
                }
            }
            KeyAction::Remove => {
                let Some((id, state, label)) = selected else { return Vec::new() };
                if state.is_terminal() {
                    let note = if state == ItemState::Done { " (the file stays)" } else { "" };
                    self.say(Level::Info, format!("removed {label} from the list{note}"));
                    return vec![Effect::Send(Command::Remove(id))];
                }
                self.say(Level::Info, format!("{label} is not finished; c cancels it first"));
            }
            KeyAction::Sort | KeyAction::NextFailed | KeyAction::NextRunning => self.view_key(action),
            KeyAction::RemoveFinished => {
                let done: Vec<_> =
                    self.rows.iter().filter(|r| r.state == ItemState::Done).map(|r| r.id).collect();
                if done.is_empty() {
                    self.say(Level::Info, "no completed transfers to remove");
                } else {
                    self.mode = Mode::ConfirmRemoveFinished(done);
                }
            }
            KeyAction::RetryFailed => {
                let failed: Vec<_> =
                    self.rows.iter().filter(|r| r.state == ItemState::Failed).map(|r| r.id).collect();
                if failed.is_empty() {
                    self.say(Level::Info, "no failed transfers to retry");
                    return Vec::new();
                }
                self.say(Level::Info, format!("retrying {}", count(failed.len(), "failed transfer")));
                return failed.into_iter().map(|id| Effect::Send(Command::Retry(id))).collect();
            }
            KeyAction::DownloadFolder => {
                self.folder_input.clear();
                self.folder_input.insert_str(&self.download_dir.display().to_string());
                self.folder_input.select_all();
                self.mode = Mode::Folder;
            }
            KeyAction::OpenFile | KeyAction::OpenFolder | KeyAction::CopyUrl | KeyAction::CopyPath => {
                return self.desktop(action);
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
}

/// What `r` does to a finished item, for the keys that do not apply to one: the same words
/// whichever key was pressed.
pub(super) fn finished_hint(label: &str, state: ItemState) -> String {
    if state == ItemState::Done {
        format!("{label} is done; r downloads it again")
    } else {
        format!("{label} is finished; r retries it first")
    }
}

/// `3 failed transfers`, `1 failed transfer`.
pub(super) fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// One step up or down, staying within `1..=max`.
fn step(current: usize, up: bool, max: usize) -> usize {
    if up { (current + 1).min(max) } else { current.saturating_sub(1).max(1) }
}
