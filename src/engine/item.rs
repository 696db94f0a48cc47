//! The one item model's fold: `ItemSnapshot::apply` keeps a snapshot (defined with the rest
//! of the vocabulary in `messages`) up to date from engine events. Every front end (the TUI's
//! rows, `dlm get`'s view, the saved queue, `dlm ls`) wraps or serialises an `ItemSnapshot`, so
//! a new piece of per-item state is added in those two places once. Pure: no I/O, no clock.
//! Depends only on the engine's messages.

use std::path::PathBuf;

use super::messages::{EngineEvent, ErrorKind, ItemId, ItemLimits, ItemSnapshot, ItemState, RetryNote};

/// What folding an event changed, weakest first, so a consumer does only the work needed:
/// the saved queue is written for `Saved` only, a screen redraws for `Shown` and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    None,
    /// Only the byte count moved (it is on disk in the `.part` anyway).
    Progress,
    /// Something a person sees changed, but nothing the saved queue keeps.
    Shown,
    /// Something the saved queue keeps changed (state, name, size, validator, limits, error).
    Saved,
}

impl ItemSnapshot {
    /// A newly queued item.
    pub fn new(id: ItemId, url: impl Into<String>, dir: PathBuf, limits: ItemLimits) -> Self {
        Self {
            id,
            url: url.into(),
            dir,
            name: None,
            path: None,
            state: ItemState::Queued,
            bytes: 0,
            total: None,
            attempt_from: 0,
            validator: None,
            resumable: false,
            ranges_unreliable: false,
            start_over: false,
            missing: false,
            final_url: None,
            status: None,
            limits,
            error: None,
            retry: None,
            retries: 0,
            skipped: false,
            link_expires: None,
            checksum: None,
            note: None,
            connections: None,
            rule: None,
        }
    }

    /// The name if known, else the URL's last path segment (what the name will most likely
    /// be), else the URL.
    pub fn label(&self) -> &str {
        if let Some(name) = &self.name {
            return name;
        }
        let no_query = self.url.split(['?', '#']).next().unwrap_or(&self.url);
        let after_scheme = no_query.split_once("://").map_or(no_query, |(_, rest)| rest);
        match after_scheme.split_once('/') {
            Some((_, path)) => path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(after_scheme),
            None => after_scheme,
        }
    }

    /// Bytes received in the current attempt.
    pub fn fetched_this_attempt(&self) -> u64 {
        self.bytes.saturating_sub(self.attempt_from)
    }

