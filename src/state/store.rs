//! The state folder on disk: loading the saved queue (snapshot plus journal, moving damaged
//! files aside), writing a new snapshot atomically, appending journal lines, and the lock that
//! keeps a second dlm off the same queue. Blocking I/O: async callers run it on the blocking
//! pool. Depends on std, serde and the rest of `state`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::format::{self, BadSnapshot, JournalOp};
use super::record::ItemRecord;
use super::{JOURNAL_FILE, LOCK_FILE, MAX_STATE_BYTES, QUEUE_FILE, STATE_DIR_ENV, STATE_VERSION, SavedQueue};

/// What loading found besides the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub queue: SavedQueue,
    /// Set when a file was damaged or from a newer dlm and was moved aside.
    pub notice: Option<String>,
    /// Bytes of the journal made of whole lines (appends go after them).
    pub journal_len: u64,
}

/// Why the state could not be used at all (not: a damaged file, which is moved aside).
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
    /// files are owner-only either way; off, a password never rests on disk.
    #[must_use]
    pub fn saving_credentials(mut self, yes: bool) -> Self {
        self.save_credentials = yes;
        self
    }

    pub fn saves_credentials(&self) -> bool {
        self.save_credentials
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn queue_path(&self) -> PathBuf {
        self.dir.join(QUEUE_FILE)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Creates the folder owner-only: the queue holds URLs, which may carry tokens.
    pub fn create_dir(&self) -> Result<(), StateError> {
        create_private_dir(&self.dir).map_err(io_err("cannot create the state folder", &self.dir))
    }

    /// Reads the saved queue: the snapshot, then the journal's changes. No files is an empty
    /// queue. A damaged snapshot, or one from a newer dlm, is renamed (with its journal) to
    /// `….corrupt-<unix time>` and an empty queue is returned with a notice saying so. A journal
    /// damaged midway is used up to the damage, moved aside, and the queue rewritten without
    /// it. Only an unreadable folder is an error. Call it holding the lock.
    pub fn load(&self) -> Result<Loaded, StateError> {
        let path = self.queue_path();
        let mut queue = match read_limited(&path) {
            Ok(bytes) => match format::decode_snapshot(&bytes) {
                Ok(queue) => queue,
                Err(BadSnapshot::Newer(v)) => {
                    let why = format!(
                        "it was written by a newer dlm (format {v}, this dlm reads up to {STATE_VERSION})"
                    );
                    return self.set_aside_all(&why);
                }
                Err(BadSnapshot::Damaged(e)) => return self.set_aside_all(&format!("it is damaged ({e})")),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => SavedQueue::default(),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return self.set_aside_all(&e.to_string()),
            Err(e) => return Err(io_err("cannot read the saved queue", &path)(e)),
        };
        let journal = self.journal_path();
        let bytes = match read_limited(&journal) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let notice = self.set_aside_journal(&format!("its journal cannot be read ({e})"))?;
                self.compact(&queue)?;
                return Ok(Loaded { queue, notice: Some(notice), journal_len: 0 });
            }
            Err(e) => return Err(io_err("cannot read the saved queue's journal", &journal)(e)),
        };
        let replayed = format::replay(&mut queue, &bytes);
        if let Some((line, why)) = replayed.damage {
            let notice = self.set_aside_journal(&format!(
                "line {line} of its journal is damaged ({why}); the changes from there on are lost"
            ))?;
            self.compact(&queue)?;
            return Ok(Loaded { queue, notice: Some(notice), journal_len: 0 });
        }
        Ok(Loaded { queue, notice: None, journal_len: replayed.valid_len })
    }

    /// Moves the snapshot and the journal aside: nothing in them can be trusted.
    fn set_aside_all(&self, why: &str) -> Result<Loaded, StateError> {
        let stamp = stamp();
        let queue = self.queue_path();
        let aside = aside_name(&queue, stamp);
        fs::rename(&queue, &aside).map_err(io_err("cannot move the unusable saved queue aside", &queue))?;
        let journal = self.journal_path();
        let journal_note = match fs::rename(&journal, aside_name(&journal, stamp)) {
            Ok(()) => format!(" (its journal to {})", aside_name(&journal, stamp).display()),
            Err(_) => String::new(),
        };
        let notice = format!(
            "the saved queue {} could not be used: {why}; it was moved to {}{journal_note} and dlm \
             starts with an empty queue",
            queue.display(),
            aside.display()
        );
        Ok(Loaded { queue: SavedQueue::default(), notice: Some(notice), journal_len: 0 })
    }

    fn set_aside_journal(&self, why: &str) -> Result<String, StateError> {
        let journal = self.journal_path();
        let aside = aside_name(&journal, stamp());
        fs::rename(&journal, &aside).map_err(io_err("cannot move the damaged journal aside", &journal))?;
        Ok(format!(
            "the saved queue {} could not be used entirely: {why}; the journal was moved to {}",
            self.queue_path().display(),
            aside.display()
        ))
    }

    /// Writes `queue` as the new snapshot and empties the journal.
    pub fn compact(&self, queue: &SavedQueue) -> Result<(), StateError> {
        let bytes = format::encode_snapshot(
            queue.start_dir.as_ref(),
            queue.next_id,
            queue.settings,
            queue.items.values(),
        );
        self.write_snapshot(&bytes)
    }

    /// Replaces the snapshot with `bytes` (an encoded snapshot) and empties the journal, whose
    /// changes it must contain. Atomic: a temp file in the same folder, written and fsynced,
    /// renamed over the old one, the folder fsynced so the rename survives a power cut. A crash
    /// before the journal is emptied leaves a journal already contained in the snapshot, which
    /// replays to the same queue.
    pub fn write_snapshot(&self, bytes: &[u8]) -> Result<(), StateError> {
        self.create_dir()?;
        let path = self.queue_path();
        let tmp = self.dir.join(format!("{QUEUE_FILE}.tmp-{}", std::process::id()));
        let write = || -> io::Result<()> {
            let mut file =
                OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir);
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("cannot save the queue to", &path)(e)
        })?;
        let journal = self.journal_path();
        match OpenOptions::new().write(true).open(&journal) {
            Ok(file) => file.set_len(0).and_then(|()| file.sync_all()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
        .map_err(io_err("cannot empty the journal", &journal))
    }

    /// Appends whole journal lines after the first `at` bytes (anything beyond them is a torn
    /// line from a crash, cut off first) and syncs them; returns the journal's new length. A
    /// failed append is cut off again, so the journal never keeps half a line.
    pub fn append(&self, lines: &[u8], at: u64) -> Result<u64, StateError> {
        self.create_dir()?;
        let path = self.journal_path();
        let mut file = open_private(&path).map_err(io_err("cannot open the journal", &path))?;
        let write = |file: &mut File| -> io::Result<()> {
            if file.metadata()?.len() != at {
                file.set_len(at)?;
            }
            file.seek(io::SeekFrom::Start(at))?;
            file.write_all(lines)?;
            file.sync_data()
        };
        match write(&mut file) {
            Ok(()) => Ok(at + lines.len() as u64),
            Err(e) => {
                let _ = file.set_len(at);
                Err(io_err("cannot save the queue's changes to", &path)(e))
            }
        }
    }

    /// Adds items to the saved queue without rewriting it (`dlm add` with no dlm running):
    /// reads it for the next free ids, then appends one line per item. Returns the queue as
    /// loaded (for its notice). Call it holding the lock.
    pub fn append_new(&self, items: Vec<NewItem>) -> Result<Loaded, StateError> {
        let loaded = self.load()?;
        let mut lines = Vec::new();
        for (id, NewItem { url, dir, checksum }) in (loaded.queue.next_id.max(1)..).zip(items) {
            let url = if self.save_credentials { url } else { crate::engine::str_without_credentials(&url) };
            let record = ItemRecord { checksum: checksum.map(Box::new), ..ItemRecord::new(id, url, dir) };
            lines.extend(format::encode_op(&JournalOp::Put(record)));
        }
        self.append(&lines, loaded.journal_len)?;
        Ok(loaded)
    }

    /// Takes the state lock, or says which dlm holds it. The lock is an OS file lock
    /// (`flock`), so it is released when the process ends in any way, `kill -9` included,
    /// and a stale lock file never blocks anyone. Waits up to `wait` for a holder that is
    /// only briefly busy (a `dlm add` appending to the saved queue).
    pub fn lock(&self, wait: Duration) -> Result<StateLock, StateError> {
        self.create_dir()?;
        let path = self.lock_path();
        let mut file = open_private(&path).map_err(io_err("cannot open the lock file", &path))?;
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

/// An item `dlm add` puts in the saved queue when no dlm runs: its URL, folder, and the
/// checksum given for it (kept as every saved checksum is, and checked when it downloads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub url: String,
    pub dir: Option<PathBuf>,
    pub checksum: Option<crate::engine::ChecksumView>,
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

/// Opens (creating it owner-only if needed) a file to read and write, keeping its contents.
fn open_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)
}

/// Best effort: some file systems cannot fsync a folder; the rename still happened.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

fn stamp() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn aside_name(path: &Path, stamp: u64) -> PathBuf {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{stamp}"));
    PathBuf::from(aside)
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
