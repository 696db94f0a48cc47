//! What the session still has to hand the front end, so the session never waits for it: events
//! in order, except that progress (absolute byte counts, so only the latest matters) is kept
//! as one count per item while the front end lags and handed over when nothing else waits.
//! An item's pending progress goes out before its next other event, so the front end sees each
//! item's events in order. Pure. Depends on the engine's event type.

use std::collections::{HashMap, VecDeque};

use crate::engine::{EngineEvent, ItemId};

use super::SessionEvent;

/// Events waiting beyond this make the session stop reading the engine until the front end
/// catches up: the engine then waits (for state changes) or drops progress, as it does for a
/// slow reader of its own channel, and memory stays bounded. Small, since the engine's own
/// channel already holds thousands: a larger one only held more copies of events (`dlm get`
/// grew by a megabyte and a half with 8,192).
pub const OUTBOX_LIMIT: usize = 1024;

#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<SessionEvent>,
    progress: HashMap<ItemId, u64>,
}

impl Outbox {
    /// Queues an event for the front end.
    pub fn push(&mut self, event: SessionEvent) {
        if let SessionEvent::Engine(EngineEvent::Progress { id, bytes }) = event {
            self.progress.insert(id, bytes);
            return;
        }
        if let SessionEvent::Engine(e) = &event
            && let Some(id) = e.item()
            && let Some(bytes) = self.progress.remove(&id)
        {
            self.queue.push_back(SessionEvent::Engine(EngineEvent::Progress { id, bytes }));
        }
        self.queue.push_back(event);
    }

    /// The next event to hand over: queued ones first, then the latest progress counts.
    pub fn pop(&mut self) -> Option<SessionEvent> {
        if self.queue.is_empty() && !self.progress.is_empty() {
            self.queue.extend(
                self.progress
                    .drain()
                    .map(|(id, bytes)| SessionEvent::Engine(EngineEvent::Progress { id, bytes })),
            );
        }
        self.queue.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.progress.is_empty()
    }

    /// Too much waits: stop taking more from the engine for now.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= OUTBOX_LIMIT
    }

    /// The front end is gone: nothing more will be handed over.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.progress.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(id: u64, bytes: u64) -> SessionEvent {
        SessionEvent::Engine(EngineEvent::Progress { id: ItemId(id), bytes })
    }

    #[test]
    fn progress_coalesces_per_item_and_never_overtakes_the_items_next_event() {
        let mut o = Outbox::default();
        o.push(progress(1, 10));
        o.push(progress(1, 20));
        o.push(progress(2, 5));
        let paused = SessionEvent::Engine(EngineEvent::Paused { id: ItemId(1), bytes: 25 });
        o.push(paused.clone());
        assert_eq!(o.pop(), Some(progress(1, 20)), "the latest count, before the pause");
        assert_eq!(o.pop(), Some(paused));
        assert_eq!(o.pop(), Some(progress(2, 5)), "others' progress when nothing else waits");
        assert!(o.pop().is_none() && o.is_empty());
        o.push(SessionEvent::Notice("n".into()));
        assert_eq!(o.pop(), Some(SessionEvent::Notice("n".into())));
    }
}
