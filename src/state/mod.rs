//! The saved queue: a versioned JSON file in the platform data folder that lets the queue
//! survive restarts and `kill -9`. This file holds the format and the plan that turns a saved
//! queue back into engine commands; `model` is the pure fold that keeps it up to date from
//! `EngineEvent`s, `store` the atomic file and the lock that keeps a second dlm off the same
//! state, `persist` the debounced saver task. Depends on the engine's message types and
//! std/tokio/serde; never on a front end.

mod model;
mod persist;
mod store;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{
    AddRequest, ItemError, ItemLimits, RestoreAs, ResumeHint, naming, part_progress, redact_str,
};

pub use model::{Change, QueueModel};
pub use persist::{Debounce, PROGRESS_SAVE_EVERY, Persister, STATE_SAVE_DELAY};
pub use store::{Loaded, StateError, StateLock, StateStore, create_private_dir};

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
    /// The folder the dlm that last wrote this file was started in: a relative item folder is
    /// relative to it. Absent in files from before it was recorded (whose relative folders
    /// cannot be placed; see `resolve_folders`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_dir: Option<PathBuf>,
    pub items: Vec<SavedItem>,
}

impl Default for SavedQueue {
    fn default() -> Self {
        Self { version: STATE_VERSION, start_dir: None, items: Vec::new() }
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
    /// Destination folder, absolute since the item was added. `None` only in files written by
    /// an older `dlm add` with no dlm running: the folder of the dlm that opens it.
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

/// Makes every item folder of a loaded queue absolute and returns how many items could not be
/// placed. `default_dir` (absolute) is the folder of the dlm now opening the queue.
///
/// - No folder (an older `dlm add` with no dlm running): `default_dir`, as it always meant.
/// - A relative folder in a file that records `start_dir`: joined to it.
/// - A relative folder without `start_dir`: earlier versions saved a started item's folder as
///   the engine saw it, `.` when dlm ran in the current folder, without saying which folder that
///   was. Such an item is flagged, never silently re-based on the folder dlm starts in now
///   (which downloaded it again from zero there and orphaned its `.part`): it becomes failed
///   with an error saying so, and a retry puts it in `default_dir` knowingly (continuing its
///   `.part` if that is where it was).
pub fn resolve_folders(queue: &mut SavedQueue, default_dir: &Path) -> usize {
    let start = queue.start_dir.clone().filter(|d| d.is_absolute());
    let mut flagged = 0;
    for item in &mut queue.items {
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
        let was = if item.state == SavedState::Done { "finished" } else { "started" };
        item.error = Some(format!(
            "{was} by an older dlm that saved its folder as {dir:?} without saying which folder that \
             was (the one that dlm was started in); r retries it in {}",
            default_dir.display()
        ));
        item.dir = Some(default_dir.to_path_buf());
        item.state = SavedState::Failed;
    }
    flagged
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
            // A segmented `.part` is preallocated to its full size: only its sidecar says how
            // much of it is real.
            let on_disk = part.as_deref().and_then(part_progress);
            let resume = match (saved.state, &saved.file_name, on_disk) {
                (SavedState::Done, ..) => None,
                (_, Some(file_name), Some(_)) => Some(ResumeHint {
                    file_name: file_name.clone(),
                    validator: saved.validator.clone(),
                    total: saved.total,
                    ranges_unreliable: false,
                }),
                _ => None,
            };
            let state = match saved.state {
                SavedState::Queued | SavedState::Running => RestoreAs::Queued,
                SavedState::Paused => RestoreAs::Paused,
                SavedState::Done => match saved.path() {
                    Some(path) => RestoreAs::Done { path, bytes: saved.bytes },
                    None => RestoreAs::Failed { error: ItemError::other("finished in an earlier session") },
                },
                SavedState::Failed => RestoreAs::Failed {
                    error: ItemError::other(
                        saved.error.clone().unwrap_or_else(|| "failed in an earlier session".into()),
                    ),
                },
                SavedState::Cancelled => RestoreAs::Cancelled,
            };
            if saved.state == SavedState::Running {
                saved.state = SavedState::Queued;
            }
            if saved.state != SavedState::Done {
                // What is on disk is the truth; the saved count may be a few seconds old.
                saved.bytes = on_disk.unwrap_or(0);
            }
            Restore {
                request: AddRequest { url: item.url.clone(), dir: item.dir.clone(), resume, checksum: None },
                state,
                limits: saved.limits.map(ItemLimits::from),
                saved,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            items: vec![
                item(Some("a.bin"), SavedState::Running),
                item(Some("p.bin"), SavedState::Paused),
                item(Some("done.bin"), SavedState::Done),
                item(None, SavedState::Queued),
                item(Some("gone.bin"), SavedState::Failed),
            ],
            ..SavedQueue::default()
        };
        let plan = restore_plan(&queue);
        assert_eq!(plan[0].state, RestoreAs::Queued);
        assert_eq!(
            plan[0].request.resume,
            Some(ResumeHint {
                file_name: "a.bin".into(),
                validator: Some("\"e\"".into()),
                total: Some(100),
                ranges_unreliable: false
            })
        );
        assert_eq!((plan[0].saved.state, plan[0].saved.bytes), (SavedState::Queued, 30));
        assert_eq!(plan[1].state, RestoreAs::Paused);
        assert!(plan[1].request.resume.is_some());
        assert_eq!(plan[2].state, RestoreAs::Done { path: d.join("done.bin"), bytes: 99 });
        assert_eq!(plan[2].request.resume, None);
        assert_eq!((plan[3].state.clone(), plan[3].request.resume.clone()), (RestoreAs::Queued, None));
        assert!(
            matches!(&plan[4].state, RestoreAs::Failed { error } if error.message.contains("earlier session"))
        );
        assert_eq!(plan[4].request.resume, None, "no .part, no resume hint");
    }

    #[test]
    fn restore_plan_counts_a_segmented_part_by_its_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Preallocated to its full 1000 bytes; the sidecar says 700 of them are still missing.
        std::fs::write(d.join("s.bin.part"), vec![0u8; 1000]).unwrap();
        let sidecar =
            r#"{"url":"http://h/s.bin","validator":"\"e\"","total":1000,"missing":[[100,500],[700,1000]]}"#;
        std::fs::write(d.join("s.bin.part.dlm"), sidecar).unwrap();
        let queue = SavedQueue {
            items: vec![SavedItem {
                file_name: Some("s.bin".into()),
                state: SavedState::Paused,
                total: Some(1000),
                bytes: 1000,
                ..SavedItem::new("http://h/s.bin", Some(d.to_path_buf()))
            }],
            ..SavedQueue::default()
        };
        let plan = restore_plan(&queue);
        assert_eq!(plan[0].saved.bytes, 300, "bytes on disk, not the preallocated length");
        assert_eq!(plan[0].saved.total, Some(1000));
        assert_eq!(plan[0].saved.file_name.as_deref(), Some("s.bin"));
    }

