//! Getting bytes onto disk without stalling the runtime: a `.part` writer that batches chunks
//! into large vectored writes on the blocking pool (one write in flight while the next batch
//! fills), the sidecar that records what guards a `.part`, and the no-clobber rename that
//! publishes a finished file. Depends on std, tokio and the engine's error type.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::error::DownloadError;

/// Bytes gathered before a write is issued. Large enough that the per-write cost (a blocking
/// pool round trip and a syscall) is negligible, small enough that memory stays flat.
const FLUSH_BYTES: usize = 256 * 1024;
/// Slices per `writev`; the kernel limit (IOV_MAX) is 1024.
const MAX_SLICES: usize = 512;

/// What the sidecar `NAME.part.dlm` says about the bytes in `NAME.part`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMeta {
    pub url: String,
    pub validator: Option<String>,
    pub total: Option<u64>,
    /// For a segmented download (preallocated to its full size), the byte ranges `[start, end)`
    /// not yet on disk. Absent for a single stream, where the file length is the progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<(u64, u64)>>,
}

pub fn meta_path(part: &Path) -> PathBuf {
    let mut os = part.as_os_str().to_owned();
    os.push(".dlm");
    PathBuf::from(os)
}

pub fn read_meta(part: &Path) -> Option<PartMeta> {
    let text = std::fs::read(meta_path(part)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes the sidecar atomically: temp file, then rename.
pub fn write_meta(part: &Path, meta: &PartMeta) -> io::Result<()> {
    let path = meta_path(part);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let body = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let mut file = open_nofollow(&tmp, true)?;
    file.write_all(&body)?;
    drop(file);
    std::fs::rename(&tmp, &path)
}

pub fn remove_meta(part: &Path) {
    let _ = std::fs::remove_file(meta_path(part));
}

/// Makes `part` at least `len` bytes long (sparse), for segments written at their offsets.
pub fn preallocate(part: &Path, len: u64) -> io::Result<()> {
    let file = open_nofollow(part, false)?;
    if file.metadata()?.len() < len {
        file.set_len(len)?;
    }
    Ok(())
}

/// Opens for writing without following a symlink planted at `path`.
fn open_nofollow(path: &Path, truncate: bool) -> io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(truncate).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Length of an existing `.part`, if it is a regular file (a symlink or folder is not ours).
pub fn part_len(part: &Path) -> Option<u64> {
    let meta = std::fs::symlink_metadata(part).ok()?;
    meta.file_type().is_file().then_some(meta.len())
}

/// Bytes of a download already on disk: for a segmented `.part`, which is preallocated to its
/// full size, the total less the ranges its sidecar lists as missing; else the `.part`'s length.
pub fn part_progress(part: &Path) -> Option<u64> {
    let len = part_len(part)?;
    Some(match read_meta(part) {
        Some(PartMeta { total: Some(total), missing: Some(missing), .. }) => present(total, &missing),
        _ => len,
    })
}

/// Bytes of a `total`-byte segmented download that are on disk when `missing` are not.
pub fn present(total: u64, missing: &[(u64, u64)]) -> u64 {
    total.saturating_sub(missing.iter().map(|(a, b)| b.saturating_sub(*a)).sum())
}

enum Slot {
    /// Not opened yet: small bodies are created, written and published in one blocking call.
    Closed,
    /// A write is in flight; it yields the file and the offset written up to.
    Writing(JoinHandle<io::Result<(File, u64)>>),
}

/// How a `PartWriter` opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Continue a single stream at this offset: the file is cut back to it (0 starts over).
    Append(u64),
    /// Write a segment at this offset of a preallocated file, touching nothing else.
    At(u64),
}

/// Streams one download's body into its `.part` file.
pub struct PartWriter {
    part: PathBuf,
    slot: Slot,
    start: Start,
    meta: Option<PartMeta>,
    pending: Vec<Bytes>,
    pending_len: usize,
    flush_bytes: usize,
    received: u64,
    /// Bytes below this offset are known to be written.
    written: u64,
}

impl PartWriter {
    /// A writer that will continue `part` at `start` (0 starts the file over). The sidecar `meta`
    /// is written just before the first bytes reach the disk, so a finished small body never
    /// needs one.
    pub fn new(part: PathBuf, start: u64, meta: Option<PartMeta>) -> Self {
        Self::with_start(part, Start::Append(start), meta, FLUSH_BYTES)
    }

    /// A writer for one segment of a preallocated file, flushing every `flush_bytes`.
    pub fn segment(part: PathBuf, offset: u64, flush_bytes: usize) -> Self {
        Self::with_start(part, Start::At(offset), None, flush_bytes)
    }

    fn with_start(part: PathBuf, start: Start, meta: Option<PartMeta>, flush_bytes: usize) -> Self {
        let offset = match start {
            Start::Append(o) | Start::At(o) => o,
        };
        Self {
            part,
            slot: Slot::Closed,
            start,
            meta,
            pending: Vec::new(),
            pending_len: 0,
            flush_bytes,
            received: offset,
            written: offset,
        }
    }

    /// End offset of the bytes so far, including those not yet written.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// End offset of the bytes known to be on disk (lags `received` by at most two batches).
    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn push(&mut self, chunk: Bytes) -> Result<(), DownloadError> {
        self.received += chunk.len() as u64;
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= self.flush_bytes || self.pending.len() >= MAX_SLICES {
            self.start_write().await?;
        }
        Ok(())
    }

    /// Issues a write of everything pending, after the previous write (if any) has finished.
    async fn start_write(&mut self) -> Result<(), DownloadError> {
        let file = self.take_file().await?;
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let opener = self.opener(file);
        let end = self.received;
        self.slot = Slot::Writing(tokio::task::spawn_blocking(move || {
            let mut file = opener()?;
            write_all_vectored(&mut file, &batch)?;
            Ok((file, end))
        }));
        Ok(())
    }

    /// Waits for the write in flight and hands back the file, or `None` if not opened yet.
    async fn take_file(&mut self) -> Result<Option<File>, DownloadError> {
        match std::mem::replace(&mut self.slot, Slot::Closed) {
            Slot::Closed => Ok(None),
            Slot::Writing(handle) => match handle.await {
                Ok(Ok((file, end))) => {
                    self.written = end;
                    Ok(Some(file))
                }
                Ok(Err(e)) => Err(DownloadError::io(&self.part, e)),
                Err(e) => Err(DownloadError::Internal(format!("disk writer: {e}"))),
            },
        }
    }

    /// A closure, run on the blocking pool, that yields the open file: either the one given or
    /// a newly opened `.part` (writing the sidecar first).
    fn opener(&mut self, file: Option<File>) -> impl FnOnce() -> io::Result<File> + Send + 'static {
        let part = self.part.clone();
        let start = self.start;
        let meta = self.meta.take();
        move || match file {
            Some(file) => Ok(file),
            None => {
                if let Some(meta) = meta {
                    write_meta(&part, &meta)?;
                }
                let mut file = open_nofollow(&part, start == Start::Append(0))?;
                match start {
                    Start::Append(0) => {}
                    Start::Append(offset) => {
                        file.set_len(offset)?;
                        file.seek(SeekFrom::Start(offset))?;
                    }
                    Start::At(offset) => {
                        file.seek(SeekFrom::Start(offset))?;
                    }
                }
                Ok(file)
            }
        }
    }

    /// Writes everything still pending and closes the file, keeping it as `.part` (pause,
    /// failure). Returns the bytes now on disk.
    pub async fn flush_and_close(mut self) -> Result<u64, DownloadError> {
        if self.pending_len > 0 {
            self.start_write().await?;
        }
        self.take_file().await?;
        Ok(self.written)
    }

    /// Writes everything, closes the `.part` and publishes it under `final_path`. Unless
    /// `replace` is set an existing file is never replaced: if `final_path` appeared
    /// meanwhile, `alternative` is asked for another name. Returns the path the file landed at.
    pub async fn finish(
        mut self,
        final_path: PathBuf,
        replace: bool,
        alternative: impl Fn() -> Option<PathBuf> + Send + 'static,
    ) -> Result<PathBuf, DownloadError> {
        let file = self.take_file().await?;
        let batch = std::mem::take(&mut self.pending);
        // The file is complete now: a sidecar would only be written to be deleted.
        self.meta = None;
        let whole_body_in_memory = file.is_none() && self.start == Start::Append(0) && !replace;
        let opener = self.opener(file);
        let part = self.part.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<PathBuf, DownloadError> {
            if whole_body_in_memory {
                match publish_unnamed(&final_path, &batch, &alternative) {
                    Ok(Some(path)) => return Ok(path),
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
            }
            let mut file = opener().map_err(|e| DownloadError::io(&part, e))?;
            write_all_vectored(&mut file, &batch).map_err(|e| DownloadError::io(&part, e))?;
            drop(file);
            publish_part(&part, final_path, replace, alternative)
        })
        .await;
        result.map_err(|e| DownloadError::Internal(format!("disk writer: {e}")))?
    }
}

