//! What a front end does when downloads finish, in one value so wiring it is a few lines:
//! every engine event goes to `Actions::apply` with the item's folded snapshot; it starts the
//! hooks and returns the notification bytes to write to the terminal. `taskbar` sums the
//! items into the tab/taskbar progress. Depends on the engine's message types, `milestones`,
//! `hooks` and `notify`.

use std::io::Write;
use std::sync::{Mutex, Once};

use tokio::sync::mpsc;

use crate::engine::{EngineEvent, ItemSnapshot, ItemState};
use crate::hooks::{HookConfig, HookReport, Hooks};
use crate::milestones::{Milestone, QueueWatch};
use crate::notify::{Notifier, NotifyMode, NotifyOn, Progress};

/// The config file's hooks and notification settings, as a front end needs them.
#[derive(Debug, Clone, Default)]
pub struct ActionsConfig {
    pub hooks: HookConfig,
    pub notify: NotifyMode,
    pub notify_on: NotifyOn,
}

/// Where a front end writes its escape sequences: the TUI to stdout (its screen), `dlm get`
/// to stderr (where its progress goes; stdout stays for data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// Writes and flushes `bytes`; a terminal that went away costs a notification, nothing
    /// more.
    pub fn write(self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let _ = match self {
            Self::Stdout => {
                std::io::stdout().lock().write_all(bytes).and_then(|()| std::io::stdout().flush())
            }
            Self::Stderr => std::io::stderr().lock().write_all(bytes),
        };
    }
}

/// Hooks and notifications, driven by engine events.
pub struct Actions {
    watch: QueueWatch,
    hooks: Hooks,
    notifier: Notifier,
}

impl Actions {
    pub fn new(hooks: Hooks, notifier: Notifier) -> Self {
        Self { watch: QueueWatch::new(), hooks, notifier }
    }

    /// A front end's actions from the config, notifying when `terminal` (the stream the
    /// sequences go to is one) or `notify = "always"`; and the channel hook reports arrive
    /// on. Needs a tokio runtime.
    pub fn start(config: ActionsConfig, terminal: bool) -> (Self, mpsc::Receiver<HookReport>) {
        let (hooks, reports) = Hooks::new(config.hooks);
        let notifier = Notifier::from_env(config.notify, config.notify_on, terminal);
        (Self::new(hooks, notifier), reports)
    }

    /// Whether `event` can matter here: a front end that must copy events to keep them after
    /// its own fold copies only these (never progress).
    pub fn watches(event: &EngineEvent) -> bool {
        QueueWatch::watches(event)
    }

    /// Folds `event`; `item` is the snapshot of the item it is about, already folded with it
    /// (`None` for engine-wide events or an item no longer listed). Starts the hooks it calls
    /// for and returns the bytes to write to the terminal, if any.
    pub fn apply(&mut self, event: &EngineEvent, item: Option<&ItemSnapshot>) -> Vec<u8> {
        let mut out = Vec::new();
        for milestone in self.watch.apply(event) {
            match milestone {
                Milestone::ItemFinished { failed, .. } => {
                    if let Some(item) = item {
                        self.hooks.item_finished(item);
                        out.extend(self.notifier.item_finished(item.label(), failed).unwrap_or_default());
                    }
                }
                Milestone::QueueDone { done, failed } => {
                    self.hooks.queue_done(done, failed);
                    out.extend(self.notifier.queue_done(done, failed).unwrap_or_default());
                }
            }
        }
        out
    }