    #[test]
    fn relative_folders_resolve_against_the_start_folder_or_are_flagged() {
        let at = |dir: Option<&str>, state| SavedItem {
            state,
            file_name: Some("f.iso".into()),
            ..SavedItem::new("http://h/f.iso", dir.map(PathBuf::from))
        };
        let default = Path::new("/now/dl");
        let mut queue = SavedQueue {
            start_dir: Some("/then".into()),
            items: vec![at(Some("."), SavedState::Running), at(Some("sub/x"), SavedState::Done)],
            ..SavedQueue::default()
        };
        assert_eq!(resolve_folders(&mut queue, default), 0);
        assert_eq!(queue.items[0].dir.as_deref(), Some(Path::new("/then")));
        assert_eq!(queue.items[1].dir.as_deref(), Some(Path::new("/then/sub/x")));
        assert_eq!(queue.items[0].state, SavedState::Running);

        // A file from before `start_dir` was recorded: `.` cannot be placed, so it is flagged
        // and never re-based silently; absolute folders stay and `None` is the default.
        let mut old: SavedQueue = serde_json::from_str(
            r#"{"version":1,"items":[
                {"url":"http://h/a","dir":".","file_name":"a","state":"paused","bytes":5},
                {"url":"http://h/b","dir":"/abs","file_name":"b","state":"running"},
                {"url":"http://h/c","state":"queued"},
                {"url":"http://h/d","dir":".","file_name":"d","state":"done"}]}"#,
        )
        .unwrap();
        assert_eq!(resolve_folders(&mut old, default), 2);
        let dirs: Vec<_> = old.items.iter().map(|i| i.dir.clone().unwrap()).collect();
        assert_eq!(dirs, ["/now/dl", "/abs", "/now/dl", "/now/dl"].map(PathBuf::from));
        let states: Vec<_> = old.items.iter().map(|i| i.state).collect();
        use SavedState::*;
        assert_eq!(states, [Failed, Running, Queued, Failed]);
        let error = old.items[0].error.as_deref().unwrap();
        assert!(
            error.contains("older dlm that saved its folder as \".\"") && error.contains("/now/dl"),
            "{error}"
        );
        assert!(old.items[3].error.as_deref().unwrap().starts_with("finished by an older dlm"));
    }
}
