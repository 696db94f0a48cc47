//! The session's model: every item the engine knows, as `ItemSnapshot`s in the order they were
//! added (ids grow with it, restored items keep theirs), kept up to date by
//! `ItemSnapshot::apply`. This is the one fold of engine events the saved queue and `dlm ls`
//! read. Pure: no I/O, no clock. Depends on the engine's message types and `by_id`.

use crate::engine::{Change, EngineEvent, ItemId, ItemSnapshot};

use super::by_id::ById;

#[derive(Debug, Default)]
pub struct Model {
    items: ById<ItemSnapshot>,
    /// Above every id seen, removed ones included, so a saved queue never reuses one.
    next_id: u64,
}

impl Model {
    /// Folds one event: `Added` inserts the item, `Removed` drops it, the rest goes to the
    /// item's own `apply`. Says what changed.
    pub fn apply(&mut self, event: &EngineEvent) -> Change {
        match event {
            EngineEvent::Added { id, item } => {
                self.next_id = self.next_id.max(id.0.saturating_add(1));
                match self.items.get_mut(*id) {
                    Some(known) => known.apply(event),
                    None => {
                        self.items.insert((**item).clone());
                        Change::Saved
                    }
                }
            }
            EngineEvent::Removed { id } => {
                if self.items.remove(*id).is_some() {
                    Change::Saved
                } else {
                    Change::None
                }
            }
            other => match other.item().and_then(|id| self.items.get_mut(id)) {
                Some(item) => item.apply(other),
                None => Change::None,
            },
        }
    }

    pub fn get(&self, id: ItemId) -> Option<&ItemSnapshot> {
        self.items.get(id)
    }

    pub fn items(&self) -> impl Iterator<Item = &ItemSnapshot> {
        self.items.iter()
    }

    /// The id a new item would get: above every id this model has seen.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Notes ids given out before this model saw them (a restored queue's), so `next_id`
    /// stays above them.
    pub fn reserve_ids(&mut self, next_id: u64) {
        self.next_id = self.next_id.max(next_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ItemState;

    #[test]
    fn items_are_added_folded_kept_in_order_and_removed() {
        let mut m = Model::default();
        assert_eq!(m.apply(&EngineEvent::added(ItemId(5), "http://h/b", "/dl")), Change::Saved);
        assert_eq!(m.apply(&EngineEvent::added(ItemId(2), "http://h/a", "/dl")), Change::Saved);
        assert_eq!(m.apply(&EngineEvent::Connecting { id: ItemId(5), attempt: 1 }), Change::Saved);
        assert_eq!(m.apply(&EngineEvent::Progress { id: ItemId(9), bytes: 1 }), Change::None);
        let order: Vec<_> = m.items().map(|i| (i.id.0, i.state)).collect();
        assert_eq!(order, [(2, ItemState::Queued), (5, ItemState::Connecting)]);
        assert_eq!(m.apply(&EngineEvent::Removed { id: ItemId(5) }), Change::Saved);
        assert_eq!(m.apply(&EngineEvent::Removed { id: ItemId(5) }), Change::None);
        assert_eq!((m.items().count(), m.next_id()), (1, 6), "a removed id is not given again");
    }
}
