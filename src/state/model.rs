//! The saved-queue model of a running session: folds engine events into the items the queue
//! file holds. Pure: no I/O, no clock. Depends on the engine's message types and the format
//! types in `state`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{AddRequest, EngineEvent, ItemId};

use super::{ListedItem, STATE_VERSION, SavedItem, SavedLimits, SavedQueue, SavedState};

/// What an event changed, so saving can be quick for state changes and lazy for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    None,
    Progress,
    State,
}

/// The saved-queue model of a running session, kept up to date by folding engine events.
/// Pure: no I/O, no clock.
#[derive(Debug, Clone, Default)]
pub struct QueueModel {
    items: BTreeMap<ItemId, SavedItem>,
    /// Written with the queue (`SavedQueue::start_dir`).
    pub start_dir: Option<PathBuf>,
}

impl QueueModel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an item just given to the engine. Call it right after `EngineHandle::add`: the
    /// `Added` event carries the URL without credentials, and the folder is only known here.
    /// `default_dir` is the engine's folder for items that name none; pass it absolute.
    pub fn track(&mut self, id: ItemId, request: &AddRequest, default_dir: &Path) -> Change {
        let dir = request.dir.clone().unwrap_or_else(|| default_dir.to_path_buf());
        let mut item = SavedItem::new(request.url.clone(), Some(dir));
        if let Some(hint) = &request.resume {
            item.file_name = Some(hint.file_name.clone());
            item.validator.clone_from(&hint.validator);
            item.total = hint.total;
        }
        self.items.insert(id, item);
        Change::State
    }

    /// Records an item restored from a saved queue under its new engine id.
    pub fn track_saved(&mut self, id: ItemId, item: SavedItem) -> Change {
        self.items.insert(id, item);
        Change::State
    }

    /// Folds one engine event into the model.
    pub fn apply(&mut self, event: &EngineEvent) -> Change {
        if let EngineEvent::Added { id, item } = event {
            // Known from `track` already (with the full URL); otherwise keep what we are told.
            if !self.items.contains_key(id) {
                self.items.insert(*id, SavedItem::new(item.url.clone(), Some(item.dir.clone())));
                return Change::State;
            }
            return Change::None;
        }
        if let EngineEvent::Removed { id } = event {
            return if self.items.remove(id).is_some() { Change::State } else { Change::None };
        }
        let Some(item) = event.item().and_then(|id| self.items.get_mut(&id)) else { return Change::None };
        let set_state = |item: &mut SavedItem, state: SavedState| {
            let changed = item.state != state;
            item.state = state;
            if changed { Change::State } else { Change::None }
        };
        match event {
            EngineEvent::Connecting { .. } | EngineEvent::Retrying { .. } => {
                item.error = None;
                set_state(item, SavedState::Running)
            }
            EngineEvent::Started { info, .. } => {
                item.file_name = Some(info.name.clone());
                item.dir = absolute_parent(&info.path).or(item.dir.take());
                item.total = info.total;
                item.validator.clone_from(&info.validator);
                item.bytes = info.offset;
                item.state = SavedState::Running;
                Change::State
            }
            EngineEvent::Progress { bytes, .. } => {
                if item.bytes == *bytes {
                    return Change::None;
                }
                item.bytes = *bytes;
                Change::Progress
            }
            EngineEvent::Paused { bytes, .. } => {
                item.bytes = *bytes;
                item.state = SavedState::Paused;
                Change::State
            }
            EngineEvent::Queued { .. } => {
                item.error = None;
                set_state(item, SavedState::Queued)
            }
            EngineEvent::Completed { path, bytes, .. } => {
                item.file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                item.dir = absolute_parent(path).or(item.dir.take());
                item.bytes = *bytes;
                item.total = item.total.or(Some(*bytes));
                item.state = SavedState::Done;
                item.error = None;
                Change::State
            }
            EngineEvent::Failed { error, .. } => {
                item.error = Some(error.message.clone());
                item.state = SavedState::Failed;
                Change::State
            }
            EngineEvent::Cancelled { .. } => set_state(item, SavedState::Cancelled),
            EngineEvent::ItemLimitsChanged { rate_limit, connections, .. } => {
                let limits = Some(SavedLimits { rate_limit: *rate_limit, connections: *connections });
                if item.limits == limits {
                    return Change::None;
                }
                item.limits = limits;
                Change::State
            }
            EngineEvent::Added { .. }
            | EngineEvent::Removed { .. }
            | EngineEvent::WorkersChanged { .. }
            | EngineEvent::RateLimitChanged { .. }
            | EngineEvent::ConnectionsChanged { .. }
            | EngineEvent::Stopped => Change::None,
        }
    }

    /// The file contents for this model.
    pub fn snapshot(&self) -> SavedQueue {
        SavedQueue {
            version: STATE_VERSION,
            start_dir: self.start_dir.clone(),
            items: self.items.values().cloned().collect(),
        }
    }

    /// What `dlm ls` shows: every item with its engine id, URLs without credentials.
    pub fn listing(&self) -> Vec<ListedItem> {
        self.items.iter().map(|(id, item)| ListedItem::new(Some(id.0), item)).collect()
    }

    pub fn get(&self, id: ItemId) -> Option<&SavedItem> {
        self.items.get(&id)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The folder of a file the engine reports, if absolute. An engine started on a relative
/// folder (`.`) reports relative paths, and saving those made a restart from another folder
/// download everything again there; the absolute folder recorded when the item was added is
/// kept instead.
fn absolute_parent(path: &Path) -> Option<PathBuf> {
    path.parent().filter(|p| p.is_absolute()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ItemError, ItemLimits, StartInfo};
    use crate::state::restore_plan;

    fn started(id: ItemId, path: &str, offset: u64) -> EngineEvent {
        EngineEvent::Started {
            id,
            info: StartInfo {
                name: Path::new(path).file_name().unwrap().to_string_lossy().into_owned(),
                path: PathBuf::from(path),
                total: Some(100),
                offset,
                final_url: "http://h/f".into(),
                status: 200,
                resumable: true,
                validator: Some("\"v1\"".into()),
                ranges_unreliable: false,
            },
        }
    }

    #[test]
    fn fold_follows_an_item_through_its_life() {
        let mut m = QueueModel::new();
        let id = ItemId(1);
        let req = AddRequest::new("http://user:pw@h/f.iso");
        assert_eq!(m.track(id, &req, Path::new("/dl")), Change::State);
        assert_eq!(m.apply(&EngineEvent::added(id, "http://h/f.iso", "/dl")), Change::None);
        assert_eq!(m.get(id).unwrap().url, "http://user:pw@h/f.iso", "the full URL is kept");
        assert_eq!(m.apply(&EngineEvent::Connecting { id, attempt: 1 }), Change::State);
        assert_eq!(m.apply(&started(id, "/dl/f.iso", 0)), Change::State);
        assert_eq!(m.apply(&EngineEvent::Progress { id, bytes: 40 }), Change::Progress);
        assert_eq!(m.apply(&EngineEvent::Progress { id, bytes: 40 }), Change::None);
        let item = m.get(id).unwrap();
        assert_eq!(
            (item.state, item.bytes, item.total, item.file_name.as_deref()),
            (SavedState::Running, 40, Some(100), Some("f.iso"))
        );
        assert_eq!(item.validator.as_deref(), Some("\"v1\""));
        m.apply(&EngineEvent::Paused { id, bytes: 50 });
        assert_eq!((m.get(id).unwrap().state, m.get(id).unwrap().bytes), (SavedState::Paused, 50));
        m.apply(&EngineEvent::Queued { id });
        m.apply(&EngineEvent::Failed { id, error: ItemError::other("404") });
        assert_eq!(m.get(id).unwrap().error.as_deref(), Some("404"));
        m.apply(&EngineEvent::Queued { id });
        assert_eq!(m.get(id).unwrap().error, None);
        m.apply(&EngineEvent::Completed { id, path: "/dl/f (1).iso".into(), bytes: 100, skipped: false });
        let item = m.get(id).unwrap();
        assert_eq!((item.state, item.file_name.as_deref()), (SavedState::Done, Some("f (1).iso")));
        assert_eq!(m.listing()[0].url, "http://***@h/f.iso", "the listing hides credentials");
        assert_eq!(m.apply(&EngineEvent::Removed { id }), Change::State);
        assert!(m.is_empty());
        assert_eq!(m.apply(&EngineEvent::Progress { id, bytes: 1 }), Change::None);
    }

    #[test]
    fn item_limits_are_folded_saved_and_planned_back() {
        let mut m = QueueModel::new();
        let id = ItemId(1);
        m.track(id, &AddRequest::new("http://h/f.iso"), Path::new("/dl"));
        let changed = EngineEvent::ItemLimitsChanged { id, rate_limit: Some(1 << 20), connections: 4 };
        assert_eq!(m.apply(&changed), Change::State);
        assert_eq!(m.apply(&changed), Change::None, "the same limits again change nothing");
        let queue = m.snapshot();
        let json = serde_json::to_string(&queue).unwrap();
        assert!(json.contains(r#""limits":{"rate_limit":1048576,"connections":4}"#), "{json}");
        let back: SavedQueue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, queue);
        let plan = restore_plan(&back);
        assert_eq!(plan[0].limits, Some(ItemLimits { rate_limit: Some(1 << 20), connections: 4 }));
        // Items nobody changed save no limits at all, so they follow the config next time.
        m.track(ItemId(2), &AddRequest::new("http://h/g.iso"), Path::new("/dl"));
        let json = serde_json::to_string(&m.snapshot().items[1]).unwrap();
        assert!(!json.contains("limits"), "{json}");
        assert_eq!(restore_plan(&m.snapshot())[1].limits, None);
    }

    #[test]
    fn snapshot_keeps_add_order_and_folders() {
        let mut m = QueueModel::new();
        m.track(ItemId(2), &AddRequest::new("http://h/b"), Path::new("/dl"));
        m.track(
            ItemId(1),
            &AddRequest { dir: Some("/x".into()), ..AddRequest::new("http://h/a") },
            Path::new("/dl"),
        );
        let s = m.snapshot();
        assert_eq!(s.items[0].url, "http://h/a");
        assert_eq!(s.items[0].dir.as_deref(), Some(Path::new("/x")));
        assert_eq!(s.items[1].dir.as_deref(), Some(Path::new("/dl")));
    }
}
