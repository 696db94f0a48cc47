//! The saved queue: what lets the queue survive restarts and `kill -9`. Two files in the
//! platform data folder: `queue.json`, a snapshot of the whole queue, and `queue.journal`, one
//! line per change since (an item's whole record, or its removal). A change costs one line,
//! whatever the queue's length; the snapshot is rewritten only when the journal has grown past
//! it (and at start-up). `record` is the serde view of an item, `format` the two files as
//! bytes, `store` the files, their lock and `dlm add`'s append, `restore` the plan that turns a
//! loaded queue back into engine commands. Depends on the engine's message types, naming,
//! std and serde; never on the session or a front end.

mod edit;
mod format;
mod record;
mod restore;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use edit::{Edit, EditAnswer, edit_saved};
pub use format::{JournalOp, encode_op, encode_snapshot};
pub use record::{ItemRecord, LimitsRecord};
pub use restore::{Restore, resolve_folders, restore_plan};
pub use store::{Loaded, NewItem, StateError, StateLock, StateStore, create_private_dir};

/// Format version written into the snapshot. Bump it when old readers would misread new files.
/// 1: no ids, states `running` for connecting/downloading, errors as text, no journal.
/// 2: ids, the seven states, errors with a kind, the journal.
pub const STATE_VERSION: u32 = 2;
/// Overrides the folder dlm keeps its queue (and, unless `DLM_RUNTIME_DIR` is set, its
/// control socket) in, so tests and people can keep separate queues.
pub const STATE_DIR_ENV: &str = "DLM_STATE_DIR";
pub const QUEUE_FILE: &str = "queue.json";
pub const JOURNAL_FILE: &str = "queue.journal";
pub const LOCK_FILE: &str = "dlm.lock";
/// A state file larger than this is not ours (a queue of 100,000 items is about 25 MB).
const MAX_STATE_BYTES: u64 = 256 << 20;

/// A saved queue as loaded: the items by id, which is the order they were added in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedQueue {
    /// The folder the dlm that last wrote the snapshot was started in: a relative item folder
    /// is relative to it. Absent in files from before it was recorded (whose relative folders
    /// cannot be placed; see `resolve_folders`).
    pub start_dir: Option<PathBuf>,
    /// The id the next new item gets: above every id saved or removed, so an id is never
    /// given to a second item.
    pub next_id: u64,
    pub items: BTreeMap<u64, ItemRecord>,
    /// The terminal UI's worker count and global rate limit as the person last set them;
    /// `None` until they change one (the config's values apply to such a queue).
    pub settings: Option<Settings>,
}

/// The queue-wide settings the terminal UI changes with its keys, kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Downloads running at once.
    pub workers: usize,
    /// The global rate limit in bytes per second; absent is unlimited.
    #[serde(default)]
    pub rate_limit: Option<u64>,
}

impl SavedQueue {
    /// Adds or replaces an item; one without an id (a file from before ids) gets the next.
    pub fn put(&mut self, mut item: ItemRecord) {
        if item.id == 0 {
            let last = self.items.last_key_value().map_or(0, |(id, _)| *id);
            item.id = self.next_id.max(last + 1).max(1);
        }
        self.next_id = self.next_id.max(item.id.saturating_add(1));
        self.items.insert(item.id, item);
    }
}

/// A queue of these items (ids of 0 get the next free ones, in order).
impl FromIterator<ItemRecord> for SavedQueue {
    fn from_iter<I: IntoIterator<Item = ItemRecord>>(items: I) -> Self {
        let mut queue = SavedQueue::default();
        for item in items {
            queue.put(item);
        }
        queue
    }
}
