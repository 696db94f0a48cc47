//! The saved queue: a versioned JSON file in the platform data folder that lets the queue
//! survive restarts and `kill -9`. Holds the file format, the pure fold that keeps it up to
//! date from `EngineEvent`s, atomic saving with a debounce, the lock that keeps a second dlm
//! off the same state, and the plan that turns a saved queue back into engine commands.
//! Depends on the engine's message types and std/tokio/serde; never on a front end.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::{
    AddRequest, EngineEvent, ItemId, ItemLimits, RestoreAs, ResumeHint, naming, redact_str,
    str_without_credentials,
};

/// Format version written into the file. Bump it when old readers would misread new files.
pub const STATE_VERSION: u32 = 1;
/// Overrides the folder dlm keeps its queue (and, unless `DLM_RUNTIME_DIR` is set, its
/// control socket) in, so tests and people can keep separate queues.
pub const STATE_DIR_ENV: &str = "DLM_STATE_DIR";
pub const QUEUE_FILE: &str = "queue.json";
pub const LOCK_FILE: &str = "dlm.lock";
/// A state file larger than this is not ours (a queue of 100 000 items is a few tens of MB).
const MAX_STATE_BYTES: u64 = 256 << 20;

/// The whole saved queue, in the order items were added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQueue {
    pub version: u32,
    pub items: Vec<SavedItem>,
}

impl Default for SavedQueue {
    fn default() -> Self {
        Self { version: STATE_VERSION, items: Vec::new() }
    }
}

/// One download as saved. Unknown fields are ignored so a minor addition in a later dlm of
/// the same format version does not make the file unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedItem {
    /// The URL without any `user:password@`: `StateStore::save` removes credentials, so a
    /// secret typed into a URL never rests on disk (a restored item that needed them fails
    /// with the server's 401 and can be added again with them), unless the person set
    /// `save_credentials = true` in the config.
    pub url: String,
    /// Destination folder, absolute.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Final file name, once the server answered.
    #[serde(default)]
    pub file_name: Option<String>,
    pub state: SavedState,
    /// ETag or Last-Modified guarding the `.part` bytes.
    #[serde(default)]
    pub validator: Option<String>,
    #[serde(default)]
    pub total: Option<u64>,
    /// Bytes on disk when last saved.
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub error: Option<String>,
    /// The item's own rate limit and connection count, when the person changed them (in the
    /// TUI); absent means the engine's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<SavedLimits>,
}

/// An item's own limits as saved. Kept apart from the engine's `ItemLimits` so the engine
/// needs no serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLimits {
    /// Bytes per second; absent is unlimited.
    #[serde(default)]
    pub rate_limit: Option<u64>,
    pub connections: usize,
}

impl From<SavedLimits> for ItemLimits {
    fn from(l: SavedLimits) -> Self {
        ItemLimits { rate_limit: l.rate_limit, connections: l.connections }
    }
}

impl SavedItem {
    pub fn new(url: impl Into<String>, dir: Option<PathBuf>) -> Self {
        Self {
            url: url.into(),
            dir,
            file_name: None,
            state: SavedState::Queued,
            validator: None,
            total: None,
            bytes: 0,
            error: None,
            limits: None,
        }
    }

    /// Where the finished file is (or will be), when the name is known.
    pub fn path(&self) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(self.file_name.as_ref()?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SavedState {
    Queued,
    /// Connecting or downloading when saved; restored as queued, continuing from its `.part`.
    Running,
    Paused,
    Done,
    Failed,
    Cancelled,
}

impl SavedState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What an event changed, so saving can be quick for state changes and lazy for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    None,
    Progress,
    State,
}

/// The saved-queue model of a running session, kept up to date by folding engine events.
/// Pure: no I/O, no clock.
#[derive(Debug, Clone, Default)]
pub struct QueueModel {
    items: BTreeMap<ItemId, SavedItem>,
}

impl QueueModel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an item just given to the engine. Call it right after `EngineHandle::add`: the
    /// `Added` event carries the URL without credentials, and the folder is only known here.
    /// `default_dir` is the engine's folder for items that name none; pass it absolute.
    pub fn track(&mut self, id: ItemId, request: &AddRequest, default_dir: &Path) -> Change {
        let dir = request.dir.clone().unwrap_or_else(|| default_dir.to_path_buf());
        let mut item = SavedItem::new(request.url.clone(), Some(dir));
        if let Some(hint) = &request.resume {
            item.file_name = Some(hint.file_name.clone());
            item.validator.clone_from(&hint.validator);
            item.total = hint.total;
        }
        self.items.insert(id, item);
        Change::State
    }

