//! Pause and resume as the person asks for them, applied in order: the last intent wins. A
//! pause takes a moment (a transfer stops between writes), so the row shows "pausing…" at
//! once and the next `p` toggles from what was asked, not from the state still on screen;
//! the engine's event for the item settles it. Part of `App`, pure; depends on the engine's
//! command and event types.

use crate::engine::{Command, ItemState};

use super::row::{Intent, Row};
use super::{App, Effect, Level};

/// What the row shows while an intent waits for the engine, if anything.
pub fn intent_label(row: &Row) -> Option<&'static str> {
    match (row.intent?, row.state) {
        (Intent::Pause, ItemState::Paused) | (Intent::Resume, ItemState::Downloading) => None,
        (Intent::Pause, _) => Some("‖ pausing…"),
        (Intent::Resume, _) => Some("↻ resuming…"),
    }
}

/// Whether a row, counting what was asked and not yet confirmed, is meant to run.
fn meant_to_run(row: &Row) -> Option<bool> {
    match (row.intent, row.state) {
        (_, ItemState::Done | ItemState::Failed | ItemState::Cancelled) => None,
        (Some(intent), _) => Some(intent == Intent::Resume),
        (None, state) => Some(state != ItemState::Paused),
    }
}

impl App {
    /// `p` on the selected row: the opposite of what it is meant to do now.
    pub(super) fn toggle_pause(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected().map(|r| r.id) else { return Vec::new() };
        let Some(row) = self.rows.get_mut(id) else { return Vec::new() };
        let label = row.label().to_string();
        match (meant_to_run(row), row.state) {
            (Some(true), _) => {
                row.intent = Some(Intent::Pause);
                vec![Effect::Send(Command::Pause(id))]
            }
            (Some(false), _) => {
                row.intent = Some(Intent::Resume);
                vec![Effect::Send(Command::Resume(id))]
            }
            (None, ItemState::Done) => {
                self.say(Level::Info, format!("{label} is already done"));
                Vec::new()
            }
            (None, _) => {
                self.say(Level::Info, format!("{label} is not running; r retries it"));
                Vec::new()
            }
        }
    }

    /// `P` or `R`: every unfinished row is meant to pause (or run) from now on.
    pub(super) fn pause_all(&mut self, pause: bool) -> Vec<Effect> {
        let intent = if pause { Intent::Pause } else { Intent::Resume };
        for row in self.rows.iter_mut() {
            if meant_to_run(row) == Some(pause) {
                row.intent = Some(intent);
            }
        }
        if pause {
            self.say(Level::Info, "pausing everything (R resumes)");
            vec![Effect::Send(Command::PauseAll)]
        } else {
            self.say(Level::Info, "resuming everything");
            vec![Effect::Send(Command::ResumeAll)]
        }
    }
}
