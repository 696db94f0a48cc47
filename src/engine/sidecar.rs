//! The sidecar `NAME.part.dlm`: what guards the bytes in a `.part` (URL, validator, size) and,
//! for a segmented download, which ranges are still missing; written atomically, and as a
//! checkpoint that syncs the `.part` before claiming its bytes. Also opening files without
//! following planted symlinks. Blocking functions; depends on std, serde and rustix only.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

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

/// Bytes of a `total`-byte segmented download that are on disk when `missing` are not.
pub fn present(total: u64, missing: &[(u64, u64)]) -> u64 {
    total.saturating_sub(missing.iter().map(|(a, b)| b.saturating_sub(*a)).sum())
}

/// `O_NOFOLLOW`, from rustix so it is right on every Unix.
pub const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Opens for writing without following a symlink planted at `path`.
pub fn open_nofollow(path: &Path, truncate: bool) -> io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(truncate).custom_flags(NOFOLLOW).open(path)
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
}
