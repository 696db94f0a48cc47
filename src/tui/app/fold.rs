//! What the engine reports (through the session), folded into the UI's model: rows appear on
//! `Added` and go on `Removed`, every other item event goes to its row's `apply` (the engine's
//! one fold plus the row's rate samples); and the once-a-second tick that samples rates for the
//! table and the graph, and the header's totals. Part of `App`, pure like the rest of it (time
//! comes in as an argument); depends on the engine's event types.

use std::time::Instant;

use crate::engine::{EngineEvent, ItemState};

use super::{App, HISTORY_LEN, MESSAGE_TTL, Row};

/// Totals for the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub queued: usize,
    pub running: usize,
    pub paused: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub bytes: u64,
    pub total: u64,
    /// Items whose size is not known yet, so `total` is a lower bound.
    pub unknown_sizes: usize,
}

impl App {
    /// Folds one engine event into the model.
    pub fn apply(&mut self, event: EngineEvent, now: Instant) {
        self.now = now;
        match &event {
            EngineEvent::WorkersChanged { cap } => self.cap = *cap,
            EngineEvent::Stopped => self.engine_stopped = true,
            EngineEvent::RateLimitChanged { limit } => self.rate_limit = *limit,
            EngineEvent::Removed { id } => self.remove_row(*id),
            EngineEvent::Added { id, item } => {
                self.adding.remove(&item.url);
                match self.rows.get_mut(*id) {
                    Some(row) => row.apply(&event, now),
                    None => {
                        let EngineEvent::Added { item, .. } = event else { return };
                        self.insert_row(Row::new(*item));
                    }
                }
            }
            other => {
                let Some(row) = other.item().and_then(|id| self.rows.get_mut(id)) else { return };
                let before = row.state;
                row.apply(&event, now);
                if row.state != before {
                    self.state_changed();
                }
                // These may name the file, which the filter may now match (or not).
                if matches!(event, EngineEvent::Started { .. } | EngineEvent::Completed { .. }) {
                    self.name_changed();
                }
            }
        }
    }

    /// Time passed: samples rates for the table and the graph, expires messages. Returns
    /// whether the screen changed. Meant to run about once a second.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.now = now;
        let mut changed = false;
        if self.message.as_ref().is_some_and(|m| now.saturating_duration_since(m.at) >= MESSAGE_TTL) {
            self.message = None;
            changed = true;
        }
        let elapsed = self.last_tick.map(|t| now.saturating_duration_since(t).as_secs_f64());
        self.last_tick = Some(now);
        let mut moved = 0u64;
        for row in self.rows.iter_mut() {
            let (bytes, sampled) = row.sample(now);
            moved = moved.saturating_add(bytes);
            changed |= sampled;
        }
        if changed {
            self.progress_moved();
        }
        if let Some(secs) = elapsed.filter(|s| *s > 0.0) {
            let point = (moved as f64 / secs) as u64;
            if point > 0 || self.history.iter().any(|&v| v > 0) {
                changed = true;
            }
            self.history.push_back(point);
            while self.history.len() > HISTORY_LEN {
                self.history.pop_front();
            }
        }
        changed || self.rows.iter().any(|r| r.retry.is_some())
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for row in self.rows.iter() {
            match row.state {
                ItemState::Queued => c.queued += 1,
                ItemState::Connecting | ItemState::Downloading => c.running += 1,
                ItemState::Paused => c.paused += 1,
                ItemState::Done => c.done += 1,
                ItemState::Failed => c.failed += 1,
                ItemState::Cancelled => c.cancelled += 1,
            }
            if row.state == ItemState::Cancelled {
                continue;
            }
            // Saturating: a server may announce any size up to 2^64-1, and two such items
            // must not overflow the header's totals.
            c.bytes = c.bytes.saturating_add(row.bytes);
            match row.total {
                Some(t) => c.total = c.total.saturating_add(t),
                None => {
                    c.unknown_sizes += 1;
                    c.total = c.total.saturating_add(row.bytes);
                }
            }
        }
        c
    }

    /// Sum of the per-transfer rates.
    pub fn total_rate(&self) -> f64 {
        self.rows.iter().filter(|r| r.is_active()).map(|r| r.rate).sum()
    }

    /// Whether time passing changes the screen: something transfers, the graph still shows
    /// recent traffic, or a message waits to expire. The loop ticks slowly otherwise.
    pub fn busy(&self) -> bool {
        self.message.is_some()
            || self.history.iter().any(|&v| v > 0)
            || self.rows.iter().any(|r| r.is_active() || r.retry.is_some())
    }
}