    /// Folds one event about this item into the snapshot (events about other items or the
    /// whole engine change nothing) and says what changed.
    pub fn apply(&mut self, event: &EngineEvent) -> Change {
        if event.item() != Some(self.id) {
            return Change::None;
        }
        match event {
            EngineEvent::Added { item, .. } => {
                let changed = **item != *self;
                *self = (**item).clone();
                if changed { Change::Saved } else { Change::None }
            }
            EngineEvent::Connecting { .. } => {
                let was = self.state;
                self.state = ItemState::Connecting;
                self.attempt_from = self.bytes;
                if was == ItemState::Connecting { Change::Shown } else { self.lifecycle_change(was) }
            }
            EngineEvent::Started { info, .. } => {
                self.state = ItemState::Downloading;
                self.retry = None;
                self.name = Some(info.name.clone());
                self.path = Some(info.path.clone());
                // A rule may have chosen the folder by the name (see `FolderByExt`).
                if let Some(dir) = info.path.parent() {
                    self.dir = dir.to_path_buf();
                }
                self.total = info.total;
                self.bytes = info.offset;
                self.attempt_from = info.offset;
                self.final_url = Some(info.final_url.clone());
                self.status = Some(info.status);
                self.resumable = info.resumable;
                self.ranges_unreliable = info.ranges_unreliable;
                // An attempt that starts after a mismatch starts from the first byte.
                self.start_over = false;
                self.missing = false;
                self.validator.clone_from(&info.validator);
                Change::Saved
            }
            EngineEvent::Progress { bytes, .. } => {
                let moved = self.bytes != *bytes;
                self.bytes = *bytes;
                if self.state == ItemState::Connecting {
                    self.state = ItemState::Downloading;
                    return Change::Shown;
                }
                if moved { Change::Progress } else { Change::None }
            }
            EngineEvent::Retrying { attempt, delay, reason, .. } => {
                let was = self.state;
                self.state = ItemState::Connecting;
                self.retries = *attempt;
                self.retry = Some(RetryNote { attempt: *attempt, delay: *delay, reason: reason.clone() });
                self.lifecycle_change(was).max(Change::Shown)
            }
            EngineEvent::Paused { bytes, .. } => {
                self.bytes = *bytes;
                self.retry = None;
                self.set_state(ItemState::Paused)
            }
            EngineEvent::Queued { .. } => {
                self.retry = None;
                self.error = None;
                self.set_state(ItemState::Queued).max(Change::Saved)
            }
            EngineEvent::Completed { path, bytes, skipped, .. } => {
                self.bytes = *bytes;
                self.total = Some(*bytes);
                self.skipped = *skipped;
                // Fetched or found again: the file is there now.
                self.missing &= *skipped;
                self.name = path.file_name().map(|n| n.to_string_lossy().into_owned()).or(self.name.take());
                if let Some(dir) = path.parent() {
                    self.dir = dir.to_path_buf();
                }
                self.path = Some(path.clone());
                self.retry = None;
                self.error = None;
                self.set_state(ItemState::Done).max(Change::Saved)
            }
            EngineEvent::Failed { error, .. } => {
                self.start_over |= error.kind == ErrorKind::Checksum;
                self.error = Some(error.clone());
                self.retry = None;
                self.set_state(ItemState::Failed).max(Change::Saved)
            }
            EngineEvent::Cancelled { .. } => {
                self.retry = None;
                self.set_state(ItemState::Cancelled)
            }
            EngineEvent::ItemLimitsChanged { rate_limit, connections, .. } => {
                let limits = ItemLimits { rate_limit: *rate_limit, connections: *connections };
                if self.limits == limits {
                    return Change::None;
                }
                self.limits = limits;
                Change::Saved
            }
            EngineEvent::UrlChanged { url, expires, .. } => {
                if self.url == *url && self.link_expires == *expires {
                    return Change::None;
                }
                self.url.clone_from(url);
                self.link_expires = *expires;
                Change::Saved
            }
            EngineEvent::Checksum { checksum, .. } => {
                if self.checksum.as_ref() == Some(checksum) {
                    return Change::None;
                }
                self.checksum = Some(checksum.clone());
                // The saved queue keeps the expected checksum across restarts.
                Change::Saved
            }
            EngineEvent::Note { message, .. } => {
                self.note = Some(message.clone());
                Change::Shown
            }
            EngineEvent::ConnectionsChanged { note, .. } => {
                if self.connections.as_ref() == Some(note) {
                    return Change::None;
                }
                self.connections = Some(note.clone());
                Change::Shown
            }
            // Removal is the owner's business (it drops the snapshot).
            EngineEvent::Removed { .. } => Change::Saved,
            EngineEvent::WorkersChanged { .. }
            | EngineEvent::RateLimitChanged { .. }
            | EngineEvent::Stopped => Change::None,
        }
    }

    fn set_state(&mut self, state: ItemState) -> Change {
        let was = self.state;
        self.state = state;
        self.lifecycle_change(was)
    }

