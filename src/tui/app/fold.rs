//! What the engine reports, folded into the UI's model: rows for new and restored items,
//! state changes and progress, and the once-a-second tick that samples rates for the table
//! and the graph. Part of `App`, pure like the rest of it (time comes in as an argument);
//! depends on the engine's event types.

use std::path::PathBuf;
use std::time::Instant;

use crate::engine::{EngineEvent, ItemId, ItemState, redact_str};

use super::{App, HISTORY_LEN, LimitTarget, MESSAGE_TTL, Mode, RATE_SAMPLES, RetryNote, Row, dedup_key};

impl App {
    /// Records an item the loop just queued with the engine, so it shows at once and a second
    /// paste of the same URL is recognised before the engine's `Added` arrives.
    pub fn track_add(&mut self, id: ItemId, url: &str) {
        let key = dedup_key(url);
        let shown = redact_str(url.trim());
        self.insert_row(Row::new(id, shown, key));
    }

    /// Records an item restored from the saved queue with what the queue knew about it: its
    /// name, where its file goes, its size and the bytes on disk. The engine reports only
    /// `Added` and its state for it until it runs again, so without this a paused download
    /// showed "(not named yet)" and no size.
    pub fn track_restored(
        &mut self,
        id: ItemId,
        url: &str,
        name: Option<String>,
        path: Option<PathBuf>,
        total: Option<u64>,
        bytes: u64,
    ) {
        self.track_add(id, url);
        if let Some(row) = self.rows.get_mut(&id) {
            row.name = name;
            row.path = path;
            row.total = total;
            row.bytes = bytes;
            row.tick_bytes = bytes;
        }
    }

    fn insert_row(&mut self, mut row: Row) {
        row.rate_limit = self.item_defaults.rate_limit;
        row.connections = self.item_defaults.connections;
        let id = row.id;
        if self.rows.insert(id, row).is_some() {
            return;
        }
        self.order.push(id);
        // Without a filter the view is the order; appending keeps it right without an O(n)
        // rebuild per item, which matters when ten thousand URLs arrive in one paste.
        if self.filter.is_empty() && !self.view_stale {
            self.view.push(id);
        } else {
            self.view_stale = true;
        }
    }

    // ----- engine events -----

    /// Folds one engine event into the model.
    pub fn apply(&mut self, event: EngineEvent, now: Instant) {
        self.now = now;
        let id = match &event {
            EngineEvent::WorkersChanged { cap } => {
                self.cap = *cap;
                return;
            }
            EngineEvent::Stopped => {
                self.engine_stopped = true;
                return;
            }
            EngineEvent::RateLimitChanged { limit } => {
                self.rate_limit = *limit;
                return;
            }
            EngineEvent::Added { id, item } => {
                match self.rows.get_mut(id) {
                    Some(row) => row.url = item.url.clone(),
                    // Added by someone else (a future control socket): show it too.
                    None => self.insert_row(Row::new(*id, item.url.clone(), item.url.clone())),
                }
                return;
            }
            EngineEvent::Removed { id } => {
                self.remove_row(*id);
                return;
            }
            other => match other.item() {
                Some(id) => id,
                None => return,
            },
        };
        let filtering = !self.filter.is_empty();
        let Some(row) = self.rows.get_mut(&id) else { return };
        match event {
            EngineEvent::Connecting { .. } => {
                row.state = ItemState::Connecting;
                row.stop_rate();
            }
            EngineEvent::Started { info, .. } => {
                row.state = ItemState::Downloading;
                row.retry = None;
                row.name = Some(info.name.clone());
                row.total = info.total;
                row.bytes = info.offset;
                row.stop_rate();
                row.samples.push_back((now, info.offset));
                row.info = Some(info);
                // The name may now match (or stop matching) the filter.
                self.view_stale |= filtering;
            }
            EngineEvent::Progress { bytes, .. } => {
                row.bytes = bytes;
                if row.state == ItemState::Connecting {
                    row.state = ItemState::Downloading;
                }
            }
            EngineEvent::Retrying { attempt, delay, reason, .. } => {
                row.state = ItemState::Connecting;
                row.retries = attempt;
                row.retry = Some(RetryNote { attempt, delay, at: now });
                row.error = Some((reason, now));
                row.stop_rate();
            }
            EngineEvent::Paused { bytes, .. } => {
                row.state = ItemState::Paused;
                row.bytes = bytes;
                row.retry = None;
                row.stop_rate();
            }
            EngineEvent::Queued { .. } => {
                row.state = ItemState::Queued;
                row.retry = None;
                row.stop_rate();
            }
            EngineEvent::Completed { path, bytes, skipped, .. } => {
                row.state = ItemState::Done;
                row.bytes = bytes;
                row.total = Some(bytes);
                row.skipped = skipped;
                if row.name.is_none() {
                    row.name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                }
                row.path = Some(path);
                row.retry = None;
                row.stop_rate();
            }
            EngineEvent::Failed { error, .. } => {
                row.state = ItemState::Failed;
                row.error = Some((error.message, now));
                row.retry = None;
                row.stop_rate();
            }
            EngineEvent::Cancelled { .. } => {
                row.state = ItemState::Cancelled;
                row.retry = None;
                row.stop_rate();
            }
            EngineEvent::ItemLimitsChanged { rate_limit, connections, .. } => {
                row.rate_limit = rate_limit;
                row.connections = connections;
            }
            EngineEvent::Added { .. }
            | EngineEvent::Removed { .. }
            | EngineEvent::WorkersChanged { .. }
            | EngineEvent::RateLimitChanged { .. }
            | EngineEvent::ConnectionsChanged { .. }
            | EngineEvent::Stopped => {}
        }
    }

    fn remove_row(&mut self, id: ItemId) {
        if self.rows.remove(&id).is_none() {
            return;
        }
        self.order.retain(|x| *x != id);
        if let Some(pos) = self.view.iter().position(|x| *x == id) {
            self.view.remove(pos);
            if pos < self.selected {
                self.selected -= 1;
            }
        }
        self.clamp_selection();
        if matches!(self.mode, Mode::ConfirmCancel(x) | Mode::Limit(LimitTarget::Item(x)) if x == id) {
            self.mode = Mode::Normal;
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
        for row in self.rows.values_mut() {
            moved = moved.saturating_add(row.bytes.saturating_sub(row.tick_bytes));
            row.tick_bytes = row.bytes;
            if row.state != ItemState::Downloading {
                continue;
            }
            row.samples.push_back((now, row.bytes));
            while row.samples.len() > RATE_SAMPLES {
                row.samples.pop_front();
            }
            if let (Some(first), Some(last)) = (row.samples.front(), row.samples.back()) {
                let span = last.0.saturating_duration_since(first.0).as_secs_f64();
                if span > 0.0 {
                    row.rate = last.1.saturating_sub(first.1) as f64 / span;
                }
            }
            changed = true;
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
        changed || self.rows.values().any(|r| r.retry.is_some())
    }
}
