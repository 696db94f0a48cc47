//! The saver of a running session: a task that owns the `QueueModel`, folds what the front end
//! sends it, writes the queue file (debounced, atomically, off the async threads) and publishes
//! the listing `dlm ls` shows. Depends on tokio and the rest of `state`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::{AddRequest, EngineEvent, ItemId};

use super::{Change, ListedItem, QueueModel, SavedItem, StateError, StateStore};

/// When to write next: soon after a state change, at most every `progress_every` for progress
/// alone. Pure (the caller passes the clock), so the policy is tested without sleeping.
#[derive(Debug, Clone)]
pub struct Debounce {
    state_delay: Duration,
    progress_every: Duration,
    last_write: Option<Instant>,
    deadline: Option<Instant>,
}

impl Debounce {
    pub fn new(state_delay: Duration, progress_every: Duration) -> Self {
        Self { state_delay, progress_every, last_write: None, deadline: None }
    }

    /// Notes a change at `now`; returns the time the next write is due, if any.
    pub fn mark(&mut self, change: Change, now: Instant) -> Option<Instant> {
        let due = match change {
            Change::None => return self.deadline,
            // A burst of adds is written once, shortly after the first.
            Change::State => now + self.state_delay,
            Change::Progress => self.last_write.map_or(now, |t| t + self.progress_every).max(now),
        };
        self.deadline = Some(self.deadline.map_or(due, |d| d.min(due)));
        self.deadline
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn is_dirty(&self) -> bool {
        self.deadline.is_some()
    }

    pub fn written(&mut self, now: Instant) {
        self.last_write = Some(now);
        self.deadline = None;
    }
}

enum PersistMsg {
    Track(ItemId, AddRequest),
    Event(EngineEvent),
}

/// The saved queue of a running session: a task that owns the `QueueModel`, folds what it is
/// sent, writes the file (debounced, atomically, off the async threads) and publishes the
/// listing `dlm ls` shows. The front end forwards engine events and new items to it.
pub struct Persister {
    tx: mpsc::Sender<PersistMsg>,
    listing: watch::Receiver<Vec<ListedItem>>,
    task: JoinHandle<Result<(), StateError>>,
}

/// Defaults for the TUI: a state change is on disk within a quarter second, progress within
/// two seconds, which bounds what `kill -9` can lose.
pub const STATE_SAVE_DELAY: Duration = Duration::from_millis(250);
pub const PROGRESS_SAVE_EVERY: Duration = Duration::from_secs(2);

/// Messages that may wait for the saver. A front end that outruns it (100,000 URLs arriving
/// through the control socket) waits for room instead of piling messages up in memory; the
/// saver folds while a write runs, so in practice it only waits during such floods.
pub const PERSIST_CHANNEL: usize = 8192;

impl Persister {
    /// Starts the task on the current runtime. `default_dir` is where items without a folder
    /// go (made absolute here, so a restart from another folder finds them). `restored` are
    /// the items of the saved queue under their new engine ids (`Restore::saved`), handed over
    /// at once rather than message by message.
    pub fn spawn(
        store: StateStore,
        default_dir: &Path,
        mut debounce: Debounce,
        restored: Vec<(ItemId, SavedItem)>,
    ) -> Persister {
        let default_dir = std::path::absolute(default_dir).unwrap_or_else(|_| default_dir.to_path_buf());
        let mut model = QueueModel::new();
        // Saved with the queue so that a relative folder, should one ever be written, is read
        // back against the folder it meant (see `resolve_folders`).
        model.start_dir = std::env::current_dir().ok();
        for (id, item) in restored {
            // Restoring may have changed items (folders made absolute, running ones queued).
            debounce.mark(model.track_saved(id, item), Instant::now());
        }
        let (tx, rx) = mpsc::channel(PERSIST_CHANNEL);
        let (listing_tx, listing) = watch::channel(model.listing());
        let task = tokio::spawn(persist_task(store, default_dir, model, debounce, rx, listing_tx));
        Persister { tx, listing, task }
    }

    /// Records an item just given to `EngineHandle::add` (the full URL and folder). Waits only
    /// while the saver is `PERSIST_CHANNEL` messages behind.
    pub async fn track(&self, id: ItemId, request: &AddRequest) {
        let _ = self.tx.send(PersistMsg::Track(id, request.clone())).await;
    }

    /// Forwards an engine event. State changes wait for room like `track`; progress, which
    /// carries absolute counts, is dropped when the saver is behind (the next one says more).
    pub async fn event(&self, event: &EngineEvent) {
        let msg = PersistMsg::Event(event.clone());
        if matches!(event, EngineEvent::Progress { .. }) {
            let _ = self.tx.try_send(msg);
        } else {
            let _ = self.tx.send(msg).await;
        }
    }

    /// The live listing for `dlm ls` (give it to the control server).
    pub fn listing(&self) -> watch::Receiver<Vec<ListedItem>> {
        self.listing.clone()
    }