/// Moves a complete `.part` to `final_path` and removes its sidecar. Unless `replace` is set
/// an existing file is never replaced: `alternative` offers the next free name instead. Blocking: run it on the blocking pool.
pub fn publish_part(
    part: &Path,
    final_path: PathBuf,
    replace: bool,
    alternative: impl Fn() -> Option<PathBuf>,
) -> Result<PathBuf, DownloadError> {
    let mut target = final_path;
    loop {
        let published = if replace { std::fs::rename(part, &target) } else { publish(part, &target) };
        match published {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                target = alternative().ok_or_else(|| DownloadError::io(&target, e))?;
            }
            Err(e) => return Err(DownloadError::io(&target, e)),
        }
    }
    remove_meta(part);
    Ok(target)
}

/// Publishes a body that arrived whole without ever naming a partial file: writes it to an
/// unnamed file in the folder (`O_TMPFILE`) and links that under the final name, which fails
/// rather than replace an existing file. One directory change instead of three (create the
/// `.part`, link, unlink), which is what thousands of small files cost. Returns `Ok(None)`
/// where the filesystem has no unnamed files, so the caller takes the `.part` path.
fn publish_unnamed(
    final_path: &Path,
    batch: &[Bytes],
    alternative: &dyn Fn() -> Option<PathBuf>,
) -> Result<Option<PathBuf>, DownloadError> {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;
    let dir = match final_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(0o644)) {
        Ok(fd) => fd,
        // No O_TMPFILE here (old kernel, some filesystems): use a named `.part` instead.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => return Ok(None),
        Err(e) => return Err(DownloadError::io(dir, e.into())),
    };
    let mut file = File::from(fd);
    write_all_vectored(&mut file, batch).map_err(|e| DownloadError::io(final_path, e))?;
    let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    let mut target = final_path.to_path_buf();
    loop {
        match rustix::fs::linkat(CWD, proc_path.as_str(), CWD, &target, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => return Ok(Some(target)),
            Err(Errno::EXIST) => {
                let taken = || DownloadError::io(&target, io::Error::from(io::ErrorKind::AlreadyExists));
                target = alternative().ok_or_else(taken)?;
            }
            // No /proc (some containers): fall back to the `.part` path.
            Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => return Ok(None),
            Err(e) => return Err(DownloadError::io(&target, e.into())),
        }
    }
}

/// Moves `part` to `target` unless `target` exists. A hard link is atomic and never replaces;
/// filesystems without hard links fall back to check-then-rename.
fn publish(part: &Path, target: &Path) -> io::Result<()> {
    match std::fs::hard_link(part, target) {
        Ok(()) => std::fs::remove_file(part),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if std::fs::symlink_metadata(target).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            std::fs::rename(part, target)
        }
    }
}

fn write_all_vectored(file: &mut File, batch: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
