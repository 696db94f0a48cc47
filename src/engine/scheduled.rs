//! One item as the scheduler keeps it (`Item`) and what the scheduler is doing for it besides
//! keeping its state (`Task`). Split from the scheduler so the actor's file holds only its
//! decisions. Depends on the engine's disk, limiter, stop and transfer types.

use std::path::Path;
use std::sync::Arc;

use super::checksum::ExpectedChecksum;
use super::disk;
use super::limiter::RateLimiter;
use super::messages::ItemState;
use super::program::Program;
use super::settings::ItemSettings;
use super::stop::Running;
use super::transfer::PartState;

/// What the scheduler is doing for an item besides keeping its state: running its transfer,
/// or deleting its `.part` (which can take seconds for a large file, so it happens on the
/// blocking pool). Not a lifecycle: the lifecycle is the item's `ItemState`.
#[derive(Debug)]
pub(super) enum Task {
    Transfer(Running),
    /// Cancelled (or removed, with `then_remove`) with its `.part` to delete: reported once the
    /// files are gone. Until then the item keeps the state front ends last heard of.
    DeletePart {
        then_remove: bool,
    },
}

/// One download as the scheduler keeps it. A terminal UI keeps every item it lists in here,
/// so it is kept small (`tests/engine_memory.rs` measures it): the folder is shared, the
/// partial-file state boxed, and the item's own rate limiter made when first needed.
pub(super) struct Item {
    /// The checked URL as text (a parsed `Url` is five times the size; it is parsed again
    /// when the item starts). `None` when the URL was invalid: the item exists only to show
    /// its error.
    pub(super) url: Option<Box<str>>,
    pub(super) dir: Arc<Path>,
    pub(super) part: Option<Box<PartState>>,
    /// The state front ends were last told of, so it and theirs never disagree. The scheduler
    /// sets `Connecting` when it starts a transfer and does not follow the transfer's own
    /// `Connecting`/`Downloading` events: for it both mean running.
    pub(super) state: ItemState,
    pub(super) task: Option<Task>,
    /// A fixed count, or `AUTO_CONNECTIONS`: the autopilot chooses.
    pub(super) connections: usize,
    /// `None` until the item starts or gets its own limit; until then its limit is the
    /// engine's default (`EngineOptions::item_rate_limit`).
    pub(super) limiter: Option<Arc<RateLimiter>>,
    /// Its refresh command: the engine's default unless its settings (a rule) name one.
    pub(super) refresh: Option<Arc<Program>>,
    /// The checksum given with the item or by its URL in the engine's book (boxed: most items
    /// have none, and a long queue is kept small).
    pub(super) checksum: Option<Box<ExpectedChecksum>>,
    /// The name the person chose for the file (`AddRequest::name`), already sanitised.
    pub(super) name: Option<Box<str>>,
    /// Its own headers, cookies, logins, proxy (`AddRequest::settings`); in memory only.
    pub(super) settings: Option<Arc<ItemSettings>>,
}

impl Item {
    /// The item's own limiter, made with `default` rate if it has none yet.
    pub(super) fn limiter(&mut self, default: Option<u64>) -> &Arc<RateLimiter> {
        self.limiter.get_or_insert_with(|| Arc::new(RateLimiter::new(default)))
    }

    /// Its own limit and connection count, as `ItemLimitsChanged` reports them.
    pub(super) fn limits(&self, default: Option<u64>) -> (Option<u64>, usize) {
        (self.limiter.as_ref().map_or(default, |l| l.rate()), self.connections)
    }

    /// Its running transfer, if it has one.
    pub(super) fn transfer(&mut self) -> Option<&mut Running> {
        match &mut self.task {
            Some(Task::Transfer(running)) => Some(running),
            _ => None,
        }
    }

    /// Bytes of its `.part` on disk (what a pause keeps).
    pub(super) fn bytes_on_disk(&self) -> u64 {
        self.part.as_ref().and_then(|p| disk::part_progress(&p.part_path())).unwrap_or(0)
    }
}
