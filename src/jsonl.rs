//! `dlm get --json`: a headless run's events as JSON lines on stdout, one object a line, each
//! `{"event": NAME, …}`. An item's event carries the item exactly as `dlm ls --json` prints it
//! (`ItemRecord`, flattened into the object, URL without credentials), so a script reads one
//! set of field names everywhere; the event adds only its own facts (`offset`, `attempt`,
//! `path`, …). The names here are a stable interface: add fields, never rename them.
//! Depends on the engine's message types, `state::ItemRecord`, serde and `output`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::engine::{ItemSnapshot, redact_str};
use crate::state::ItemRecord;

/// One line of `dlm get --json`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JsonEvent<'a> {
    /// The item is queued (its first record: id, URL, folder).
    Added {
        #[serde(flatten)]
        item: ItemRecord,
    },
    /// An answer arrived: the record has the file's `name` and `total` (null when the server
    /// did not say); `offset` is where this attempt continues (0 from the start).
    Started {
        #[serde(flatten)]
        item: ItemRecord,
        offset: u64,
    },
    /// Bytes on disk so far, at most every `PROGRESS_EVERY` per item.
    Progress {
        #[serde(flatten)]
        item: ItemRecord,
    },
    /// An attempt failed with a transient error; attempt `attempt` starts after `delay`
    /// seconds.
    Retrying {
        #[serde(flatten)]
        item: ItemRecord,
        attempt: u32,
        delay: f64,
        reason: &'a str,
    },
    /// The complete file matched its checksum, just before `done`: the record's `checksum`
    /// says which (`algo`, `expected`, `actual`, `source`, `state`, `weak`). A mismatch is a
    /// `failed` whose `error.kind` is `checksum`, its record's `checksum.state` `mismatch`.
    Verified {
        #[serde(flatten)]
        item: ItemRecord,
    },
    /// The file is complete at `path`; `skipped` when it already was and nothing was fetched.
    Done {
        #[serde(flatten)]
        item: ItemRecord,
        path: &'a Path,
        skipped: bool,
    },
    /// The item gave up: the record's `error` says why (`{"kind", "status", "message"}`).
    Failed {
        #[serde(flatten)]
        item: ItemRecord,
    },
    /// The item was cancelled (by Ctrl-C's shutdown or from outside).
    Cancelled {
        #[serde(flatten)]
        item: ItemRecord,
    },
    /// An input refused before downloading (not a URL dlm can fetch): where it came from
    /// (`argument 2`, `urls.txt:3`) and why. Counts as failed.
    Rejected { origin: &'a str, message: &'a str },
    /// Something dlm tells the person that is not about one item.
    Notice { message: &'a str },
    /// Always the last line.
    Summary(Summary),
}

/// The last line: how the run went, and the exit status it ends with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub done: usize,
    pub failed: usize,
    /// Of `done`, those already complete on disk.
    pub skipped: usize,
    /// Bytes fetched by this run (not what resumed files already held).
    pub bytes: u64,
    pub seconds: f64,
    pub interrupted: bool,
    pub exit_code: u8,
}

/// How often one item's `progress` line may be printed: a few times a second is enough to
/// draw a bar, and a fast download's thousands of chunk events would drown a script.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// An item as `dlm ls --json` shows it. Its own limits are passed as the defaults: `dlm get`
/// never changes one item's limits, so the `limits` field, which only says "differs from
/// the others", never appears. The URL is masked again, as `dlm ls` does for the saved queue:
/// the engine already removed credentials, but this is what scripts log.
pub fn record(item: &ItemSnapshot) -> ItemRecord {
    let record = ItemRecord::of(item, item.limits);
    ItemRecord { url: redact_str(&record.url), ..record }
}

/// Prints `event` as one line on stdout. A failed write (the reader left) is ignored: the
/// downloads the person asked for matter more than their progress report.
pub fn print(event: &JsonEvent) {
    if let Ok(mut line) = serde_json::to_vec(event) {
        line.push(b'\n');
        let _ = crate::output::stdout().write_all(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ItemId, ItemLimits};

    #[test]
    fn an_item_event_is_the_listing_record_plus_its_own_fields() {
        let limits = ItemLimits { rate_limit: None, connections: 1 };
        let mut item = ItemSnapshot::new(ItemId(7), "http://u:secret@h/a.iso", "/dl".into(), limits);
        item.name = Some("a.iso".into());
        let event = JsonEvent::Done { item: record(&item), path: Path::new("/dl/a.iso"), skipped: false };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"event":"done","id":7,"url":"http://***@h/a.iso","dir":"/dl","name":"a.iso","state":"queued","bytes":0,"total":null,"error":null,"path":"/dl/a.iso","skipped":false}"#
        );
        let summary = Summary {
            done: 1,
            failed: 0,
            skipped: 0,
            bytes: 5,
            seconds: 0.5,
            interrupted: false,
            exit_code: 0,
        };
        let line = serde_json::to_string(&JsonEvent::Summary(summary)).unwrap();
        assert_eq!(
            line,
            r#"{"event":"summary","done":1,"failed":0,"skipped":0,"bytes":5,"seconds":0.5,"interrupted":false,"exit_code":0}"#
        );
    }
}