    /// A move between lifecycle states is saved when the saved queue tells the two apart
    /// (connecting and downloading are both "running" there).
    fn lifecycle_change(&self, was: ItemState) -> Change {
        let running = |s: ItemState| matches!(s, ItemState::Connecting | ItemState::Downloading);
        if was == self.state || (running(was) && running(self.state)) { Change::Shown } else { Change::Saved }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::messages::{ErrorKind, ItemError, StartInfo};

    fn item() -> ItemSnapshot {
        let limits = ItemLimits { rate_limit: None, connections: 1 };
        ItemSnapshot::new(ItemId(7), "https://example.com/a/file.iso?x=1", PathBuf::from("/dl"), limits)
    }

    fn started(offset: u64) -> EngineEvent {
        EngineEvent::Started {
            id: ItemId(7),
            info: StartInfo {
                name: "file.iso".into(),
                path: PathBuf::from("/dl/file.iso"),
                total: Some(1000),
                offset,
                final_url: "https://example.com/a/file.iso?x=1".into(),
                status: 206,
                resumable: true,
                validator: Some("\"v1\"".into()),
                ranges_unreliable: false,
            },
        }
    }

    #[test]
    fn a_download_is_folded_from_queued_to_done() {
        let mut s = item();
        assert_eq!(s.label(), "file.iso");
        assert_eq!(s.apply(&EngineEvent::Connecting { id: ItemId(7), attempt: 1 }), Change::Saved);
        assert_eq!(s.apply(&started(100)), Change::Saved);
        assert_eq!(
            (s.state, s.bytes, s.attempt_from, s.total),
            (ItemState::Downloading, 100, 100, Some(1000))
        );
        assert_eq!(s.apply(&EngineEvent::Progress { id: ItemId(7), bytes: 400 }), Change::Progress);
        assert_eq!(s.fetched_this_attempt(), 300);
        let EngineEvent::Started { id, mut info } = started(0) else { unreachable!() };
        info.ranges_unreliable = true;
        assert_eq!(s.apply(&EngineEvent::Started { id, info }), Change::Saved);
        assert!(s.ranges_unreliable, "kept for the saved queue");
        s.apply(&EngineEvent::Progress { id: ItemId(7), bytes: 400 });
        let done = EngineEvent::Completed {
            id: ItemId(7),
            path: PathBuf::from("/dl/file.iso"),
            bytes: 1000,
            skipped: false,
        };
        assert_eq!(s.apply(&done), Change::Saved);
        assert_eq!(
            (s.state, s.bytes, s.path.as_deref()),
            (ItemState::Done, 1000, Some(std::path::Path::new("/dl/file.iso")))
        );
    }

    #[test]
    fn moving_between_connecting_and_downloading_is_not_a_saved_change() {
        let mut s = item();
        s.apply(&EngineEvent::Connecting { id: ItemId(7), attempt: 1 });
        s.apply(&started(0));
        let retry = EngineEvent::Retrying {
            id: ItemId(7),
            attempt: 1,
            delay: Duration::from_secs(2),
            reason: "connection lost".into(),
        };
        assert_eq!(s.apply(&retry), Change::Shown);
        assert_eq!(s.retry.as_ref().map(|r| r.attempt), Some(1));
        assert_eq!(s.apply(&EngineEvent::Connecting { id: ItemId(7), attempt: 2 }), Change::Shown);
        assert_eq!(s.retry.as_ref().map(|r| r.attempt), Some(1), "the note stays until an answer");
        s.apply(&started(0));
        assert!(s.retry.is_none());
    }

    #[test]
    fn a_failure_keeps_its_kind_and_a_retry_clears_it() {
        let mut s = item();
        let error = ItemError { kind: ErrorKind::Http, status: Some(404), message: "404 Not Found".into() };
        assert_eq!(s.apply(&EngineEvent::Failed { id: ItemId(7), error: error.clone() }), Change::Saved);
        assert_eq!((s.state, s.error.as_ref()), (ItemState::Failed, Some(&error)));
        assert_eq!(s.apply(&EngineEvent::Queued { id: ItemId(7) }), Change::Saved);
        assert!(s.error.is_none());
    }

    #[test]
    fn a_new_url_is_kept_by_the_saved_queue_with_its_expiry() {
        let mut s = item();
        let expires = Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let changed = EngineEvent::UrlChanged { id: ItemId(7), url: "https://example.com/b".into(), expires };
        assert_eq!(s.apply(&changed), Change::Saved);
        assert_eq!((s.url.as_str(), s.link_expires), ("https://example.com/b", expires));
        assert_eq!(s.apply(&changed), Change::None, "the same URL again changes nothing");
    }

    #[test]
    fn events_about_other_items_change_nothing() {
        let mut s = item();
        let before = s.clone();
        assert_eq!(s.apply(&EngineEvent::Progress { id: ItemId(8), bytes: 5 }), Change::None);
        assert_eq!(s.apply(&EngineEvent::WorkersChanged { cap: 3 }), Change::None);
        assert_eq!(s, before);
    }
}
