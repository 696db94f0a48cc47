//! Getting bytes onto disk without stalling the runtime: a `.part` writer that batches chunks
//! into large vectored writes on the blocking pool (one write in flight while the next batch
//! fills), the sidecar that records what guards a `.part`, and the no-clobber rename that
//! publishes a finished file. Depends on std, tokio and the engine's error type.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// Reads the sidecar. A sidecar that cannot be read is ignored (`None`); one whose missing
/// ranges make no sense (out of order, overlapping, empty or reversed, beyond the size, or no
/// size at all) claims nothing: every byte is missing again, so the download starts over.
pub fn read_meta(part: &Path) -> Option<PartMeta> {
    let text = std::fs::read(meta_path(part)).ok()?;
    let mut meta: PartMeta = serde_json::from_slice(&text).ok()?;
    if let Some(missing) = &meta.missing
        && !ranges_make_sense(missing, meta.total)
    {
        meta.missing = match meta.total {
            Some(total) if total > 0 => Some(vec![(0, total)]),
            _ => return None,
        };
    }
    Some(meta)
}

/// Whether `missing` are sorted, non-empty, non-overlapping ranges inside `[0, total)`.
fn ranges_make_sense(missing: &[(u64, u64)], total: Option<u64>) -> bool {
    let Some(total) = total else { return false };
    let mut from = 0;
    missing.iter().all(|&(start, end)| {
        let ok = from <= start && start < end && end <= total;
        from = end;
        ok
    })
}

/// Writes the sidecar atomically: temp file, then rename.
pub fn write_meta(part: &Path, meta: &PartMeta) -> io::Result<()> {
    write_meta_with(part, meta, false)
}

/// `write_meta`; with `durable` the temp file's bytes reach the disk before the rename, so
/// after a power cut the sidecar is the old one or the new one, never an empty file.
fn write_meta_with(part: &Path, meta: &PartMeta, durable: bool) -> io::Result<()> {
    let path = meta_path(part);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let body = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let mut file = open_nofollow(&tmp, true)?;
    file.write_all(&body)?;
    if durable {
        file.sync_data()?;
    }
    drop(file);
    std::fs::rename(&tmp, &path)
}

/// Whether a download's sidecar may still be written. Closed when its file is published, so
/// a checkpoint still syncing then (which can take seconds with much unwritten data) need not
/// be waited for: it finds the latch closed and writes nothing.
#[derive(Debug, Clone, Default)]
pub struct SidecarLatch(Arc<Mutex<bool>>);

impl SidecarLatch {
    /// No sidecar is written after this returns (a checkpoint writing one now is waited for).
    pub fn close(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }
}

/// Records a segmented download's progress so that it survives a power cut: the `.part`'s data
/// is synced (fdatasync) *before* the sidecar that says those bytes are there is written. The
/// caller takes `meta` before calling, so every range it claims was written before the sync
/// began. Blocking: run it on the blocking pool.
pub fn checkpoint(part: &Path, meta: &PartMeta, latch: &SidecarLatch) -> io::Result<()> {
    checkpoint_with(part, meta, latch, File::sync_data)
}

