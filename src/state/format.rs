//! The saved queue's two files as bytes: the snapshot (`queue.json`, the whole queue) and the
//! journal (`queue.journal`, one JSON line per change since the snapshot: `{"put":{…}}` with an
//! item's whole record, or `{"del":ID}`). Encoding, and decoding a snapshot with its journal
//! into one queue. Pure: no I/O. Depends on `record` and serde.
//!
//! Replaying a journal is idempotent: every line carries an item's whole record, so applying a
//! journal already folded into the snapshot (a crash between writing a new snapshot and
//! emptying the journal) changes nothing. A torn last line (a crash mid-append) is dropped.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::record::ItemRecord;
use super::{STATE_VERSION, SavedQueue, Settings};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(
    clippy::large_enum_variant,
    reason = "ops are made one per line written or read, never kept in bulk; a box per op would cost more"
)]
pub enum JournalOp {
    /// An item was added or changed: its whole record.
    Put(ItemRecord),
    /// An item was removed.
    Del(u64),
    /// The worker count or the global rate limit changed: both, as they are now.
    Settings(Settings),
}

/// The snapshot's fields as read, whatever the version (checked before).
#[derive(Deserialize)]
struct SnapshotIn {
    #[serde(default)]
    start_dir: Option<PathBuf>,
    #[serde(default)]
    next_id: u64,
    #[serde(default)]
    settings: Option<Settings>,
    items: Vec<ItemRecord>,
}

#[derive(Serialize)]
struct Header<'a> {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_dir: Option<&'a PathBuf>,
    next_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<Settings>,
}

/// A snapshot file: the header, then the items one per line (so the file reads in an editor
/// and a diff), as one JSON object.
pub fn encode_snapshot(
    start_dir: Option<&PathBuf>,
    next_id: u64,
    settings: Option<Settings>,
    items: impl IntoIterator<Item = impl Borrow<ItemRecord>>,
) -> Vec<u8> {
    let header = Header { version: STATE_VERSION, start_dir, next_id, settings };
    // Serialising plain data with string keys cannot fail.
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.pop(); // the closing brace: the items follow inside the same object
    out.extend_from_slice(b",\"items\":[");
    let mut first = true;
    for item in items {
        out.extend_from_slice(if first { b"\n" } else { b",\n" });
        first = false;
        let _ = serde_json::to_writer(&mut out, item.borrow());
    }
    out.extend_from_slice(b"\n]}\n");
    out
}

/// One journal line, newline included.
pub fn encode_op(op: &JournalOp) -> Vec<u8> {
    let mut line = serde_json::to_vec(op).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Why a snapshot cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadSnapshot {
    /// Written by a newer dlm, in a format this one does not know.
    Newer(u32),
    Damaged(String),
}

/// The version a snapshot says it has, checked before the rest so that a newer file is
/// recognised as such even when this dlm cannot read its items.
pub fn decode_snapshot(bytes: &[u8]) -> Result<SavedQueue, BadSnapshot> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let version =
        serde_json::from_slice::<Version>(bytes).map_err(|e| BadSnapshot::Damaged(e.to_string()))?;
    if version.version > STATE_VERSION {
        return Err(BadSnapshot::Newer(version.version));
    }
    let s: SnapshotIn = serde_json::from_slice(bytes).map_err(|e| BadSnapshot::Damaged(e.to_string()))?;
    let mut queue = SavedQueue {
        start_dir: s.start_dir,
        next_id: s.next_id,
        items: BTreeMap::new(),
        settings: s.settings,
    };
    for item in s.items {
        queue.put(item);
    }
    Ok(queue)
}

/// What replaying a journal found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replayed {
    /// Bytes of the journal made of whole lines; anything after is a torn last line.
    pub valid_len: u64,
    /// The 1-based line that could not be read, and why; nothing after it was applied.
    pub damage: Option<(usize, String)>,
}

