//! `ItemRecord`: the one serde view of an item (`ItemSnapshot`), with stable field names. The
//! saved queue stores it, `dlm ls --json` prints it, and a later `dlm get --json` is meant to
//! print it too, so a field added here appears everywhere at once. Reads the older queue
//! format's spellings (`file_name`, state `running`, an error as plain text). Depends on the
//! engine's message types and serde only.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::engine::{ChecksumView, ConnectionsNote, ItemError, ItemLimits, ItemSnapshot, ItemState};

/// One item as saved and listed. Unknown fields are ignored, so a minor addition in a later
/// dlm does not make a file unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The item's id, the same across restarts. 0 only while reading a queue file from before
    /// ids were saved; loading gives such items the next free ids, in order.
    #[serde(default)]
    pub id: u64,
    /// In the saved queue, the URL without `user:password@` unless the config's
    /// `save_credentials` is on; in a listing, always without them (`https://***@host/…`).
    pub url: String,
    /// The download folder, absolute. `None` only in files written by an older `dlm add` with
    /// no dlm running: the folder of the dlm that opens the file.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The file name, once the server answered.
    #[serde(default, alias = "file_name")]
    pub name: Option<String>,
    #[serde(deserialize_with = "state_from_any_version")]
    pub state: ItemState,
    /// Bytes on disk when last saved or listed. A restored download counts what its `.part`
    /// (or sidecar) holds instead.
    #[serde(default)]
    pub bytes: u64,
    /// The size the server announced.
    #[serde(default)]
    pub total: Option<u64>,
    /// ETag or Last-Modified guarding the `.part` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<String>,
    /// Why the item failed: `{"kind", "status", "message"}`.
    #[serde(default, deserialize_with = "error_from_any_version")]
    pub error: Option<ItemError>,
    /// The item's own rate limit and connections, when they are not the defaults every item
    /// starts with (so a changed config applies to the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsRecord>,
    /// The server answered a range of this file with the whole file: resume, retry and a
    /// restart continue it as one stream from the first byte instead of splitting it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ranges_unreliable: bool,
    /// The bytes in the `.part` failed their checksum: a retry, after a restart too, fetches
    /// the file again from the first byte over them instead of continuing them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_over: bool,
    /// The checksum the file is checked against (given, or from the server), and how the
    /// check went: kept so a restored item is still verified, and shown by `dlm ls --json`. Boxed: most items have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Box<ChecksumView>>,
    /// The `[[rule]]` the download uses, in a listing (`dlm ls --json`). Never in the saved
    /// queue: a restored item matches the rules again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A segmented download's connections and the reason for the count (`{"active", "limit",
    /// "reason"}`), in a listing. Never in the saved queue: a live figure, which a restored
    /// download measures again rather than starting from an old session's count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<ConnectionsNote>,
}

/// An item's own limits as saved and listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsRecord {
    /// Bytes per second; absent is unlimited.
    #[serde(default)]
    pub rate_limit: Option<u64>,
    pub connections: usize,
}

impl From<LimitsRecord> for ItemLimits {
    fn from(l: LimitsRecord) -> Self {
        ItemLimits { rate_limit: l.rate_limit, connections: l.connections }
    }
}

impl From<ItemLimits> for LimitsRecord {
    fn from(l: ItemLimits) -> Self {
        LimitsRecord { rate_limit: l.rate_limit, connections: l.connections }
    }
}

impl ItemRecord {
    /// A queued item nothing is known about yet (`dlm add` with no dlm running).
    pub fn new(id: u64, url: impl Into<String>, dir: Option<PathBuf>) -> Self {
        Self {
            id,
            url: url.into(),
            dir,
            name: None,
            state: ItemState::Queued,
            bytes: 0,
            total: None,
            validator: None,
            error: None,
            limits: None,
            ranges_unreliable: false,
            start_over: false,
            checksum: None,
            rule: None,
            connections: None,
        }
    }