fn checkpoint_with(
    part: &Path,
    meta: &PartMeta,
    latch: &SidecarLatch,
    sync: impl FnOnce(&File) -> io::Result<()>,
) -> io::Result<()> {
    match OpenOptions::new().write(true).custom_flags(NOFOLLOW).open(part) {
        Ok(file) => sync(&file)?,
        // No `.part` yet: the sidecar can only claim bytes that are not there to lose.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let closed = latch.0.lock().unwrap_or_else(|e| e.into_inner());
    if *closed {
        return Ok(());
    }
    write_meta_with(part, meta, true)
}

pub fn remove_meta(part: &Path) {
    let _ = std::fs::remove_file(meta_path(part));
}

/// Makes `part` exactly `len` bytes long (sparse), for segments written at their offsets.
/// A size the disk cannot hold (a server announcing petabytes) fails here with the numbers,
/// before a byte is written, rather than as a sparse giant or a "disk full" much later.
pub fn preallocate(part: &Path, len: u64) -> Result<(), DownloadError> {
    let fail = |e| DownloadError::io(part, e);
    let file = open_nofollow(part, false).map_err(fail)?;
    let have = file.metadata().map_err(fail)?.len();
    if have == len {
        return Ok(());
    }
    if have > len {
        // Left by an earlier, longer version of the file: the tail is not part of this one.
        return file.set_len(len).map_err(fail);
    }
    let dir = match part.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let stat = rustix::fs::statvfs(dir).map_err(|e| fail(e.into()))?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let needed = len - have;
    if needed > free {
        return Err(DownloadError::NoSpace { path: part.to_path_buf(), size: len, free });
    }
    file.set_len(len).map_err(fail)
}

/// `O_NOFOLLOW`, from rustix so it is right on every Unix.
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Opens for writing without following a symlink planted at `path`.
fn open_nofollow(path: &Path, truncate: bool) -> io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(truncate).custom_flags(NOFOLLOW).open(path)
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
    /// Publish a body that arrived whole through an unnamed file (Linux only; see
    /// `publish_unnamed`). Elsewhere, and in the test of the fallback, the `.part` path is used.
    unnamed: bool,
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
            unnamed: cfg!(target_os = "linux"),
        }
    }

    /// Publishes through a named `.part` even where unnamed files exist: the path every other
    /// system takes, tested here on Linux.
    #[cfg(test)]
    fn without_unnamed_files(mut self) -> Self {
        self.unnamed = false;
        self
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
        // An HTTP/2 body may end with an empty DATA frame. Kept, it could be a whole batch on
        // its own, one empty slice that `writev` writes 0 bytes of ("write zero").
        if chunk.is_empty() {
            return Ok(());
        }
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
                match meta {
                    Some(meta) => write_meta(&part, &meta)?,
                    // Starting over without a sidecar: one left from an earlier attempt (a
                    // segmented one, say) must not speak for the new bytes.
                    None if start == Start::Append(0) => remove_meta(&part),
                    None => {}
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
        let whole_body_in_memory =
            self.unnamed && file.is_none() && self.start == Start::Append(0) && !replace;
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
/// `O_TMPFILE` and `/proc/self/fd` are Linux's; other systems always take the `.part` path.
#[cfg(target_os = "linux")]
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

#[cfg(not(target_os = "linux"))]
fn publish_unnamed(
    _final_path: &Path,
    _batch: &[Bytes],
    _alternative: &dyn Fn() -> Option<PathBuf>,
) -> Result<Option<PathBuf>, DownloadError> {
    Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(missing: Vec<(u64, u64)>) -> PartMeta {
        PartMeta {
            url: "http://h/f".into(),
            validator: Some("\"v\"".into()),
            total: Some(100),
            missing: Some(missing),
        }
    }

    #[test]
    fn the_part_is_synced_before_the_sidecar_claims_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        std::fs::write(&part, [1u8; 100]).unwrap();
        let (old, new) = (meta(vec![(0, 100)]), meta(vec![(60, 100)]));
        write_meta(&part, &old).unwrap();
        let mut synced = false;
        checkpoint_with(&part, &new, &SidecarLatch::default(), |file| {
            // At the moment of the sync, the sidecar on disk still claims only the old ranges.
            assert_eq!(read_meta(&part), Some(old.clone()));
            assert_eq!(file.metadata()?.len(), 100, "the sync is of the .part itself");
            synced = true;
            Ok(())
        })
        .unwrap();
        assert!(synced);
        assert_eq!(read_meta(&part), Some(new));
    }

    #[test]
    fn a_failed_sync_leaves_the_old_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        std::fs::write(&part, [1u8; 100]).unwrap();
        let old = meta(vec![(0, 100)]);
        write_meta(&part, &old).unwrap();
        let latch = SidecarLatch::default();
        let e = checkpoint_with(&part, &meta(vec![]), &latch, |_| Err(io::Error::other("EIO"))).unwrap_err();
        assert_eq!(e.to_string(), "EIO");
        assert_eq!(read_meta(&part), Some(old));
    }

    #[test]
    fn the_real_checkpoint_writes_the_sidecar_with_or_without_a_part_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        let latch = SidecarLatch::default();
        checkpoint(&part, &meta(vec![(0, 100)]), &latch).unwrap();
        assert!(!part.exists(), "a checkpoint never creates the .part");
        std::fs::write(&part, [1u8; 100]).unwrap();
        checkpoint(&part, &meta(vec![(0, 10)]), &latch).unwrap();
        assert_eq!(read_meta(&part), Some(meta(vec![(0, 10)])));
        // Published: a checkpoint that was still syncing must not bring the sidecar back.
        remove_meta(&part);
        latch.close();
        checkpoint(&part, &meta(vec![]), &latch).unwrap();
        assert!(!meta_path(&part).exists());
    }

    #[test]
    fn sidecar_ranges_that_make_no_sense_claim_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        let all = Some(vec![(0, 100)]);
        for bad in [
            vec![(50, 100), (0, 50)],
            vec![(0, 60), (50, 100)],
            vec![(10, 10)],
            vec![(20, 10)],
            vec![(0, 101)],
            vec![(0, u64::MAX)],
            vec![(u64::MAX - 1, u64::MAX), (0, 1)],
        ] {
            write_meta(&part, &meta(bad.clone())).unwrap();
            assert_eq!(read_meta(&part).unwrap().missing, all, "{bad:?}");
        }
        for good in [vec![], vec![(0, 100)], vec![(0, 10), (10, 20), (99, 100)]] {
            write_meta(&part, &meta(good.clone())).unwrap();
            assert_eq!(read_meta(&part).unwrap().missing, Some(good));
        }
        let no_total = PartMeta { total: None, ..meta(vec![(0, 10)]) };
        write_meta(&part, &no_total).unwrap();
        assert_eq!(read_meta(&part), None, "ranges of an unknown size: the sidecar is ignored");
        std::fs::write(meta_path(&part), b"{\"url\": 3").unwrap();
        assert_eq!(read_meta(&part), None);
    }

    #[test]
    fn a_size_no_disk_holds_fails_before_the_file_grows() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        for len in [1 << 50, 1 << 62, u64::MAX] {
            let e = preallocate(&part, len).unwrap_err();
            assert!(e.to_string().starts_with("not enough disk space for"), "{len}: {e}");
            assert_eq!(std::fs::metadata(&part).unwrap().len(), 0);
        }
        preallocate(&part, 4096).unwrap();
        assert_eq!(std::fs::metadata(&part).unwrap().len(), 4096);
    }

    /// Publishes `body` as a small download named `name` in `dir`, through the unnamed file or
    /// the `.part` path.
    async fn publish_small(dir: &Path, name: &str, body: &[u8], unnamed: bool) -> PathBuf {
        let final_path = dir.join(name);
        let mut writer = PartWriter::new(dir.join(format!("{name}.part")), 0, None);
        if !unnamed {
            writer = writer.without_unnamed_files();
        }
        writer.push(Bytes::copy_from_slice(body)).await.unwrap();
        let other = dir.join(format!("other-{name}"));
        writer.finish(final_path, false, move || Some(other.clone())).await.unwrap()
    }

    #[tokio::test]
    async fn a_small_body_is_published_the_same_with_or_without_unnamed_files() {
        for unnamed in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = publish_small(dir.path(), "a.bin", b"hello", unnamed).await;
            assert_eq!(path, dir.path().join("a.bin"));
            assert_eq!(std::fs::read(&path).unwrap(), b"hello");
            // A name that appeared meanwhile is never replaced.
            let path = publish_small(dir.path(), "a.bin", b"again", unnamed).await;
            assert_eq!(path, dir.path().join("other-a.bin"), "unnamed: {unnamed}");
            assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"hello");
            let mut names: Vec<_> =
                std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            assert_eq!(names, ["a.bin", "other-a.bin"], "no .part left (unnamed: {unnamed})");
        }
    }
    #[tokio::test]
    async fn an_empty_last_chunk_is_not_a_failed_write() {
        // HTTP/2 servers may end a body with an empty DATA frame, which reaches the writer as
        // an empty chunk. After a full batch it used to be the whole last batch, one empty
        // slice that `writev` wrote 0 bytes of: "write zero", and the download failed.
        let dir = tempfile::tempdir().unwrap();
        let body = vec![7u8; FLUSH_BYTES];
        let mut writer = PartWriter::new(dir.path().join("e.bin.part"), 0, None);
        writer.push(Bytes::from(body.clone())).await.unwrap();
        writer.push(Bytes::new()).await.unwrap();
        let path = writer.finish(dir.path().join("e.bin"), false, || None).await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), body);
    }
}
