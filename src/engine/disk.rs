//! Getting bytes onto disk without stalling the runtime: a `.part` writer that batches chunks
//! into large vectored writes on the blocking pool (one write in flight while the next batch
//! fills), preallocation for segments, and what a `.part` holds. The sidecar (`sidecar`) and
//! the no-clobber publishing (`publish`) have their own modules. Depends on std, tokio, those
//! two and the engine's error type.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::error::DownloadError;
use super::hashing::{Checked, StreamHasher};
use super::publish::{publish_part, publish_unnamed, write_all_vectored};
use super::sidecar::{PartMeta, open_nofollow, present, read_meta, remove_meta, write_meta};

/// Bytes gathered before a write is issued. Large enough that the per-write cost (a blocking
/// pool round trip and a syscall) is negligible, small enough that memory stays flat.
pub const FLUSH_BYTES: usize = 256 * 1024;
/// Slices per `writev`; the kernel limit (IOV_MAX) is 1024.
const MAX_SLICES: usize = 512;

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
    /// The checksum the finished file is checked against, hashed as the bytes are written (on
    /// a blocking thread of its own, beside the writes). A continued `.part`'s bytes are read
    /// back through it first: a resumed download is checked whole, never assumed.
    hash: Option<StreamHasher>,
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
            hash: None,
        }
    }

    /// Checks the finished file against `expected` (single streams only: the bytes must arrive
    /// in order). `finish` refuses to publish a file that does not match.
    pub fn checking(mut self, expected: Option<super::checksum::ExpectedChecksum>) -> Self {
        self.hash = expected.map(|e| StreamHasher::new(self.part.clone(), e));
        self
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

    /// Hands whatever is pending to the disk now instead of waiting for a full batch (before a
    /// long pause in the stream, so a crash then loses nothing received).
    pub async fn write_pending(&mut self) -> Result<(), DownloadError> {
        if self.pending_len > 0 {
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
        if let Some(hash) = self.hash.as_mut() {
            hash.feed(&batch, end).await;
        }
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
    ) -> Result<(PathBuf, Option<Checked>), DownloadError> {
        let file = self.take_file().await?;
        let batch = std::mem::take(&mut self.pending);
        // The file is complete now: a sidecar would only be written to be deleted.
        self.meta = None;
        let whole_body_in_memory =
            self.unnamed && file.is_none() && self.start == Start::Append(0) && !replace;
        let opener = self.opener(file);
        let part = self.part.clone();
        // Hashed before anything is named: a body that does not match never gets the final
        // name, even for an instant.
        let checked = match self.hash.take() {
            Some(hash) => {
                Some(hash.finish(&batch, self.received).await.map_err(|e| DownloadError::io(&part, e))?)
            }
            None => None,
        };
        let result =
            tokio::task::spawn_blocking(move || -> Result<(PathBuf, Option<Checked>), DownloadError> {
                let io_err = |e| DownloadError::io(&part, e);
                let matches = checked.as_ref().is_none_or(Checked::matches);
                if whole_body_in_memory && matches {
                    match publish_unnamed(&final_path, &batch, &alternative) {
                        Ok(Some(path)) => return Ok((path, checked)),
                        Ok(None) => {}
                        Err(e) => return Err(e),
                    }
                }
                let mut file = opener().map_err(io_err)?;
                write_all_vectored(&mut file, &batch).map_err(io_err)?;
                drop(file);
                if let Some(checked) = checked.as_ref().filter(|c| !c.matches()) {
                    // Kept as `.part` (with its bytes, for a look), never published.
                    return Err(checked.mismatch(&part));
                }
                Ok((publish_part(&part, final_path, replace, alternative)?, checked))
            })
            .await;
        result.map_err(|e| DownloadError::Internal(format!("disk writer: {e}")))?
    }
}
#[cfg(test)]
mod tests {
    use super::*;

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
        writer.finish(final_path, false, move || Some(other.clone())).await.unwrap().0
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
        let (path, _) = writer.finish(dir.path().join("e.bin"), false, || None).await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), body);
    }
}
