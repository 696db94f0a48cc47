//! One transfer as the UI shows it: the engine's `ItemSnapshot` (folded by its own `apply`,
//! the one fold every front end shares) plus what only a screen needs: when errors came, and
//! the rate sampled from byte counts over time. Pure: time comes in as an argument. Depends
//! on the engine's message types and `format`.

use std::collections::VecDeque;
use std::ops::Deref;
use std::time::{Duration, Instant};

use crate::engine::{EngineEvent, ItemId, ItemSnapshot, ItemState};
use crate::session::Identified;

/// Rate samples kept per transfer; the rate is the slope over them (about three seconds).
const RATE_SAMPLES: usize = 4;
/// A download that got no byte for this long reads "stalled" instead of "downloading 0 B/s":
/// long enough that a slow server's pauses between packets do not flicker it, short enough
/// that a hung connection shows before the person wonders.
pub const STALL_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Row {
    pub item: ItemSnapshot,
    /// When the item failed, or when the retry it waits for was announced: for "11s ago"
    /// and the countdown to the next attempt.
    pub error_at: Option<Instant>,
    /// Bytes per second, the slope over the recent samples.
    pub rate: f64,
    samples: VecDeque<(Instant, u64)>,
    /// Bytes at the previous tick, for the total-rate graph.
    pub(super) tick_bytes: u64,
    /// When the last byte arrived (or the transfer started): for "stalled 12s".
    moved_at: Option<Instant>,
    /// When this session first started the transfer and the bytes it had then: for the
    /// elapsed time and the mean rate in the details.
    began: Option<(Instant, u64)>,
    /// When it finished, failed or was cancelled: the elapsed time stops there.
    ended_at: Option<Instant>,
    /// A pause or resume asked for and not yet confirmed by the engine: shown at once, and
    /// what the next `p` toggles from, so quick presses are never lost.
    pub intent: Option<Intent>,
}

/// What the person last asked of a transfer's running, until the engine's event says it
/// happened (`Paused`; `Queued` or `Started`) or the transfer ended anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Pause,
    Resume,
}

impl Identified for Row {
    fn id(&self) -> ItemId {
        self.item.id
    }
}

/// A row reads as its snapshot: `row.state`, `row.bytes`, `row.label()`.
impl Deref for Row {
    type Target = ItemSnapshot;

    fn deref(&self) -> &ItemSnapshot {
        &self.item
    }
}

impl Row {
    pub fn new(item: ItemSnapshot) -> Self {
        // Bytes a restored item had on disk before this session are not traffic of this one.
        let tick_bytes = item.bytes;
        Self {
            item,
            error_at: None,
            rate: 0.0,
            samples: VecDeque::new(),
            tick_bytes,
            moved_at: None,
            began: None,
            ended_at: None,
            intent: None,
        }
    }

    /// Folds an event about this item: the snapshot by its `apply`, then the screen's extras.
    pub fn apply(&mut self, event: &EngineEvent, now: Instant) {
        let before = self.bytes;
        self.item.apply(event);
        self.intent = settled(self.intent, event);
        match event {
            EngineEvent::Started { info, .. } => {
                self.stop_rate();
                self.samples.push_back((now, info.offset));
                self.moved_at = Some(now);
                self.began.get_or_insert((now, info.offset));
                self.ended_at = None;
            }
            EngineEvent::Progress { .. } if self.bytes > before => self.moved_at = Some(now),
            EngineEvent::Retrying { .. } => {
                self.error_at = Some(now);
                self.stop_rate();
            }
            EngineEvent::Failed { .. } => {
                self.error_at = Some(now);
                self.ended_at = Some(now);
                self.stop_rate();
            }
            EngineEvent::Completed { .. } | EngineEvent::Cancelled { .. } => {
                self.ended_at = Some(now);
                self.stop_rate();
            }
            EngineEvent::Connecting { .. } | EngineEvent::Paused { .. } | EngineEvent::Queued { .. } => {
                self.stop_rate()
            }
            _ => {}
        }
    }

    /// How long a download has gone without a byte, once that is `STALL_AFTER` or more.
    pub fn stalled_for(&self, now: Instant) -> Option<Duration> {
        (self.state == ItemState::Downloading).then_some(())?;
        let quiet = now.saturating_duration_since(self.moved_at?);
        (quiet >= STALL_AFTER).then_some(quiet)
    }

    /// Time left before a pending retry's next attempt.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        let retry = self.retry.as_ref().filter(|_| self.state == ItemState::Connecting)?;
        Some(retry.delay.saturating_sub(now.saturating_duration_since(self.error_at?)))
    }

    /// Time since this session started the transfer (to its end, once it ended), and the
    /// mean rate over that time. `None` for an item this session never started.
    pub fn elapsed(&self, now: Instant) -> Option<(Duration, f64)> {
        let (start, from) = self.began?;
        let spent = self.ended_at.unwrap_or(now).saturating_duration_since(start);
        let secs = spent.as_secs_f64();
        let mean = if secs > 0.0 { self.bytes.saturating_sub(from) as f64 / secs } else { 0.0 };
        Some((spent, mean))
    }

    pub fn is_active(&self) -> bool {
        self.state.is_running()
    }

    /// Not finished: a new add of the same URL would be a duplicate.
    pub(super) fn is_pending(&self) -> bool {
        !self.state.is_terminal()
    }

    pub fn eta(&self) -> Option<Duration> {
        let total = self.total?;
        (self.state == ItemState::Downloading).then_some(())?;
        crate::format::eta(total.saturating_sub(self.bytes), self.rate)
    }

    /// The reason shown for a failure or a pending retry.
    pub fn trouble(&self) -> Option<&str> {
        match self.state {
            ItemState::Failed => self.error.as_ref().map(|e| e.message.as_str()),
            ItemState::Connecting => self.retry.as_ref().map(|r| r.reason.as_str()),
            _ => None,
        }
    }

    /// A tick: takes a rate sample while downloading; returns the bytes that arrived since the
    /// last tick (for the graph) and whether the row's rate may have changed.
    pub(super) fn sample(&mut self, now: Instant) -> (u64, bool) {
        let moved = self.bytes.saturating_sub(self.tick_bytes);
        self.tick_bytes = self.bytes;
        if self.state != ItemState::Downloading {
            return (moved, false);
        }
        self.samples.push_back((now, self.bytes));
        while self.samples.len() > RATE_SAMPLES {
            self.samples.pop_front();
        }
        if let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) {
            let span = last.0.saturating_duration_since(first.0).as_secs_f64();
            if span > 0.0 {
                self.rate = last.1.saturating_sub(first.1) as f64 / span;
            }
        }
        (moved, true)
    }

    fn stop_rate(&mut self) {
        self.rate = 0.0;
        self.samples.clear();
        self.tick_bytes = self.bytes;
    }
}

/// The intent left after an engine event: the event that does what was asked settles it, and
/// so does the end of the transfer.
fn settled(intent: Option<Intent>, event: &EngineEvent) -> Option<Intent> {
    let ended = matches!(
        event,
        EngineEvent::Completed { .. } | EngineEvent::Failed { .. } | EngineEvent::Cancelled { .. }
    );
    match (intent, event) {
        (_, _) if ended => None,
        (Some(Intent::Pause), EngineEvent::Paused { .. }) => None,
        (Some(Intent::Resume), EngineEvent::Queued { .. } | EngineEvent::Started { .. }) => None,
        (keep, _) => keep,
    }
}