    /// Records an item restored from a saved queue under its new engine id.
    pub fn track_saved(&mut self, id: ItemId, item: SavedItem) -> Change {
        self.items.insert(id, item);
        Change::State
    }

    /// Folds one engine event into the model.
    pub fn apply(&mut self, event: &EngineEvent) -> Change {
        if let EngineEvent::Added { id, url } = event {
            // Known from `track` already (with the full URL); otherwise keep what we are told.
            if !self.items.contains_key(id) {
                self.items.insert(*id, SavedItem::new(url.clone(), None));
                return Change::State;
            }
            return Change::None;
        }
        if let EngineEvent::Removed { id } = event {
            return if self.items.remove(id).is_some() { Change::State } else { Change::None };
        }
        let Some(item) = event.item().and_then(|id| self.items.get_mut(&id)) else { return Change::None };
        let set_state = |item: &mut SavedItem, state: SavedState| {
            let changed = item.state != state;
            item.state = state;
            if changed { Change::State } else { Change::None }
        };
        match event {
            EngineEvent::Connecting { .. } | EngineEvent::Retrying { .. } => {
                item.error = None;
                set_state(item, SavedState::Running)
            }
            EngineEvent::Started { info, .. } => {
                item.file_name = Some(info.name.clone());
                item.dir = info.path.parent().map(Path::to_path_buf).or(item.dir.take());
                item.total = info.total;
                item.validator.clone_from(&info.validator);
                item.bytes = info.offset;
                item.state = SavedState::Running;
                Change::State
            }
            EngineEvent::Progress { bytes, .. } => {
                if item.bytes == *bytes {
                    return Change::None;
                }
                item.bytes = *bytes;
                Change::Progress
            }
            EngineEvent::Paused { bytes, .. } => {
                item.bytes = *bytes;
                item.state = SavedState::Paused;
                Change::State
            }
            EngineEvent::Queued { .. } => {
                item.error = None;
                set_state(item, SavedState::Queued)
            }
            EngineEvent::Completed { path, bytes, .. } => {
                item.file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                item.dir = path.parent().map(Path::to_path_buf).or(item.dir.take());
                item.bytes = *bytes;
                item.total = item.total.or(Some(*bytes));
                item.state = SavedState::Done;
                item.error = None;
                Change::State
            }
            EngineEvent::Failed { error, .. } => {
                item.error = Some(error.clone());
                item.state = SavedState::Failed;
                Change::State
            }
            EngineEvent::Cancelled { .. } => set_state(item, SavedState::Cancelled),
            EngineEvent::ItemLimitsChanged { rate_limit, connections, .. } => {
                let limits = Some(SavedLimits { rate_limit: *rate_limit, connections: *connections });
                if item.limits == limits {
                    return Change::None;
                }
                item.limits = limits;
                Change::State
            }
            EngineEvent::Added { .. }
            | EngineEvent::Removed { .. }
            | EngineEvent::WorkersChanged { .. }
            | EngineEvent::RateLimitChanged { .. }
            | EngineEvent::Stopped => Change::None,
        }
    }

    /// The file contents for this model.
    pub fn snapshot(&self) -> SavedQueue {
        SavedQueue { version: STATE_VERSION, items: self.items.values().cloned().collect() }
    }

    /// What `dlm ls` shows: every item with its engine id, URLs without credentials.
    pub fn listing(&self) -> Vec<ListedItem> {
        self.items.iter().map(|(id, item)| ListedItem::new(Some(id.0), item)).collect()
    }

