//! Keeping the saved queue in step with the session's model, writing only what changed: items
//! whose saved record changed (`Change::Saved`) are marked, and a quarter second after the
//! first mark their records go to the journal in one append (one fdatasync), on the blocking
//! pool, while the session goes on. Progress is never written: the bytes are on disk in the
//! `.part` and its sidecar, which is what a restore reads. The snapshot is rewritten once the
//! restored queue is back in the engine (start-up compaction), and whenever the journal has
//! grown past it. The worker count and global rate limit are saved too (a settings record),
//! once the person changes them, so they come back at the next start. Depends on `state` and
//! the session's model.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::{
    Change, EngineEvent, ItemId, ItemLimits, ItemSnapshot, RestoreAs, str_without_credentials,
};
use crate::state::{ItemRecord, JournalOp, Settings, StateError, StateStore, encode_op, encode_snapshot};

use super::model::Model;

/// A state change is on disk this long after it happened, at most (plus the write itself);
/// a burst of changes in that time is one append.
pub const SAVE_DELAY: Duration = Duration::from_millis(250);
/// After a failed write (a full disk), the next try waits this long.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// The journal is folded into a new snapshot once it is larger than this and the snapshot.
const COMPACT_FLOOR: u64 = 1 << 20;

/// A write on the blocking pool: what it was, and its result.
enum Write {
    /// Journal lines for these items (and the settings, when `true`); the journal's new length.
    Append(Vec<ItemId>, bool, JoinHandle<Result<u64, StateError>>),
    /// A new snapshot of this many bytes.
    Compact(u64, JoinHandle<Result<(), StateError>>),
}

pub struct Saver {
    store: StateStore,
    /// Restored items whose restore events have not all arrived, and whether one more than
    /// `Added` is to come (a paused, finished, failed or cancelled item reports that state
    /// next). Until they have, the model does not hold their saved state: they are written
    /// neither to the journal nor to a snapshot.
    restoring: HashMap<ItemId, bool>,
    /// Items whose records changed since they were last written.
    dirty: BTreeSet<ItemId>,
    /// When the next journal append is due.
    due: Option<Instant>,
    /// Since when a new snapshot is wanted (it is written as soon as the model is complete).
    compact: Option<Instant>,
    writing: Option<Write>,
    journal_len: u64,
    snapshot_len: u64,
    /// The URLs with their `user:password@`, for items that had them, when the config's
    /// `save_credentials` keeps them on disk (the engine's snapshots never hold them).
    secrets: HashMap<ItemId, String>,
    defaults: ItemLimits,
    start_dir: Option<PathBuf>,
    /// The worker count and global rate limit the engine runs with now.
    settings: Settings,
    /// Whether the saved queue keeps them: only once the person changed them (or an earlier
    /// session saved them), so a fresh queue goes on following the config.
    keep_settings: bool,
    settings_dirty: bool,
}

impl Saver {
    /// `journal_len` is what loading found; the snapshot is rewritten once every restored
    /// item is back. `settings` are what the engine starts with (its first `WorkersChanged`
    /// and `RateLimitChanged` say the same, and are no change); `saved` whether they came
    /// from the saved queue.
    pub fn new(
        store: StateStore,
        journal_len: u64,
        defaults: ItemLimits,
        settings: Settings,
        saved: bool,
    ) -> Self {
        Self {
            store,
            restoring: HashMap::new(),
            dirty: BTreeSet::new(),
            due: None,
            compact: Some(Instant::now()),
            writing: None,
            journal_len,
            snapshot_len: 0,
            secrets: HashMap::new(),
            defaults,
            // Saved with the queue, so that a relative folder (should one ever be written) is
            // read back against the folder it meant (see `resolve_folders`).
            start_dir: std::env::current_dir().ok(),
            settings,
            keep_settings: saved,
            settings_dirty: false,
        }
    }

    /// Notes a restored item, before the engine is told about it.
    pub fn restoring(&mut self, id: ItemId, state: &RestoreAs, url: &str) {
        self.restoring.insert(id, *state != RestoreAs::Queued);
        self.remember_url(id, url);
    }

    /// Notes the URL an item was added with, in case it carries credentials to keep.
    pub fn remember_url(&mut self, id: ItemId, url: &str) {
        if self.store.saves_credentials() && str_without_credentials(url) != url {
            self.secrets.insert(id, url.to_string());
        }
    }

    /// Notes what an event folded into the model changed.
    pub fn observe(&mut self, event: &EngineEvent, change: Change, now: Instant) {
        let settings = match *event {
            EngineEvent::WorkersChanged { cap } => Settings { workers: cap, ..self.settings },
            EngineEvent::RateLimitChanged { limit } => Settings { rate_limit: limit, ..self.settings },
            _ => self.settings,
        };
        if settings != self.settings {
            self.settings = settings;
            self.keep_settings = true;
            self.settings_dirty = true;
            self.due.get_or_insert(now + SAVE_DELAY);
        }
        let Some(id) = event.item() else { return };
        if let Some(more) = self.restoring.get_mut(&id) {
            if *more && matches!(event, EngineEvent::Added { .. }) {
                *more = false;
            } else {
                self.restoring.remove(&id);
            }
        }
        if matches!(event, EngineEvent::Removed { .. }) {
            self.secrets.remove(&id);
        }
        if change == Change::Saved {
            self.dirty.insert(id);
            self.due.get_or_insert(now + SAVE_DELAY);
        }
    }