    /// Writes what is pending and ends the task. Call after the engine has stopped.
    pub async fn shutdown(self) -> Result<(), StateError> {
        drop(self.tx);
        self.task.await.unwrap_or_else(|e| Err(stopped("the queue saver stopped", e)))
    }
}

fn stopped(what: &'static str, e: tokio::task::JoinError) -> StateError {
    StateError::Io { what, path: PathBuf::new(), source: io::Error::other(e.to_string()) }
}

/// Messages folded before the listing is rebuilt and the save deadline looked at again.
const PERSIST_BATCH: usize = 4096;

type Write = JoinHandle<Result<(), StateError>>;

async fn persist_task(
    store: StateStore,
    default_dir: PathBuf,
    mut model: QueueModel,
    mut debounce: Debounce,
    mut rx: mpsc::Receiver<PersistMsg>,
    listing_tx: watch::Sender<Vec<ListedItem>>,
) -> Result<(), StateError> {
    let mut last_error: Option<String> = None;
    // One write at a time (they share a temp file); what changes meanwhile goes in the next.
    // Folding goes on while a write runs, so a large queue being written never holds up the
    // front end's sends.
    let mut writing: Option<Write> = None;
    loop {
        let deadline = if writing.is_some() { None } else { debounce.deadline() };
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                fold(msg, &mut rx, &mut model, &default_dir, &mut debounce, &listing_tx);
            }
            () = sleep_until_opt(deadline) => {
                writing = Some(start_write(&store, &model));
                debounce.written(Instant::now());
                // Progress reaches `dlm ls` with each save (at most two seconds late).
                listing_tx.send_replace(model.listing());
            }
            result = join_opt(&mut writing) => {
                writing = None;
                last_error = result.err().map(|e| e.to_string());
            }
        }
    }
    if let Some(write) = writing {
        last_error =
            write.await.unwrap_or_else(|e| Err(stopped("saving the queue", e))).err().map(|e| e.to_string());
    }
    if debounce.is_dirty() || last_error.is_some() {
        return start_write(&store, &model).await.unwrap_or_else(|e| Err(stopped("saving the queue", e)));
    }
    Ok(())
}

/// Folds `msg` and whatever is already waiting, then refreshes the listing once. A rebuild
/// costs the whole queue, and one per event made a long queue quadratic (quitting a UI with
/// 1,000 finished items took 41 s while this task caught up).
fn fold(
    msg: PersistMsg,
    rx: &mut mpsc::Receiver<PersistMsg>,
    model: &mut QueueModel,
    default_dir: &Path,
    debounce: &mut Debounce,
    listing_tx: &watch::Sender<Vec<ListedItem>>,
) {
    let mut listing_stale = false;
    let mut next = Some(msg);
    let mut folded = 0;
    while let Some(msg) = next {
        let change = match msg {
            PersistMsg::Track(id, request) => model.track(id, &request, default_dir),
            PersistMsg::Event(event) => model.apply(&event),
        };
        debounce.mark(change, Instant::now());
        listing_stale |= change == Change::State;
        folded += 1;
        next = if folded < PERSIST_BATCH { rx.try_recv().ok() } else { None };
    }
    // Progress in the listing waits for the next save; state changes show as soon as the batch
    // is folded.
    if listing_stale {
        listing_tx.send_replace(model.listing());
    }
}

/// Saves a snapshot on the blocking pool, so neither the fsync nor encoding a long queue
/// stalls the runtime's threads. A failed save (disk full) is tried again at shutdown, whose
/// result the caller sees.
fn start_write(store: &StateStore, model: &QueueModel) -> Write {
    let snapshot = model.snapshot();
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.save(&snapshot))
}

/// The result of the write in progress; never ready when there is none.
async fn join_opt(writing: &mut Option<Write>) -> Result<(), StateError> {
    match writing {
        Some(write) => write.await.unwrap_or_else(|e| Err(stopped("saving the queue", e))),
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_writes_state_soon_and_progress_rarely() {
        let t0 = Instant::now();
        let s = Duration::from_millis(250);
        let p = Duration::from_secs(2);
        let mut d = Debounce::new(s, p);
        assert_eq!(d.mark(Change::None, t0), None);
        assert_eq!(d.mark(Change::State, t0), Some(t0 + s));
        assert_eq!(d.mark(Change::State, t0 + Duration::from_millis(100)), Some(t0 + s), "bursts coalesce");
        d.written(t0 + s);
        assert_eq!(d.mark(Change::Progress, t0 + s), Some(t0 + s + p));
        assert_eq!(d.mark(Change::State, t0 + s), Some(t0 + s + s), "a state change pulls the write in");
        d.written(t0 + s + s);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(d.mark(Change::Progress, later), Some(later), "long quiet: write progress at once");
    }
}