    pub fn get(&self, id: ItemId) -> Option<&SavedItem> {
        self.items.get(&id)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One row of `dlm ls` (and of `dlm ls --json`). Safe to show: no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedItem {
    /// The running dlm's id for the item; absent when read from the saved file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub url: String,
    pub name: Option<String>,
    pub dir: Option<PathBuf>,
    pub state: SavedState,
    pub bytes: u64,
    pub total: Option<u64>,
    pub error: Option<String>,
}

impl ListedItem {
    pub fn new(id: Option<u64>, item: &SavedItem) -> Self {
        Self {
            id,
            url: redact_str(&item.url),
            name: item.file_name.clone(),
            dir: item.dir.clone(),
            state: item.state,
            bytes: item.bytes,
            total: item.total,
            error: item.error.clone(),
        }
    }
}

/// One saved item turned back into an engine command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub request: AddRequest,
    pub state: RestoreAs,
    /// The item's own limits, for `EngineHandle::restore_with_limits`.
    pub limits: Option<ItemLimits>,
    /// What to give `QueueModel::track_saved` under the new id.
    pub saved: SavedItem,
}

/// Plans the restore of a saved queue: running items continue as queued, and every item with
/// a `.part` on disk gets a `ResumeHint` so the engine continues it with a validated resume
/// (`If-Range`) instead of starting over. Reads the file system to find `.part` files.
pub fn restore_plan(queue: &SavedQueue) -> Vec<Restore> {
    queue
        .items
        .iter()
        .map(|item| {
            let mut saved = item.clone();
            let part = saved.path().map(|p| naming::part_path(&p));
            let part_len = part.as_deref().and_then(|p| {
                let meta = fs::symlink_metadata(p).ok()?;
                meta.file_type().is_file().then_some(meta.len())
            });
            let resume = match (saved.state, &saved.file_name, part_len) {
                (SavedState::Done, ..) => None,
                (_, Some(file_name), Some(_)) => Some(ResumeHint {
                    file_name: file_name.clone(),
                    validator: saved.validator.clone(),
                    total: saved.total,
                }),
                _ => None,
            };
            let state = match saved.state {
                SavedState::Queued | SavedState::Running => RestoreAs::Queued,
                SavedState::Paused => RestoreAs::Paused,
                SavedState::Done => match saved.path() {
                    Some(path) => RestoreAs::Done { path, bytes: saved.bytes },
                    None => RestoreAs::Failed { error: "finished in an earlier session".into() },
                },
                SavedState::Failed => RestoreAs::Failed {
                    error: saved.error.clone().unwrap_or_else(|| "failed in an earlier session".into()),
                },
                SavedState::Cancelled => RestoreAs::Cancelled,
            };
            if saved.state == SavedState::Running {
                saved.state = SavedState::Queued;
            }
            if saved.state != SavedState::Done {
                // What is on disk is the truth; the saved count may be a few seconds old.
                saved.bytes = part_len.unwrap_or(0);
            }
            Restore {
                request: AddRequest { url: item.url.clone(), dir: item.dir.clone(), resume },
                state,
                limits: saved.limits.map(ItemLimits::from),
                saved,
            }
        })
        .collect()
}

/// What loading found besides the queue: a note for the person when the file was unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub queue: SavedQueue,
    /// Set when the file was corrupt or from a newer dlm and was moved aside.
    pub notice: Option<String>,
}

/// Why the state could not be used at all (not: a corrupt file, which is moved aside).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot find a home folder for dlm's state; set {STATE_DIR_ENV}")]
    NoDataDir,
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "another dlm{pid} is already running with the queue in {dir}; only one dlm screen can run \
         at a time (use `dlm add URL…` to add to it, or set {STATE_DIR_ENV} to keep a separate queue)",
        pid = pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        dir = dir.display()
    )]
    Locked { pid: Option<u32>, dir: PathBuf },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io { what, path: path.to_path_buf(), source }
}

/// The folder dlm keeps its state in, and the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateStore {
    dir: PathBuf,
    /// Keep `user:password@` in saved URLs (config `save_credentials`); off by default.
    save_credentials: bool,
}

