//! Turning a loaded saved queue back into engine commands: every item folder made absolute
//! (or the item flagged when an older dlm did not say which folder it meant), and one
//! `Restore` per item, under its saved id, continuing any `.part` on disk with a validated
//! resume, and finished items whose file is gone flagged `missing`. Reads the file system only
//! to find `.part` files and finished files. Depends on the engine's message types and naming,
//! and on `record`.

use std::path::Path;

use crate::engine::{
    AddRequest, ChecksumView, ErrorKind, ItemError, ItemId, ItemLimits, ItemState, RestoreAs, ResumeHint,
    naming, part_progress,
};

use super::SavedQueue;

/// One saved item turned back into an engine command (`EngineHandle::restore_as`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub id: ItemId,
    pub request: AddRequest,
    pub state: RestoreAs,
    /// The item's own limits, when it had some.
    pub limits: Option<ItemLimits>,
}

/// Makes every item folder of a loaded queue absolute and returns how many items could not be
/// placed. `default_dir` (absolute) is the folder of the dlm now opening the queue.
///
/// - No folder (an older `dlm add` with no dlm running): `default_dir`, as it always meant.
/// - A relative folder in a file that records `start_dir`: joined to it.
/// - A relative folder without `start_dir`: the first versions saved a started item's folder
///   as the engine saw it, `.` when dlm ran in the current folder, without saying which folder
///   that was. Such an item is flagged, never silently re-based on the folder dlm starts in now
///   (which downloaded it again from zero there and orphaned its `.part`): it becomes failed
///   with an error saying so, and a retry puts it in `default_dir` knowingly (continuing its
///   `.part` if that is where it was).
pub fn resolve_folders(queue: &mut SavedQueue, default_dir: &Path) -> usize {
    let start = queue.start_dir.clone().filter(|d| d.is_absolute());
    let mut flagged = 0;
    for item in queue.items.values_mut() {
        let Some(dir) = item.dir.clone() else {
            item.dir = Some(default_dir.to_path_buf());
            continue;
        };
        if dir.is_absolute() {
            continue;
        }
        if let Some(start) = &start {
            let joined = start.join(&dir);
            item.dir = Some(std::path::absolute(&joined).unwrap_or(joined));
            continue;
        }
        flagged += 1;
        let was = if item.state == ItemState::Done { "finished" } else { "started" };
        item.error = Some(ItemError::other(format!(
            "{was} by an older dlm that saved its folder as {dir:?} without saying which folder that \
             was (the one that dlm was started in); r retries it in {}",
            default_dir.display()
        )));
        item.dir = Some(default_dir.to_path_buf());
        item.state = ItemState::Failed;
    }
    flagged
}