/// Applies the journal's lines to `queue`, up to the first damaged line.
pub fn replay(queue: &mut SavedQueue, journal: &[u8]) -> Replayed {
    let mut out = Replayed::default();
    let mut at = 0usize;
    for (n, line) in journal.split_inclusive(|b| *b == b'\n').enumerate() {
        if line.last() != Some(&b'\n') {
            // Torn: the write of this line was cut short; the line never happened.
            break;
        }
        let text = &line[..line.len() - 1];
        if !text.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<JournalOp>(text) {
                Ok(JournalOp::Put(item)) => queue.put(item),
                Ok(JournalOp::Del(id)) => {
                    queue.items.remove(&id);
                    queue.next_id = queue.next_id.max(id.saturating_add(1));
                }
                Ok(JournalOp::Settings(settings)) => queue.settings = Some(settings),
                Err(e) => {
                    out.damage = Some((n + 1, e.to_string()));
                    break;
                }
            }
        }
        at += line.len();
        out.valid_len = at as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ItemState;

    fn rec(id: u64, state: ItemState) -> ItemRecord {
        ItemRecord { state, ..ItemRecord::new(id, format!("http://h/{id}"), Some("/d".into())) }
    }

    #[test]
    fn a_snapshot_and_its_journal_make_one_queue() {
        let items = [rec(1, ItemState::Done), rec(2, ItemState::Queued), rec(3, ItemState::Paused)];
        let bytes = encode_snapshot(Some(&PathBuf::from("/start")), 9, None, &items);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"version":2,"start_dir":"/start","next_id":9,"items":["#), "{text}");
        assert_eq!(text.lines().count(), 5, "one item a line: {text}");
        let mut queue = decode_snapshot(&bytes).unwrap();
        assert_eq!(queue.items.len(), 3);
        let mut journal = encode_op(&JournalOp::Put(rec(2, ItemState::Downloading)));
        journal.extend(encode_op(&JournalOp::Del(1)));
        journal.extend(encode_op(&JournalOp::Put(rec(12, ItemState::Queued))));
        let replayed = replay(&mut queue, &journal);
        assert_eq!(replayed, Replayed { valid_len: journal.len() as u64, damage: None });
        let states: Vec<_> = queue.items.values().map(|i| (i.id, i.state)).collect();
        assert_eq!(states, [(2, ItemState::Downloading), (3, ItemState::Paused), (12, ItemState::Queued)]);
        assert_eq!(queue.next_id, 13);
        // Replaying it again (a crash before the journal was emptied) changes nothing.
        let before = queue.clone();
        replay(&mut queue, &journal);
        assert_eq!(queue, before);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_damaged_one_stops_the_replay() {
        let mut queue = SavedQueue::default();
        let whole = encode_op(&JournalOp::Put(rec(1, ItemState::Queued)));
        let mut journal = whole.clone();
        let second = encode_op(&JournalOp::Put(rec(2, ItemState::Queued)));
        journal.extend_from_slice(&second[..second.len() / 2]);
        let replayed = replay(&mut queue, &journal);
        assert_eq!(replayed, Replayed { valid_len: whole.len() as u64, damage: None });
        assert_eq!(queue.items.keys().copied().collect::<Vec<_>>(), [1]);

        let mut queue = SavedQueue::default();
        let mut journal = whole.clone();
        journal.extend_from_slice(b"{\"put\":garbage}\n");
        journal.extend(encode_op(&JournalOp::Put(rec(3, ItemState::Queued))));
        let replayed = replay(&mut queue, &journal);
        assert_eq!(replayed.valid_len, whole.len() as u64);
        assert_eq!(replayed.damage.as_ref().map(|d| d.0), Some(2));
        assert_eq!(queue.items.keys().copied().collect::<Vec<_>>(), [1], "nothing after the damage");
    }

    #[test]
    fn the_first_format_reads_with_ids_in_file_order_and_newer_ones_are_recognised() {
        let v1 = br#"{"version":1,"items":[{"url":"http://h/b","state":"running"},
                     {"url":"http://h/a","state":"queued"}]}"#;
        let queue = decode_snapshot(v1).unwrap();
        let ids: Vec<_> = queue.items.values().map(|i| (i.id, i.url.as_str())).collect();
        assert_eq!(ids, [(1, "http://h/b"), (2, "http://h/a")]);
        assert_eq!(queue.next_id, 3);
        assert_eq!(decode_snapshot(br#"{"version":7,"items":{}}"#), Err(BadSnapshot::Newer(7)));
        assert!(matches!(decode_snapshot(b"{\"version\":2}"), Err(BadSnapshot::Damaged(_))));
    }
}
