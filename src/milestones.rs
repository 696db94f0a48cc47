//! The moments hooks and notifications act on, told from engine events: an item this session
//! ran finished (done or failed), and the queue finished (nothing queued or running any more
//! after something ran). Pure: no I/O, no clock. Depends only on the engine's message types.

use std::collections::HashSet;

use crate::engine::{EngineEvent, ItemId};

/// What an event meant for hooks and notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// An item that ran in this session ended: `failed` or done. Items restored already
    /// finished, skipped as already complete, or cancelled are not milestones: nothing was
    /// downloaded, or the person stopped it themselves.
    ItemFinished { id: ItemId, failed: bool },
    /// Nothing is queued or running any more, and items finished since the last time:
    /// how many were done and how many failed.
    QueueDone { done: usize, failed: usize },
}

/// Follows the engine's events to tell milestones. Feed it every event, in order.
#[derive(Debug, Default)]
pub struct QueueWatch {
    /// Items queued or running now (a paused item waits for the person, not for the queue).
    pending: HashSet<ItemId>,
    /// Items that started an attempt in this session and have not finished since.
    ran: HashSet<ItemId>,
    done: usize,
    failed: usize,
}

impl QueueWatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `apply` looks at `event` at all (progress and the like it ignores).
    pub fn watches(event: &EngineEvent) -> bool {
        matches!(
            event,
            EngineEvent::Added { .. }
                | EngineEvent::Queued { .. }
                | EngineEvent::Connecting { .. }
                | EngineEvent::Paused { .. }
                | EngineEvent::Completed { .. }
                | EngineEvent::Failed { .. }
                | EngineEvent::Cancelled { .. }
                | EngineEvent::Removed { .. }
        )
    }

    /// Folds one event; returns the milestones it reached (the item's first, then the
    /// queue's), at most two.
    pub fn apply(&mut self, event: &EngineEvent) -> Vec<Milestone> {
        let mut reached = Vec::new();
        match event {
            EngineEvent::Added { id, .. } | EngineEvent::Queued { id } => {
                self.pending.insert(*id);
            }
            EngineEvent::Connecting { id, .. } => {
                self.pending.insert(*id);
                self.ran.insert(*id);
            }
            EngineEvent::Paused { id, .. } => {
                self.pending.remove(id);
            }
            EngineEvent::Completed { id, skipped, .. } => {
                if self.finish(*id) && !skipped {
                    self.done += 1;
                    reached.push(Milestone::ItemFinished { id: *id, failed: false });
                }
            }
            EngineEvent::Failed { id, .. } => {
                if self.finish(*id) {
                    self.failed += 1;
                    reached.push(Milestone::ItemFinished { id: *id, failed: true });
                }
            }
            EngineEvent::Cancelled { id } | EngineEvent::Removed { id } => {
                self.finish(*id);
            }
            _ => return reached,
        }
        if self.pending.is_empty() && self.done + self.failed > 0 {
            reached.push(Milestone::QueueDone { done: self.done, failed: self.failed });
            (self.done, self.failed) = (0, 0);
        }
        reached
    }

    /// The item is no longer pending; whether it had run in this session.
    fn finish(&mut self, id: ItemId) -> bool {
        self.pending.remove(&id);
        self.ran.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::engine::ItemError;

    fn completed(id: u64, skipped: bool) -> EngineEvent {
        EngineEvent::Completed { id: ItemId(id), path: PathBuf::from("/d/f"), bytes: 1, skipped }
    }

    fn failed(id: u64) -> EngineEvent {
        EngineEvent::Failed { id: ItemId(id), error: ItemError::other("x") }
    }

    #[test]
    fn the_queue_is_done_when_the_last_running_item_ends() {
        let mut w = QueueWatch::new();
        for id in [1, 2] {
            assert!(w.apply(&EngineEvent::added(ItemId(id), "http://h/f", "/d")).is_empty());
            assert!(w.apply(&EngineEvent::Connecting { id: ItemId(id), attempt: 1 }).is_empty());
        }
        assert_eq!(
            w.apply(&completed(1, false)),
            vec![Milestone::ItemFinished { id: ItemId(1), failed: false }]
        );
        assert_eq!(
            w.apply(&failed(2)),
            vec![
                Milestone::ItemFinished { id: ItemId(2), failed: true },
                Milestone::QueueDone { done: 1, failed: 1 }
            ]
        );
        // A retry later makes a new round, counted from zero.
        w.apply(&EngineEvent::Queued { id: ItemId(2) });
        w.apply(&EngineEvent::Connecting { id: ItemId(2), attempt: 1 });
        assert_eq!(w.apply(&completed(2, false))[1], Milestone::QueueDone { done: 1, failed: 0 });
    }

    #[test]
    fn restored_skipped_and_cancelled_items_are_not_milestones() {
        let mut w = QueueWatch::new();
        w.apply(&EngineEvent::added(ItemId(1), "http://h/a", "/d"));
        assert!(w.apply(&completed(1, true)).is_empty(), "restored as done");
        w.apply(&EngineEvent::added(ItemId(2), "http://h/b", "/d"));
        assert!(w.apply(&failed(2)).is_empty(), "restored as failed, or an invalid URL");
        w.apply(&EngineEvent::added(ItemId(3), "http://h/c", "/d"));
        w.apply(&EngineEvent::Connecting { id: ItemId(3), attempt: 1 });
        assert!(w.apply(&EngineEvent::Cancelled { id: ItemId(3) }).is_empty());
    }

    #[test]
    fn a_paused_item_does_not_hold_the_queue_open() {
        let mut w = QueueWatch::new();
        for id in [1, 2] {
            w.apply(&EngineEvent::added(ItemId(id), "http://h/f", "/d"));
            w.apply(&EngineEvent::Connecting { id: ItemId(id), attempt: 1 });
        }
        assert!(w.apply(&EngineEvent::Paused { id: ItemId(2), bytes: 5 }).is_empty());
        assert_eq!(w.apply(&completed(1, false)).last(), Some(&Milestone::QueueDone { done: 1, failed: 0 }));
    }
}
