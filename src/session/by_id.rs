//! `ById`: items kept in a `Vec` in id order, found by binary search. Ids grow as items are
//! added, so this is also the order they were added in, and an add is a push. It is how the
//! session's model and the TUI's rows hold 100,000 items: no hash table whose doubling briefly
//! holds two copies of every item, no tree whose half-full nodes waste a third. Removing is a
//! shift, which is fine for items removed one at a time by a person (and `dlm get` keeps at
//! most its window of items). Depends on the engine's `ItemId`.

use crate::engine::{ItemId, ItemSnapshot};

/// Something with an id.
pub trait Identified {
    fn id(&self) -> ItemId;
}

impl Identified for ItemSnapshot {
    fn id(&self) -> ItemId {
        self.id
    }
}

#[derive(Debug, Clone)]
pub struct ById<T> {
    items: Vec<T>,
}

impl<T> Default for ById<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T: Identified> ById<T> {
    fn find(&self, id: ItemId) -> Result<usize, usize> {
        self.items.binary_search_by_key(&id, |item| item.id())
    }

    pub fn get(&self, id: ItemId) -> Option<&T> {
        self.find(id).ok().map(|i| &self.items[i])
    }

    pub fn get_mut(&mut self, id: ItemId) -> Option<&mut T> {
        self.find(id).ok().map(|i| &mut self.items[i])
    }

    /// Adds an item, or replaces the one with its id; says whether it was new.
    pub fn insert(&mut self, item: T) -> bool {
        match self.find(item.id()) {
            Ok(i) => {
                self.items[i] = item;
                false
            }
            Err(i) => {
                self.items.insert(i, item);
                true
            }
        }
    }

    pub fn remove(&mut self, id: ItemId) -> Option<T> {
        self.find(id).ok().map(|i| self.items.remove(i))
    }

    /// In id order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct It(u64, &'static str);

    impl Identified for It {
        fn id(&self) -> ItemId {
            ItemId(self.0)
        }
    }

    #[test]
    fn items_stay_in_id_order_and_are_found_replaced_and_removed() {
        let mut list = ById::default();
        assert!(list.insert(It(2, "b")));
        assert!(list.insert(It(9, "z")));
        assert!(list.insert(It(5, "e")), "out of order still lands in place");
        assert!(!list.insert(It(5, "E")), "the same id replaces");
        assert_eq!(list.iter().map(|i| i.1).collect::<Vec<_>>(), ["b", "E", "z"]);
        assert_eq!(list.get(ItemId(9)), Some(&It(9, "z")));
        list.get_mut(ItemId(2)).unwrap().1 = "B";
        assert_eq!(list.remove(ItemId(5)), Some(It(5, "E")));
        assert_eq!(list.remove(ItemId(5)), None);
        assert_eq!(list.iter().map(|i| i.1).collect::<Vec<_>>(), ["B", "z"]);
        assert_eq!((list.len(), list.get(ItemId(7))), (2, None));
    }
}
