//! Changes to items by id from another shell (`dlm pause|resume|remove|retry|refresh ID…`):
//! which change applies to an item in which state (one rule, read by the session for a running
//! dlm and here for the saved queue), and applying them to the saved queue as journal lines
//! when no dlm runs. Depends on the engine's message types, `record`, `format` and `store`.
//!
//! The rules follow the terminal UI's keys: pause stops a queued or running item, resume
//! queues a paused one, retry queues a failed or cancelled one, remove forgets a finished,
//! failed or cancelled item (like `d`, which refuses one still to finish: cancel it first) and
//! never deletes a file, neither a finished file nor the `.part` of a failed or cancelled item.
//! Refresh gives any unfinished item a new URL (a failed or cancelled one is queued again).

use serde::{Deserialize, Serialize};

use crate::engine::{ItemState, str_without_credentials};

use super::format::{JournalOp, encode_op};
use super::record::ItemRecord;
use super::store::{StateError, StateStore};

/// A change to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Pause,
    Resume,
    Remove,
    Retry,
    /// A new URL for the same file (already checked as a download URL).
    Refresh(String),
}

/// What became of one id: `ok`, or why not (no such item, or not in a state it applies to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditAnswer {
    pub id: u64,
    pub ok: bool,
    /// What was done ("paused") or why nothing was ("no such item").
    pub message: String,
}

impl EditAnswer {
    pub fn missing(id: u64) -> Self {
        Self { id, ok: false, message: "no such item".into() }
    }

    /// The answer for an item in `state`: `ok` when `edit` applies to it.
    pub fn of(id: u64, edit: &Edit, state: ItemState) -> Self {
        match edit.check(state) {
            Ok(()) => Self { id, ok: true, message: edit.done().into() },
            Err(message) => Self { id, ok: false, message },
        }
    }
}

impl Edit {
    /// The command's name, as typed.
    pub fn verb(&self) -> &'static str {
        match self {
            Edit::Pause => "pause",
            Edit::Resume => "resume",
            Edit::Remove => "remove",
            Edit::Retry => "retry",
            Edit::Refresh(_) => "refresh",
        }
    }

    fn done(&self) -> &'static str {
        match self {
            Edit::Pause => "paused",
            Edit::Resume => "resumed",
            Edit::Remove => "removed from the queue (its files stay on disk)",
            Edit::Retry => "queued again",
            Edit::Refresh(_) => "has the new URL",
        }
    }

    /// Whether the change applies to an item in `state`, and in words why not.
    pub fn check(&self, state: ItemState) -> Result<(), String> {
        use ItemState::*;
        let name = state.as_str();
        let why = match (self, state) {
            (Edit::Pause, Queued | Connecting | Downloading)
            | (Edit::Resume, Paused)
            | (Edit::Retry, Failed | Cancelled)
            | (Edit::Remove, Done | Failed | Cancelled) => return Ok(()),
            (Edit::Refresh(_), s) if s != Done => return Ok(()),
            (_, Done) => "it is already done".to_string(),
            (Edit::Pause, Paused) => "it is already paused".to_string(),
            (Edit::Pause | Edit::Resume, Failed | Cancelled) => {
                format!("it is {name}; `dlm retry` queues it again")
            }
            (Edit::Resume, _) => format!("it is not paused (it is {name})"),
            (Edit::Retry, _) => format!("only failed or cancelled items are retried (it is {name})"),
            (Edit::Remove, _) => format!(
                "it is {name}; only done, failed or cancelled items are removed (pause it, or cancel \
                 it in dlm with c, first)"
            ),
            (Edit::Refresh(_), _) => format!("it is {name}"),
        };
        Err(format!("not applicable: {why}"))
    }

    /// The saved record after the change; `None` when the item goes. Only called when
    /// `check` allowed it. A failed or cancelled item given a new URL is queued again, as the
    /// running engine does: a fresh link is given to be used.
    fn apply(&self, mut item: ItemRecord, keep_credentials: bool) -> Option<ItemRecord> {
        match self {
            Edit::Pause => item.state = ItemState::Paused,
            Edit::Resume => item.state = ItemState::Queued,
            Edit::Remove => return None,
            Edit::Retry => {
                item.state = ItemState::Queued;
                item.error = None;
            }
            Edit::Refresh(url) => {
                item.url = if keep_credentials { url.clone() } else { str_without_credentials(url) };
                if matches!(item.state, ItemState::Failed | ItemState::Cancelled) {
                    item.state = ItemState::Queued;
                    item.error = None;
                }
            }
        }
        Some(item)
    }
}

/// Applies `edit` to each of `ids` in the saved queue (no dlm running), in order, and appends
/// one journal line per item it applied to, so the next dlm to start sees them. Returns the
/// load's notice (a damaged queue moved aside) and an answer per id. Call it holding the lock.
pub fn edit_saved(
    store: &StateStore,
    edit: &Edit,
    ids: &[u64],
) -> Result<(Option<String>, Vec<EditAnswer>), StateError> {
    let loaded = store.load()?;
    let mut queue = loaded.queue;
    let mut lines = Vec::new();
    let mut answers = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some(item) = queue.items.get(&id) else {
            answers.push(EditAnswer::missing(id));
            continue;
        };
        let answer = EditAnswer::of(id, edit, item.state);
        if answer.ok {
            let op = match edit.apply(item.clone(), store.saves_credentials()) {
                Some(item) => JournalOp::Put(item),
                None => JournalOp::Del(id),
            };
            lines.extend(encode_op(&op));
            // Later ids of the same list (a repeated one) see the change.
            match op {
                JournalOp::Put(item) => queue.put(item),
                _ => drop(queue.items.remove(&id)),
            }
        }
        answers.push(answer);
    }
    if !lines.is_empty() {
        store.append(&lines, loaded.journal_len)?;
    }
    Ok((loaded.notice, answers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_applies_to_the_states_the_ui_keys_do() {
        use ItemState::*;
        let all = [Queued, Connecting, Downloading, Paused, Done, Failed, Cancelled];
        let allowed =
            |edit: &Edit| -> Vec<ItemState> { all.into_iter().filter(|s| edit.check(*s).is_ok()).collect() };
        assert_eq!(allowed(&Edit::Pause), [Queued, Connecting, Downloading]);
        assert_eq!(allowed(&Edit::Resume), [Paused]);
        assert_eq!(allowed(&Edit::Retry), [Failed, Cancelled]);
        assert_eq!(allowed(&Edit::Remove), [Done, Failed, Cancelled]);
        assert_eq!(
            allowed(&Edit::Refresh("http://h/".into())),
            [Queued, Connecting, Downloading, Paused, Failed, Cancelled]
        );
        assert_eq!(Edit::Resume.check(Done).unwrap_err(), "not applicable: it is already done");
    }
}