impl StateStore {
    /// `$DLM_STATE_DIR`, else the platform data folder (`~/.local/share/dlm` on Linux).
    pub fn from_env() -> Result<Self, StateError> {
        match std::env::var_os(STATE_DIR_ENV).filter(|v| !v.is_empty()) {
            Some(dir) => Ok(Self::at(dir)),
            None => directories::ProjectDirs::from("", "", "dlm")
                .map(|d| Self::at(d.data_dir()))
                .ok_or(StateError::NoDataDir),
        }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), save_credentials: false }
    }

    /// Whether saved URLs keep their `user:password@` (the config's `save_credentials`). The
    /// file is owner-only either way; off, a password never rests on disk.
    #[must_use]
    pub fn saving_credentials(mut self, yes: bool) -> Self {
        self.save_credentials = yes;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn queue_path(&self) -> PathBuf {
        self.dir.join(QUEUE_FILE)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Creates the folder owner-only: the queue holds URLs, which may carry tokens.
    pub fn create_dir(&self) -> Result<(), StateError> {
        create_private_dir(&self.dir).map_err(io_err("cannot create the state folder", &self.dir))
    }

    /// Reads the saved queue. No file is an empty queue; a corrupt file or one from a newer
    /// dlm is renamed to `queue.json.corrupt-<unix time>` and an empty queue is returned with
    /// a notice saying so. Only an unreadable folder is an error.
    pub fn load(&self) -> Result<Loaded, StateError> {
        let path = self.queue_path();
        let bytes = match read_limited(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded { queue: SavedQueue::default(), notice: None });
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return self.set_aside(&path, &e.to_string());
            }
            Err(e) => return Err(io_err("cannot read the saved queue", &path)(e)),
        };
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        match serde_json::from_slice::<Version>(&bytes) {
            Ok(v) if v.version > STATE_VERSION => self.set_aside(
                &path,
                &format!(
                    "it was written by a newer dlm (format {}, this dlm reads up to {STATE_VERSION})",
                    v.version
                ),
            ),
            Ok(_) => match serde_json::from_slice::<SavedQueue>(&bytes) {
                Ok(queue) => Ok(Loaded { queue, notice: None }),
                Err(e) => self.set_aside(&path, &format!("it is damaged ({e})")),
            },
            Err(e) => self.set_aside(&path, &format!("it is damaged ({e})")),
        }
    }

    fn set_aside(&self, path: &Path, why: &str) -> Result<Loaded, StateError> {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(".corrupt-{stamp}"));
        let aside = PathBuf::from(aside);
        fs::rename(path, &aside).map_err(io_err("cannot move the unusable saved queue aside", path))?;
        let notice = format!(
            "the saved queue {} could not be used: {why}; it was moved to {} and dlm starts with an \
             empty queue",
            path.display(),
            aside.display()
        );
        Ok(Loaded { queue: SavedQueue::default(), notice: Some(notice) })
    }

    /// Writes the queue atomically: a temp file in the same folder, written and fsynced, then
    /// renamed over the old file, then the folder fsynced so the rename itself survives a
    /// power cut. A crash at any point leaves either the old or the new file, never half.
    pub fn save(&self, queue: &SavedQueue) -> Result<(), StateError> {
        self.create_dir()?;
        let path = self.queue_path();
        let tmp = self.dir.join(format!("{QUEUE_FILE}.tmp-{}", std::process::id()));
        let mut bare;
        let queue = if self.save_credentials {
            queue
        } else {
            bare = queue.clone();
            for item in &mut bare.items {
                item.url = str_without_credentials(&item.url);
            }
            &bare
        };
        let body = serde_json::to_vec_pretty(queue).map_err(|e| io_err("cannot encode", &path)(e.into()))?;
        let write = || -> io::Result<()> {
            let mut file =
                OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            file.write_all(&body)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, &path)?;
            // Best effort: some file systems cannot fsync a folder; the rename still happened.
            if let Ok(dir) = File::open(&self.dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("cannot save the queue to", &path)(e)
        })
    }

    /// Takes the state lock, or says which dlm holds it. The lock is an OS file lock
    /// (`flock`), so it is released when the process ends in any way, `kill -9` included,
    /// and a stale lock file never blocks anyone. Waits up to `wait` for a holder that is
    /// only briefly busy (a `dlm add` appending to the saved queue).
    pub fn lock(&self, wait: Duration) -> Result<StateLock, StateError> {
        self.create_dir()?;
        let path = self.lock_path();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("cannot open the lock file", &path))?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    return Err(StateError::Locked { pid: text.trim().parse().ok(), dir: self.dir.clone() });
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err("cannot lock", &path)(e)),
            }
        }
        // The PID is only for the message a second dlm prints; the lock is the flock.
        let _ = file.set_len(0).and_then(|()| file.write_all(std::process::id().to_string().as_bytes()));
        Ok(StateLock { _file: file })
    }
}