/// Plans the restore of a saved queue, in its order: items that were running continue as
/// queued, and every unfinished item with a `.part` on disk gets a `ResumeHint`, so the engine
/// continues it with a validated resume (`If-Range`) instead of starting over, and shows its
/// name, size and the bytes on disk at once.
pub fn restore_plan(queue: &SavedQueue) -> Vec<Restore> {
    queue
        .items
        .values()
        .map(|item| {
            // A segmented `.part` is preallocated to its full size: only its sidecar says how
            // much of it is real.
            let on_disk = item.path().map(|p| naming::part_path(&p)).and_then(|p| part_progress(&p));
            let resume = match (item.state, &item.name, on_disk) {
                (ItemState::Done, ..) => None,
                (_, Some(name), Some(_)) => Some(ResumeHint {
                    file_name: name.clone(),
                    validator: item.validator.clone(),
                    total: item.total,
                    ranges_unreliable: item.ranges_unreliable,
                    // A queue saved before `start_over` was: its mismatch error says it.
                    start_over: item.start_over
                        || item.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Checksum),
                }),
                _ => None,
            };
            let state = match item.state {
                ItemState::Queued | ItemState::Connecting | ItemState::Downloading => RestoreAs::Queued,
                ItemState::Paused => RestoreAs::Paused,
                ItemState::Done => match item.path() {
                    // Looked at here, off the front end's loop: a finished file deleted
                    // since shows as missing.
                    Some(path) => RestoreAs::Done { missing: !path.exists(), path, bytes: item.bytes },
                    None => RestoreAs::Failed { error: ItemError::other("finished in an earlier session") },
                },
                ItemState::Failed => RestoreAs::Failed {
                    error: item
                        .error
                        .clone()
                        .unwrap_or_else(|| ItemError::other("failed in an earlier session")),
                },
                ItemState::Cancelled => RestoreAs::Cancelled,
            };
            Restore {
                id: ItemId(item.id),
                request: AddRequest {
                    dir: item.dir.clone(),
                    resume,
                    checksum: item.checksum.as_deref().and_then(ChecksumView::to_expected),
                    ..AddRequest::new(item.url.clone())
                },
                state,
                limits: item.limits.map(ItemLimits::from),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::state::ItemRecord;

    fn queue(items: Vec<ItemRecord>) -> SavedQueue {
        items.into_iter().collect()
    }

    #[test]
    fn restore_plan_resumes_parts_and_keeps_states_ids_and_error_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.bin.part"), vec![0u8; 30]).unwrap();
        std::fs::write(d.join("p.bin.part"), vec![0u8; 7]).unwrap();
        let item = |id, name: Option<&str>, state| ItemRecord {
            name: name.map(str::to_string),
            state,
            validator: Some("\"e\"".into()),
            total: Some(100),
            bytes: 99,
            ..ItemRecord::new(id, format!("http://h/{}", name.unwrap_or("x")), Some(d.to_path_buf()))
        };
        let full = ItemError { kind: ErrorKind::DiskFull, status: None, message: "disk full".into() };
        let plan = restore_plan(&queue(vec![
            item(3, Some("a.bin"), ItemState::Downloading),
            item(5, Some("p.bin"), ItemState::Paused),
            item(8, Some("done.bin"), ItemState::Done),
            item(9, None, ItemState::Queued),
            ItemRecord { error: Some(full.clone()), ..item(12, Some("gone.bin"), ItemState::Failed) },
        ]));
        let ids: Vec<u64> = plan.iter().map(|r| r.id.0).collect();
        assert_eq!(ids, [3, 5, 8, 9, 12], "saved ids, in order");
        assert_eq!(plan[0].state, RestoreAs::Queued);
        assert_eq!(
            plan[0].request.resume,
            Some(ResumeHint {
                file_name: "a.bin".into(),
                validator: Some("\"e\"".into()),
                total: Some(100),
                ranges_unreliable: false,
                start_over: false,
            })
        );
        assert_eq!(plan[1].state, RestoreAs::Paused);
        assert!(plan[1].request.resume.is_some());
        assert_eq!(plan[2].state, RestoreAs::Done { path: d.join("done.bin"), bytes: 99, missing: true });
        assert_eq!(plan[2].request.resume, None);
        assert_eq!((plan[3].state.clone(), plan[3].request.resume.clone()), (RestoreAs::Queued, None));
        assert_eq!(plan[4].state, RestoreAs::Failed { error: full }, "the kind survives a restart");
        assert_eq!(plan[4].request.resume, None, "no .part, no resume hint");
        // A finished file still there is not missing.
        std::fs::write(d.join("done.bin"), b"x").unwrap();
        let plan = restore_plan(&queue(vec![item(8, Some("done.bin"), ItemState::Done)]));
        assert_eq!(plan[0].state, RestoreAs::Done { path: d.join("done.bin"), bytes: 99, missing: false });
    }

    /// An item's checksum is saved with it (and its JSON view), so a restored download is
    /// still checked against it.
    #[test]
    fn a_saved_checksum_goes_back_to_the_engine_with_the_restored_item() {
        use crate::engine::{Algo, ChecksumSource, ExpectedChecksum};
        let expected =
            ExpectedChecksum::from_hex(Algo::Sha256, &"ab".repeat(32), ChecksumSource::User).unwrap();
        let record = ItemRecord {
            checksum: Some(Box::new(expected.pending())),
            ..ItemRecord::new(4, "http://h/x.iso", Some(PathBuf::from("/d")))
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(&"ab".repeat(32)), "the JSON view shows it: {json}");
        let loaded: ItemRecord = serde_json::from_str(&json).unwrap();
        let plan = restore_plan(&queue(vec![loaded]));
        assert_eq!(plan[0].request.checksum, Some(expected));
    }

    /// A failed item whose bytes did not match is restored to start over, whether its queue
    /// saved the mark or (written before the mark existed) only the error's kind; others
    /// continue their `.part`.
    #[test]
    fn a_mismatch_is_restored_to_start_over_even_from_a_queue_without_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["marked.iso", "old.iso", "cut.iso"] {
            std::fs::write(dir.path().join(format!("{name}.part")), b"bytes").unwrap();
        }
        let failed = |id, name: &str, kind| ItemRecord {
            name: Some(name.into()),
            state: ItemState::Failed,
            error: Some(ItemError::new(kind, "failed")),
            ..ItemRecord::new(id, format!("http://h/{name}"), Some(dir.path().to_path_buf()))
        };
        let marked = ItemRecord { start_over: true, ..failed(1, "marked.iso", ErrorKind::Checksum) };
        // As a queue written before the mark reads: `start_over` false, the kind says it.
        let old = failed(2, "old.iso", ErrorKind::Checksum);
        let plan = restore_plan(&queue(vec![marked, old, failed(3, "cut.iso", ErrorKind::Network)]));
        let over: Vec<bool> = plan.iter().map(|r| r.request.resume.as_ref().unwrap().start_over).collect();
        assert_eq!(over, [true, true, false]);
    }

    #[test]
    fn relative_folders_resolve_against_the_start_folder_or_are_flagged() {
        let at = |id, dir: Option<&str>, state| ItemRecord {
            state,
            name: Some("f.iso".into()),
            ..ItemRecord::new(id, "http://h/f.iso", dir.map(PathBuf::from))
        };
        let default = Path::new("/now/dl");
        let mut q =
            queue(vec![at(1, Some("."), ItemState::Downloading), at(2, Some("sub/x"), ItemState::Done)]);
        q.start_dir = Some("/then".into());
        assert_eq!(resolve_folders(&mut q, default), 0);
        assert_eq!(q.items[&1].dir.as_deref(), Some(Path::new("/then")));
        assert_eq!(q.items[&2].dir.as_deref(), Some(Path::new("/then/sub/x")));
        assert_eq!(q.items[&1].state, ItemState::Downloading);

        // A file from before `start_dir` was recorded: `.` cannot be placed, so it is flagged
        // and never re-based silently; absolute folders stay and `None` is the default.
        let mut old = crate::state::format::decode_snapshot(
            br#"{"version":1,"items":[
                {"url":"http://h/a","dir":".","file_name":"a","state":"paused","bytes":5},
                {"url":"http://h/b","dir":"/abs","file_name":"b","state":"running"},
                {"url":"http://h/c","state":"queued"},
                {"url":"http://h/d","dir":".","file_name":"d","state":"done"}]}"#,
        )
        .unwrap();
        assert_eq!(resolve_folders(&mut old, default), 2);
        let dirs: Vec<_> = old.items.values().map(|i| i.dir.clone().unwrap()).collect();
        assert_eq!(dirs, ["/now/dl", "/abs", "/now/dl", "/now/dl"].map(PathBuf::from));
        let states: Vec<_> = old.items.values().map(|i| i.state).collect();
        use ItemState::*;
        assert_eq!(states, [Failed, Downloading, Queued, Failed]);
        let error = &old.items[&1].error.as_ref().unwrap().message;
        assert!(
            error.contains("older dlm that saved its folder as \".\"") && error.contains("/now/dl"),
            "{error}"
        );
        assert!(old.items[&4].error.as_ref().unwrap().message.starts_with("finished by an older dlm"));
    }
}