    /// The taskbar progress for `items`, for terminals that show it (see `taskbar`).
    pub fn progress<'a>(&self, items: impl IntoIterator<Item = &'a ItemSnapshot>) -> Option<Vec<u8>> {
        self.notifier.progress(taskbar(items))
    }

    /// Clears the taskbar progress: on exit, and from the panic hook.
    pub fn clear_progress(&self) -> Option<Vec<u8>> {
        self.notifier.progress(Progress::Clear)
    }

    /// Whether taskbar progress is written at all (notifications on, a terminal that shows it).
    pub fn shows_progress(&self) -> bool {
        self.clear_progress().is_some()
    }

    /// Returns once every hook started has ended (each is killed at its timeout).
    pub async fn hooks_idle(&self) {
        self.hooks.idle().await;
    }

    /// From now on a panic, anywhere, clears the taskbar progress on `stream` before the
    /// panic's own hook runs (a TUI's hook installed later runs first and restores the
    /// screen). Installed once per process; later calls change what is written.
    pub fn clear_progress_on_panic(&self, stream: Stream) {
        static ON_PANIC: Mutex<Option<(Vec<u8>, Stream)>> = Mutex::new(None);
        static HOOK: Once = Once::new();
        let Some(bytes) = self.clear_progress() else { return };
        if let Ok(mut slot) = ON_PANIC.lock() {
            *slot = Some((bytes, stream));
        }
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // try_lock: a panic while the slot is held must not deadlock here.
                if let Ok(slot) = ON_PANIC.try_lock()
                    && let Some((bytes, stream)) = slot.as_ref()
                {
                    stream.write(bytes);
                }
                previous(info);
            }));
        });
    }

    /// dlm is quitting: hooks still running are killed.
    pub fn stop(&self) {
        self.hooks.stop();
    }
}

/// The taskbar state of a queue: cleared when nothing is queued or running; paused when what
/// is left is paused; otherwise the share of known sizes on disk, marked as an error when an
/// item failed, or indeterminate when no running item has a known size.
pub fn taskbar<'a>(items: impl IntoIterator<Item = &'a ItemSnapshot>) -> Progress {
    let (mut bytes, mut total, mut active, mut paused, mut failed, mut sized) =
        (0u64, 0u64, 0, 0, false, false);
    for item in items {
        match item.state {
            ItemState::Failed => failed = true,
            ItemState::Paused => paused += 1,
            ItemState::Queued | ItemState::Connecting | ItemState::Downloading => active += 1,
            ItemState::Done | ItemState::Cancelled => continue,
        }
        if let (Some(t), false) = (item.total, item.state == ItemState::Failed) {
            (bytes, total, sized) = (bytes.saturating_add(item.bytes.min(t)), total.saturating_add(t), true);
        }
    }
    // In u128: a share of sizes near 2^64 must not overflow into nonsense.
    let percent =
        if total == 0 { 0 } else { u8::try_from(u128::from(bytes) * 100 / u128::from(total)).unwrap_or(100) };
    match (active, paused) {
        (0, 0) => Progress::Clear,
        (0, _) => Progress::Paused(percent),
        _ if failed => Progress::Error(percent),
        _ if !sized => Progress::Indeterminate,
        _ => Progress::Normal(percent),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::engine::{ItemId, ItemLimits};

    fn item(state: ItemState, bytes: u64, total: Option<u64>) -> ItemSnapshot {
        let limits = ItemLimits { rate_limit: None, connections: 1 };
        let mut s = ItemSnapshot::new(ItemId(1), "http://h/f", PathBuf::from("/d"), limits);
        (s.state, s.bytes, s.total) = (state, bytes, total);
        s
    }

    #[test]
    fn the_taskbar_sums_known_sizes_and_says_the_state() {
        use ItemState::*;
        assert_eq!(taskbar([]), Progress::Clear);
        assert_eq!(taskbar(&[item(Done, 10, Some(10))]), Progress::Clear);
        let running = [item(Downloading, 30, Some(100)), item(Queued, 0, Some(100)), item(Done, 9, Some(9))];
        assert_eq!(taskbar(&running), Progress::Normal(15));
        assert_eq!(taskbar(&[item(Downloading, 5, None)]), Progress::Indeterminate);
        assert_eq!(taskbar(&[item(Paused, 50, Some(100))]), Progress::Paused(50));
        let with_failure = [item(Downloading, 50, Some(100)), item(Failed, 0, None)];
        assert_eq!(taskbar(&with_failure), Progress::Error(50));
        assert_eq!(taskbar(&[item(Downloading, u64::MAX, Some(u64::MAX))]), Progress::Normal(100));
    }
}
