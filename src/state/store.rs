//! The state folder on disk: reading the saved queue (moving a damaged one aside), writing it
//! atomically, and the lock that keeps a second dlm off the same queue. Depends on std, serde
//! and the format types in `state`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::engine::str_without_credentials;

use super::{LOCK_FILE, MAX_STATE_BYTES, QUEUE_FILE, STATE_DIR_ENV, STATE_VERSION, SavedQueue};

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
