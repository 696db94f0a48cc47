//! Publishing a finished download under its final name without ever replacing a file dlm did
//! not write: a hard link (or check-then-rename), or for a body that arrived whole an unnamed
//! file linked into place. Blocking functions; depends on std, rustix, the sidecar and the
//! engine's error type.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::error::DownloadError;
use super::sidecar::remove_meta;

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
pub fn publish_unnamed(
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
pub fn publish_unnamed(
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

pub fn write_all_vectored(file: &mut File, batch: &[Bytes]) -> io::Result<()> {
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