    /// The view of a snapshot. `defaults` are the limits every item starts with: limits equal
    /// to them are left out.
    pub fn of(item: &ItemSnapshot, defaults: ItemLimits) -> Self {
        Self {
            id: item.id.0,
            url: item.url.clone(),
            dir: Some(item.dir.clone()),
            name: item.name.clone(),
            state: item.state,
            bytes: item.bytes,
            total: item.total,
            validator: item.validator.clone(),
            error: item.error.clone(),
            limits: (item.limits != defaults).then(|| item.limits.into()),
            ranges_unreliable: item.ranges_unreliable,
            start_over: item.start_over,
            checksum: item.checksum.clone().map(Box::new),
            rule: item.rule.clone(),
            connections: item.connections.clone(),
        }
    }

    /// Where the finished file is (or will be), when the name is known.
    pub fn path(&self) -> Option<PathBuf> {
        Some(self.dir.as_deref()?.join(self.name.as_deref()?))
    }
}

/// The state names of every queue format: the current seven, and `running` from the first
/// format (connecting or downloading when saved), read as downloading: it is continued from
/// its `.part` like any item that was running.
fn state_from_any_version<'de, D: Deserializer<'de>>(d: D) -> Result<ItemState, D::Error> {
    let name = String::deserialize(d)?;
    let state = match name.as_str() {
        "queued" => ItemState::Queued,
        "connecting" => ItemState::Connecting,
        "downloading" | "running" => ItemState::Downloading,
        "paused" => ItemState::Paused,
        "done" => ItemState::Done,
        "failed" => ItemState::Failed,
        "cancelled" => ItemState::Cancelled,
        other => return Err(serde::de::Error::custom(format!("unknown state {other:?}"))),
    };
    Ok(state)
}

/// An error as the first format saved it (its message only, of no particular kind) or as it
/// is saved now.
fn error_from_any_version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ItemError>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum AnyError {
        Text(String),
        Full(ItemError),
    }
    Ok(Option::<AnyError>::deserialize(d)?.map(|e| match e {
        AnyError::Text(message) => ItemError::other(message),
        AnyError::Full(error) => error,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ErrorKind, ItemId};

    #[test]
    fn a_record_has_stable_field_names_and_reads_back() {
        let limits = ItemLimits { rate_limit: None, connections: 1 };
        let mut snap = ItemSnapshot::new(ItemId(3), "http://h/a.iso", PathBuf::from("/dl"), limits);
        snap.name = Some("a.iso".into());
        snap.state = ItemState::Failed;
        snap.error = Some(ItemError { kind: ErrorKind::Http, status: Some(404), message: "404".into() });
        let json = serde_json::to_string(&ItemRecord::of(&snap, limits)).unwrap();
        assert_eq!(
            json,
            r#"{"id":3,"url":"http://h/a.iso","dir":"/dl","name":"a.iso","state":"failed","bytes":0,"total":null,"error":{"kind":"http","status":404,"message":"404"}}"#
        );
        assert_eq!(serde_json::from_str::<ItemRecord>(&json).unwrap(), ItemRecord::of(&snap, limits));
        snap.limits.connections = 4;
        let json = serde_json::to_string(&ItemRecord::of(&snap, limits)).unwrap();
        assert!(json.ends_with(r#""limits":{"rate_limit":null,"connections":4}}"#), "{json}");
    }

    #[test]
    fn the_first_formats_spellings_still_read() {
        let old = r#"{"url":"http://h/a","dir":"/d","file_name":"a","state":"running","bytes":5,
                      "error":"server answered 500","limits":{"connections":2}}"#;
        let r: ItemRecord = serde_json::from_str(old).unwrap();
        assert_eq!((r.id, r.name.as_deref(), r.state), (0, Some("a"), ItemState::Downloading));
        assert_eq!(r.error, Some(ItemError::other("server answered 500")));
        assert_eq!(r.limits, Some(LimitsRecord { rate_limit: None, connections: 2 }));
        assert_eq!(r.path(), Some(PathBuf::from("/d/a")));
        let bad = r#"{"url":"http://h/a","state":"sleeping"}"#;
        assert!(serde_json::from_str::<ItemRecord>(bad).unwrap_err().to_string().contains("sleeping"));
    }
}