/// Holds the state lock until dropped (or the process ends).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Creates `dir` (and parents) and makes it owner-only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Reads a file of at most `MAX_STATE_BYTES`; larger is `InvalidData`.
fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "it is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "it is too large to be a saved queue"));
    }
    Ok(bytes)
}

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
    TrackSaved(ItemId, SavedItem),
    Event(EngineEvent),
}

/// The saved queue of a running session: a task that owns the `QueueModel`, folds what it is
/// sent, writes the file (debounced, atomically, off the async threads) and publishes the
/// listing `dlm ls` shows. The front end forwards engine events and new items to it.
pub struct Persister {
    tx: mpsc::UnboundedSender<PersistMsg>,
    listing: watch::Receiver<Vec<ListedItem>>,
    task: JoinHandle<Result<(), StateError>>,
}

/// Defaults for the TUI: a state change is on disk within a quarter second, progress within
/// two seconds, which bounds what `kill -9` can lose.
pub const STATE_SAVE_DELAY: Duration = Duration::from_millis(250);
pub const PROGRESS_SAVE_EVERY: Duration = Duration::from_secs(2);

impl Persister {
    /// Starts the task on the current runtime. `default_dir` is where items without a folder
    /// go (made absolute here, so a restart from another folder finds them).
    pub fn spawn(store: StateStore, default_dir: &Path, debounce: Debounce) -> Persister {
        let default_dir = std::path::absolute(default_dir).unwrap_or_else(|_| default_dir.to_path_buf());
        let (tx, rx) = mpsc::unbounded_channel();
        let (listing_tx, listing) = watch::channel(Vec::new());
        let task = tokio::spawn(persist_task(store, default_dir, debounce, rx, listing_tx));
        Persister { tx, listing, task }
    }

    /// Records an item just given to `EngineHandle::add` (the full URL and folder).
    pub fn track(&self, id: ItemId, request: &AddRequest) {
        let _ = self.tx.send(PersistMsg::Track(id, request.clone()));
    }

    /// Records a restored item under its new id (`Restore::saved`).
    pub fn track_saved(&self, id: ItemId, item: SavedItem) {
        let _ = self.tx.send(PersistMsg::TrackSaved(id, item));
    }

    /// Forwards an engine event. Cheap; never blocks.
    pub fn event(&self, event: &EngineEvent) {
        let _ = self.tx.send(PersistMsg::Event(event.clone()));
    }

    /// The live listing for `dlm ls` (give it to the control server).
    pub fn listing(&self) -> watch::Receiver<Vec<ListedItem>> {
        self.listing.clone()
    }

