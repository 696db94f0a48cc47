//! The UI's hooks and terminal notifications: each session event goes to `Actions` with the
//! item as the `App` folded it; the notification and taskbar bytes wait here until the loop
//! writes them between frames (never inside one: ratatui's frame and these share stdout);
//! hook outcomes arrive on `reports` for the message line. Depends on `actions` and the app
//! model.

use std::io::Write;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::actions::{Actions, ActionsConfig, Stream};
use crate::engine::EngineEvent;
use crate::hooks::HookReport;

use super::app::App;

pub struct Signals {
    actions: Actions,
    /// Hook outcomes, for the message line.
    pub reports: mpsc::Receiver<HookReport>,
    /// Bytes to write at the next chance.
    pending: Vec<u8>,
    /// The taskbar sequence last written, so an unchanged state is not written again.
    taskbar: Option<Vec<u8>>,
}

impl Signals {
    /// Starts the hooks runner; a panic from here on clears the taskbar progress. The UI runs
    /// only on a terminal, so `notify = "auto"` is on.
    pub fn start(config: ActionsConfig) -> Self {
        let (actions, reports) = Actions::start(config, true);
        actions.clear_progress_on_panic(Stream::Stdout);
        Self { actions, reports, pending: Vec::new(), taskbar: None }
    }

    /// Folds `event` into the app, then lets hooks and notifications see it with the item as
    /// folded. Only events the queue watch reads are copied, never progress.
    pub fn apply(&mut self, app: &mut App, event: EngineEvent, now: Instant) {
        let watched = Actions::watches(&event).then(|| event.clone());
        app.apply(event, now);
        if let Some(event) = watched {
            let item = event.item().and_then(|id| app.row(id)).map(|r| &r.item);
            self.pending.extend(self.actions.apply(&event, item));
        }
    }

    /// Samples the taskbar progress of the whole queue (the loop calls this on its tick).
    pub fn tick(&mut self, app: &App) {
        if !self.actions.shows_progress() {
            return;
        }
        let now = self.actions.progress(app.items());
        if now != self.taskbar {
            self.pending.extend(now.iter().flatten());
            self.taskbar = now;
        }
    }

    /// Writes what waits to `out` (the terminal's stdout, between frames) and flushes.
    pub fn flush(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        out.write_all(&self.pending)?;
        self.pending.clear();
        out.flush()
    }

    /// The UI is closing: kills hooks still running and clears the taskbar progress (after
    /// the screen was restored).
    pub fn finish(self) {
        self.actions.stop();
        Stream::Stdout.write(&self.actions.clear_progress().unwrap_or_default());
    }
}
