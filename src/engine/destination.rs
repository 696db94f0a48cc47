//! Where a download's bytes go, decided from a full answer: for a new download the name, the
//! conflict policy, and with `continue_existing` a finished file to skip or a `.part` from an
//! earlier run to continue or start over in place; for one that has a `.part`, starting it
//! over in place. The folder is the item's, or one a rule picks by the name's extension.
//! Depends on the engine's naming, disk, answer, job and rule_folders modules.

use std::path::PathBuf;

use reqwest::header;

use super::answer::WholeFile;
use super::disk;
use super::error::DownloadError;
use super::job::{Job, PartState, Shared};
use super::naming;
use super::options::ConflictPolicy;
use super::rule_folders;
use super::sidecar;
use super::urls::without_credentials;

/// A full answer: its headers and final URL name the file, `file` says what it is.
pub struct FirstAnswer<'a> {
    pub response: &'a reqwest::Response,
    pub file: &'a WholeFile,
}

pub enum Destination {
    /// The file is already there, complete: nothing to download.
    Skip { path: PathBuf, bytes: u64 },
    /// A `.part` from an earlier run can be continued: ask for the rest.
    Continue(PartState),
    /// Write this answer's body from its first byte.
    Fresh(PartState),
}

/// Picks the destination of a download that has none yet.
pub async fn choose(
    shared: &Shared,
    job: &Job,
    answer: &FirstAnswer<'_>,
) -> Result<Destination, DownloadError> {
    let headers = answer.response.headers();
    let get = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
    // Content-Disposition as raw bytes: a name in it may be UTF-8 or ISO-8859-1.
    let disposition = headers.get(header::CONTENT_DISPOSITION).map(header::HeaderValue::as_bytes);
    let name = match &job.name {
        Some(name) => name.clone(),
        None => naming::choose_name(disposition, answer.response.url(), get(header::CONTENT_TYPE)),
    };
    let dir = folder(job, &name).await?;
    let file = answer.file;
    let fresh = |final_path| PartState {
        final_path,
        validator: file.validator.clone(),
        total: file.total,
        resumable: file.resumable,
        missing: None,
        ranges_unreliable: false,
        checksum: None,
    };
    if shared.options.continue_existing
        && let Some(found) = existing(shared, job, &dir.join(&name), file)
    {
        return Ok(match found {
            Existing::Complete(path) => Destination::Skip { path, bytes: file.total.unwrap_or(0) },
            Existing::Continue(part) => Destination::Continue(part),
            Existing::StartOver(final_path) => Destination::Fresh(fresh(final_path)),
        });
    }
    let reserved = match shared.options.on_conflict {
        ConflictPolicy::Rename => shared.names.reserve_unique_async(&dir, &name).await,
        ConflictPolicy::Skip => {
            let existing = dir.join(&name);
            // Only a regular file counts as "already there"; a folder or symlink of that name
            // is not something the person wanted kept instead.
            if let Ok(meta) = std::fs::symlink_metadata(&existing)
                && meta.file_type().is_file()
            {
                return Ok(Destination::Skip { bytes: meta.len(), path: existing });
            }
            shared.names.reserve_unique_async(&dir, &name).await
        }
        ConflictPolicy::Overwrite => {
            let exact = dir.join(&name);
            // Replace a regular file only; another item of this run holding the name, or a
            // folder or symlink there, still gets `name (1)`.
            let replaceable = std::fs::symlink_metadata(&exact).map_or(true, |m| m.file_type().is_file());
            if replaceable && shared.names.reserve_exact(&exact) {
                Some(exact)
            } else {
                shared.names.reserve_unique_async(&dir, &name).await
            }
        }
    };
    match reserved {
        Some(final_path) => Ok(Destination::Fresh(fresh(final_path))),
        None => Err(DownloadError::NoFreeName { name, dir }),
    }
}

/// The item's folder, or the one a rule chooses by the name's extension (see `rule_folders`),
/// made if it is not there yet, as the session makes a rule's folder chosen at add.
async fn folder(job: &Job, name: &str) -> Result<PathBuf, DownloadError> {
    let table = job.settings.as_deref().map_or(&[][..], |s| &s.folders_by_ext[..]);
    let Some(dir) = rule_folders::folder_for(table, name) else { return Ok(job.dir.clone()) };
    tokio::fs::create_dir_all(dir).await.map_err(|e| DownloadError::io(dir, e))?;
    Ok(dir.to_path_buf())
}

enum Existing {
    Complete(PathBuf),
    Continue(PartState),
    /// The `.part` is this download's but cannot be continued: write over it, same name.
    StartOver(PathBuf),
}

/// With `continue_existing`: a finished file of the announced size is skipped. A `.part` is
/// continued when its sidecar names this URL and the same version, or, with no sidecar (a run
/// against a server without ranges, another tool), as `wget -c` and `curl -C -` do: a range
/// from its length, guarded by `If-Range`, accepted only as a `206` of the announced size.
/// Where that cannot work, or the sidecar is of an older version of this URL, the `.part` is
/// started over in place, never left beside a second name. A sidecar naming another URL means
/// the `.part` belongs to another download: it is left alone.
fn existing(
    shared: &Shared,
    job: &Job,
    final_path: &std::path::Path,
    answer: &WholeFile,
) -> Option<Existing> {
    let final_path = final_path.to_path_buf();
    if let (Some(t), Ok(meta)) = (answer.total, std::fs::symlink_metadata(&final_path))
        && meta.file_type().is_file()
        && meta.len() == t
    {
        return Some(Existing::Complete(final_path));
    }
    let part_path = naming::part_path(&final_path);
    let on_disk = disk::part_len(&part_path)?;
    let sidecar = sidecar::read_meta(&part_path);
    if sidecar.as_ref().is_some_and(|m| m.url != without_credentials(&job.url)) {
        return None;
    }
    if !shared.names.reserve_exact(&final_path) {
        return None;
    }
    let continued = |validator, missing| {
        Existing::Continue(PartState {
            final_path: final_path.clone(),
            validator,
            total: answer.total,
            resumable: true,
            missing,
            ranges_unreliable: false,
            checksum: None,
        })
    };
    match sidecar {
        Some(meta) if meta.total == answer.total && meta.validator == answer.validator => {
            Some(continued(meta.validator, meta.missing))
        }
        None if answer.resumable
            && answer.validator.is_some()
            && answer.total.is_some_and(|t| 0 < on_disk && on_disk < t) =>
        {
            // A `.part` as long as the file or longer may be complete or a preallocated one
            // full of holes; nothing tells which, so it is fetched again.
            Some(continued(answer.validator.clone(), None))
        }
        _ => {
            sidecar::remove_meta(&part_path);
            Some(Existing::StartOver(final_path))
        }
    }
}

/// The server sent the whole file although the `.part` may hold some of it: start over in
/// place with this answer. A `200` to a range request for the same version means the server
/// ignores ranges (a new version is a changed file, which says nothing about ranges).
pub fn start_over(p: &mut PartState, file: &WholeFile, asked_range: bool) {
    if asked_range {
        let same_version = match (&p.validator, &file.validator) {
            (Some(old), Some(new)) => old == new,
            (Some(_), None) => false,
            (None, _) => true,
        };
        p.ranges_unreliable |= same_version;
    }
    p.validator = file.validator.clone();
    p.total = file.total;
    p.resumable = file.resumable && !p.ranges_unreliable;
    p.missing = None;
}