    /// Writes what is pending and ends the task. Call after the engine has stopped.
    pub async fn shutdown(self) -> Result<(), StateError> {
        drop(self.tx);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(StateError::Io {
                what: "the queue saver stopped",
                path: PathBuf::new(),
                source: io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Messages folded before the listing is rebuilt and the save deadline looked at again.
const PERSIST_BATCH: usize = 4096;

async fn persist_task(
    store: StateStore,
    default_dir: PathBuf,
    mut debounce: Debounce,
    mut rx: mpsc::UnboundedReceiver<PersistMsg>,
    listing_tx: watch::Sender<Vec<ListedItem>>,
) -> Result<(), StateError> {
    let mut model = QueueModel::new();
    let mut last_error: Option<String> = None;
    loop {
        let deadline = debounce.deadline();
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            () = sleep_until_opt(deadline) => {
                write(&store, &model, &mut debounce, &mut last_error).await;
                // Progress reaches `dlm ls` with each save (at most two seconds late).
                listing_tx.send_replace(model.listing());
                continue;
            }
        };
        let Some(msg) = msg else { break };
        // Fold what is already waiting before rebuilding the listing: a rebuild costs the
        // whole queue, and one per event made a long queue quadratic (quitting a UI with
        // 1,000 finished items took 41 s while this task caught up).
        let mut listing_stale = false;
        let mut next = Some(msg);
        let mut folded = 0;
        while let Some(msg) = next {
            let change = match msg {
                PersistMsg::Track(id, request) => model.track(id, &request, &default_dir),
                PersistMsg::TrackSaved(id, item) => model.track_saved(id, item),
                PersistMsg::Event(event) => model.apply(&event),
            };
            debounce.mark(change, Instant::now());
            listing_stale |= change == Change::State;
            folded += 1;
            next = if folded < PERSIST_BATCH { rx.try_recv().ok() } else { None };
        }
        // Progress in the listing waits for the next save; state changes show as soon as the
        // batch is folded.
        if listing_stale {
            listing_tx.send_replace(model.listing());
        }
    }
    if debounce.is_dirty() || last_error.is_some() {
        let snapshot = model.snapshot();
        let store = store.clone();
        return tokio::task::spawn_blocking(move || store.save(&snapshot)).await.unwrap_or_else(|e| {
            Err(StateError::Io {
                what: "saving the queue",
                path: PathBuf::new(),
                source: io::Error::other(e),
            })
        });
    }
    Ok(())
}

/// Saves on the blocking pool so an fsync never stalls the UI's runtime threads. A failed save
/// (disk full) is tried again at shutdown, whose result the caller sees.
async fn write(
    store: &StateStore,
    model: &QueueModel,
    debounce: &mut Debounce,
    last_error: &mut Option<String>,
) {
    let snapshot = model.snapshot();
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || store.save(&snapshot)).await;
    debounce.written(Instant::now());
    *last_error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
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
    use crate::engine::StartInfo;

    fn started(id: ItemId, path: &str, offset: u64) -> EngineEvent {
        EngineEvent::Started {
            id,
            info: StartInfo {
                name: Path::new(path).file_name().unwrap().to_string_lossy().into_owned(),
                path: PathBuf::from(path),
                total: Some(100),
                offset,
                final_url: "http://h/f".into(),
                status: 200,
                resumable: true,
                validator: Some("\"v1\"".into()),
            },
        }
    }

    #[test]
    fn fold_follows_an_item_through_its_life() {
        let mut m = QueueModel::new();
        let id = ItemId(1);
        let req = AddRequest::new("http://user:pw@h/f.iso");
        assert_eq!(m.track(id, &req, Path::new("/dl")), Change::State);
        assert_eq!(m.apply(&EngineEvent::Added { id, url: "http://h/f.iso".into() }), Change::None);
        assert_eq!(m.get(id).unwrap().url, "http://user:pw@h/f.iso", "the full URL is kept");
        assert_eq!(m.apply(&EngineEvent::Connecting { id, attempt: 1 }), Change::State);
        assert_eq!(m.apply(&started(id, "/dl/f.iso", 0)), Change::State);
        assert_eq!(m.apply(&EngineEvent::Progress { id, bytes: 40 }), Change::Progress);
        assert_eq!(m.apply(&EngineEvent::Progress { id, bytes: 40 }), Change::None);
        let item = m.get(id).unwrap();
        assert_eq!(
            (item.state, item.bytes, item.total, item.file_name.as_deref()),
            (SavedState::Running, 40, Some(100), Some("f.iso"))
        );
        assert_eq!(item.validator.as_deref(), Some("\"v1\""));
        m.apply(&EngineEvent::Paused { id, bytes: 50 });
        assert_eq!((m.get(id).unwrap().state, m.get(id).unwrap().bytes), (SavedState::Paused, 50));
        m.apply(&EngineEvent::Queued { id });
        m.apply(&EngineEvent::Failed { id, error: "404".into() });
        assert_eq!(m.get(id).unwrap().error.as_deref(), Some("404"));
        m.apply(&EngineEvent::Queued { id });
        assert_eq!(m.get(id).unwrap().error, None);
        m.apply(&EngineEvent::Completed { id, path: "/dl/f (1).iso".into(), bytes: 100, skipped: false });
        let item = m.get(id).unwrap();
        assert_eq!((item.state, item.file_name.as_deref()), (SavedState::Done, Some("f (1).iso")));
        assert_eq!(m.listing()[0].url, "http://***@h/f.iso", "the listing hides credentials");
        assert_eq!(m.apply(&EngineEvent::Removed { id }), Change::State);
        assert!(m.is_empty());
        assert_eq!(m.apply(&EngineEvent::Progress { id, bytes: 1 }), Change::None);
    }

    #[test]
    fn item_limits_are_folded_saved_and_planned_back() {
        let mut m = QueueModel::new();
        let id = ItemId(1);
        m.track(id, &AddRequest::new("http://h/f.iso"), Path::new("/dl"));
        let changed = EngineEvent::ItemLimitsChanged { id, rate_limit: Some(1 << 20), connections: 4 };
        assert_eq!(m.apply(&changed), Change::State);
        assert_eq!(m.apply(&changed), Change::None, "the same limits again change nothing");
        let queue = m.snapshot();
        let json = serde_json::to_string(&queue).unwrap();
        assert!(json.contains(r#""limits":{"rate_limit":1048576,"connections":4}"#), "{json}");
        let back: SavedQueue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, queue);
        let plan = restore_plan(&back);
        assert_eq!(plan[0].limits, Some(ItemLimits { rate_limit: Some(1 << 20), connections: 4 }));
        // Items nobody changed save no limits at all, so they follow the config next time.
        m.track(ItemId(2), &AddRequest::new("http://h/g.iso"), Path::new("/dl"));
        let json = serde_json::to_string(&m.snapshot().items[1]).unwrap();
        assert!(!json.contains("limits"), "{json}");
        assert_eq!(restore_plan(&m.snapshot())[1].limits, None);
    }

    #[test]
    fn snapshot_keeps_add_order_and_folders() {
        let mut m = QueueModel::new();
        m.track(ItemId(2), &AddRequest::new("http://h/b"), Path::new("/dl"));
        m.track(
            ItemId(1),
            &AddRequest { dir: Some("/x".into()), ..AddRequest::new("http://h/a") },
            Path::new("/dl"),
        );
        let s = m.snapshot();
        assert_eq!(s.items[0].url, "http://h/a");
        assert_eq!(s.items[0].dir.as_deref(), Some(Path::new("/x")));
        assert_eq!(s.items[1].dir.as_deref(), Some(Path::new("/dl")));
    }

    #[test]
    fn restore_plan_resumes_parts_and_keeps_states() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.bin.part"), vec![0u8; 30]).unwrap();
        std::fs::write(d.join("p.bin.part"), vec![0u8; 7]).unwrap();
        let item = |name: Option<&str>, state| SavedItem {
            file_name: name.map(str::to_string),
            state,
            validator: Some("\"e\"".into()),
            total: Some(100),
            bytes: 99,
            ..SavedItem::new(format!("http://h/{}", name.unwrap_or("x")), Some(d.to_path_buf()))
        };
        let queue = SavedQueue {
            version: STATE_VERSION,
            items: vec![
                item(Some("a.bin"), SavedState::Running),
                item(Some("p.bin"), SavedState::Paused),
                item(Some("done.bin"), SavedState::Done),
                item(None, SavedState::Queued),
                item(Some("gone.bin"), SavedState::Failed),
            ],
        };
        let plan = restore_plan(&queue);
        assert_eq!(plan[0].state, RestoreAs::Queued);
        assert_eq!(
            plan[0].request.resume,
            Some(ResumeHint { file_name: "a.bin".into(), validator: Some("\"e\"".into()), total: Some(100) })
        );
        assert_eq!((plan[0].saved.state, plan[0].saved.bytes), (SavedState::Queued, 30));
        assert_eq!(plan[1].state, RestoreAs::Paused);
        assert!(plan[1].request.resume.is_some());
        assert_eq!(plan[2].state, RestoreAs::Done { path: d.join("done.bin"), bytes: 99 });
        assert_eq!(plan[2].request.resume, None);
        assert_eq!((plan[3].state.clone(), plan[3].request.resume.clone()), (RestoreAs::Queued, None));
        assert!(matches!(&plan[4].state, RestoreAs::Failed { error } if error.contains("earlier session")));
        assert_eq!(plan[4].request.resume, None, "no .part, no resume hint");
    }

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