    /// When the next write should start: never while one runs, nor before there is something
    /// to write.
    pub fn due(&self) -> Option<Instant> {
        if self.writing.is_some() {
            return None;
        }
        if let Some(since) = self.compact.filter(|_| self.restoring.is_empty()) {
            return Some(self.due.map_or(since, |due| due.min(since)));
        }
        if self.settings_dirty || self.dirty.iter().any(|id| !self.restoring.contains_key(id)) {
            self.due
        } else {
            None
        }
    }

    /// Starts the write that is due: a new snapshot when one is wanted and the model is
    /// complete, else the changed records as journal lines.
    pub fn start_write(&mut self, model: &Model) {
        self.due = None;
        if self.compact.is_some() && self.restoring.is_empty() {
            self.compact = None;
            self.dirty.clear();
            self.settings_dirty = false;
            let settings = self.keep_settings.then_some(self.settings);
            let records = model.items().map(|i| self.record(i));
            let bytes = encode_snapshot(self.start_dir.as_ref(), model.next_id(), settings, records);
            let store = self.store.clone();
            let len = bytes.len() as u64;
            self.writing =
                Some(Write::Compact(len, tokio::task::spawn_blocking(move || store.write_snapshot(&bytes))));
            return;
        }
        let ids: Vec<ItemId> =
            self.dirty.iter().copied().filter(|id| !self.restoring.contains_key(id)).collect();
        let mut lines = Vec::new();
        let settings = std::mem::take(&mut self.settings_dirty);
        if settings {
            lines.extend(encode_op(&JournalOp::Settings(self.settings)));
        }
        for id in &ids {
            self.dirty.remove(id);
            let op = match model.get(*id) {
                Some(item) => JournalOp::Put(self.record(item)),
                None => JournalOp::Del(id.0),
            };
            lines.extend(encode_op(&op));
        }
        let (store, at) = (self.store.clone(), self.journal_len);
        self.writing =
            Some(Write::Append(ids, settings, tokio::task::spawn_blocking(move || store.append(&lines, at))));
    }

    /// Waits for the write in progress; never ready when there is none. Returns why it failed.
    pub async fn written(&mut self) -> Option<StateError> {
        let result = match self.writing.as_mut() {
            None => return std::future::pending().await,
            Some(Write::Append(_, _, task)) => task.await.map(|r| r.map(Some)),
            Some(Write::Compact(_, task)) => task.await.map(|r| r.map(|()| None)),
        };
        let write = self.writing.take()?;
        let result = result.unwrap_or_else(|e| Err(stopped(e)));
        match (write, result) {
            (Write::Append(..), Ok(Some(len))) => {
                self.journal_len = len;
                if len > COMPACT_FLOOR.max(self.snapshot_len) {
                    self.compact = Some(Instant::now());
                }
                None
            }
            (Write::Compact(len, _), Ok(_)) => {
                self.snapshot_len = len;
                self.journal_len = 0;
                None
            }
            (write, Err(e)) => {
                // Nothing is lost: the records are written again with the next try.
                match write {
                    Write::Append(ids, settings, _) => {
                        self.dirty.extend(ids);
                        self.settings_dirty |= settings;
                    }
                    Write::Compact(..) => self.compact = Some(Instant::now() + RETRY_DELAY),
                }
                self.due = Some(Instant::now() + RETRY_DELAY);
                Some(e)
            }
            (_, Ok(_)) => None,
        }
    }

    /// Writes what is pending, at the end of the session: a snapshot if the model is complete
    /// and one is wanted, else the changed records (items still restoring keep what the files
    /// say about them, since the engine may never have taken them back).
    pub async fn finish(mut self, model: &Model) -> Result<(), StateError> {
        let mut last = None;
        if self.writing.is_some() {
            last = self.written().await;
        }
        if self.due().is_some() || last.is_some() {
            self.start_write(model);
            last = self.written().await;
        }
        last.map_or(Ok(()), Err)
    }

    /// The record the saved queue keeps for an item: limits only when the item has its own,
    /// and the URL without credentials unless the config keeps them.
    fn record(&self, item: &ItemSnapshot) -> ItemRecord {
        let mut record = ItemRecord::of(item, self.defaults);
        // Matched again at restore time (see `rules`).
        record.rule = None;
        // Measured again when the download runs again (see `ItemRecord::connections`).
        record.connections = None;
        record.url = match self.secrets.get(&item.id) {
            Some(url) => url.clone(),
            None => str_without_credentials(&item.url),
        };
        record
    }
}

fn stopped(e: tokio::task::JoinError) -> StateError {
    StateError::Io {
        what: "the queue writer stopped",
        path: PathBuf::new(),
        source: std::io::Error::other(e.to_string()),
    }
}
