//! The engine's vocabulary: `Command`s it accepts and `EngineEvent`s it reports.
//!
//! Front ends (the TUI, `dlm get`, the control socket) only ever talk to the engine through
//! these types, and see each item as an `ItemSnapshot` (folded by `item`). Must not depend on
//! anything outside `std`, serde (for the stable names of states and error kinds), the
//! checksum vocabulary (`checksum`, plain types too) and the engine's `settings` (an item's
//! own headers, cookies, …, which an `AddRequest` may carry).

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::checksum::{ChecksumView, ExpectedChecksum};
use super::settings::ItemSettings;

/// Identifies one download for its whole life in an engine. Assigned by `EngineHandle::add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What to download and where. Everything but `url` is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddRequest {
    /// The URL as the person typed it; the engine validates it and reports a clear error.
    pub url: String,
    /// Download folder for this item; `None` means the engine's default folder.
    pub dir: Option<PathBuf>,
    /// The file name to save as inside the folder, instead of the one the server's answer
    /// suggests (`dlm get -O NAME`). A plain name: whatever would leave the folder (a `/`,
    /// `..`) is cut off by the same sanitising as a server's name. The conflict policy applies
    /// to it as to any name.
    pub name: Option<String>,
    /// Continue from an earlier attempt (a restored queue): the file name already chosen, the
    /// validator that guards the `.part` bytes, and the size the server announced.
    pub resume: Option<ResumeHint>,
    /// The checksum the finished file must have (given by the person, a list line, or kept by
    /// the saved queue from `ItemSnapshot::checksum`). `None`: the engine's `ChecksumBook`
    /// (by URL, then checksum files by name) and then the server's digest headers are used.
    pub checksum: Option<ExpectedChecksum>,
    /// The download's own headers, cookies, logins, proxy, limits… (a matched `[[rule]]`, a
    /// pasted curl command); `None`: the engine's. Never saved (see `ItemSettings`).
    pub settings: Option<std::sync::Arc<ItemSettings>>,
}

impl AddRequest {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }
}

/// Enough to continue a download whose `.part` file is already on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeHint {
    /// Final file name inside the download folder (the `.part` is `NAME.part`).
    pub file_name: String,
    /// `ETag` or `Last-Modified` from the response that produced the bytes on disk.
    pub validator: Option<String>,
    /// Size announced by the server, if it announced one.
    pub total: Option<u64>,
    /// The server answered a range request for this item with something other than that
    /// range of the same file (`ItemSnapshot::ranges_unreliable`, kept across restarts). The
    /// item then never splits and starts over in place rather than continue its `.part`, as
    /// it did before the restart. Default `false`: ranges are tried, and checked.
    pub ranges_unreliable: bool,
    /// The bytes on disk are known to be wrong (`ItemSnapshot::start_over`, kept across
    /// restarts): the `.part` keeps its name, but the next attempt writes over it from the
    /// first byte instead of continuing it.
    pub start_over: bool,
}

/// What the engine is told to do. Sent over an unbounded channel, so a front end never
/// blocks on the engine: with a bounded one, a front end waiting for room while the engine
/// waits for room in the (bounded) event channel would deadlock. Bulk producers pace
/// themselves instead: `dlm get` keeps at most 1,024 unfinished items in the engine, and the
/// control socket's adds arrive in batches. Quitting skips whatever is still queued (see
/// `Engine::shutdown`).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Add {
        id: ItemId,
        request: AddRequest,
    },
    /// Stop a queued or running item, keeping its `.part` so it can continue later.
    Pause(ItemId),
    /// Put a paused item back in the queue; it continues from its `.part`.
    Resume(ItemId),
    PauseAll,
    ResumeAll,
    /// Stop an item for good. `delete_partial` also removes its `.part` file.
    Cancel {
        id: ItemId,
        delete_partial: bool,
    },
    /// Forget a finished, failed or cancelled item (a running one is cancelled first).
    Remove(ItemId),
    /// Queue a failed or cancelled item again; bytes already on disk are reused when the
    /// server allows.
    Retry(ItemId),
    /// Change the number of downloads that may run at once (clamped to 1..=MAX_WORKERS).
    SetWorkers(usize),
    /// Change the global rate limit in bytes per second (`None`: unlimited). Applies at once.
    SetRateLimit(Option<u64>),
    /// Change one item's rate limit in bytes per second (`None`: unlimited). Applies at once.
    SetItemRateLimit {
        id: ItemId,
        limit: Option<u64>,
    },
    /// Change how many connections an item may use (clamped to 1..=MAX_CONNECTIONS), or hand
    /// the choice to the autopilot with `AUTO_CONNECTIONS` (0); a number makes the item manual.
    /// Takes effect from its next attempt (a running item is restarted from its `.part`).
    SetItemConnections {
        id: ItemId,
        connections: usize,
    },
    /// Give an item a new URL for the same file (a fresh signed link), keeping its id, name,
    /// folder and `.part`; `UrlChanged` follows. A running item restarts its attempt on the new
    /// URL from its `.part`, a queued or paused one keeps its state, a failed or cancelled one
    /// is queued again (a fresh link is given to be used). The bytes on disk are continued only
    /// if the new URL serves the same version (`If-Range`, size); another file starts over.
    /// A URL that is not http(s) is ignored here: `EngineHandle::refresh` refuses it with
    /// words. So is a finished item (its file is complete) or one whose `.part` is being
    /// deleted.
    Refresh {
        id: ItemId,
        url: String,
    },
    /// Stop every transfer (keeping `.part` files), then end the engine.
    Shutdown,
    /// Add an item from a saved queue in the state it was saved in: a paused item stays
    /// paused and a finished one stays listed (so Remove and Retry work on it) without
    /// touching the network. `RestoreAs::Queued` is the same as `Add`.
    Restore {
        id: ItemId,
        request: AddRequest,
        state: RestoreAs,
        /// Limits the person gave the item in an earlier session; applied before it can start
        /// (a later `SetItemConnections` would restart it).
        limits: Option<ItemLimits>,
    },
}

/// An item's own rate limit and connection count, as `ItemLimitsChanged` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemLimits {
    /// Bytes per second; `None` is unlimited.
    pub rate_limit: Option<u64>,
    /// A fixed count, or `AUTO_CONNECTIONS` (0): the autopilot chooses.
    pub connections: usize,
}

/// How many connections a download has open and why: the autopilot's (or a fixed count's)
/// last change, for the details pane and `dlm ls --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsNote {
    /// Connections it has (or asked for) now.
    pub active: usize,
    /// The most it may have now: the fixed count, or auto's ceiling (its maximum, the host's
    /// cap, or what the server tolerated).
    pub limit: usize,
    /// The last change in words, e.g. `4 conns — +1 gave +22 %`.
    pub reason: String,
}

/// The state a restored item starts in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RestoreAs {
    #[default]
    Queued,
    Paused,
    /// Finished earlier; the file is at `path`, or was: `missing` when it was not there any
    /// more when the queue was read (deleted or moved since), so front ends need not look.
    Done {
        path: PathBuf,
        bytes: u64,
        missing: bool,
    },
    Failed {
        error: ItemError,
    },
    Cancelled,
}

/// An item's place in its life: the one lifecycle every front end, the saved queue and
/// `dlm ls` use. The serde names are stable (JSON output, saved queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    Queued,
    Connecting,
    Downloading,
    Paused,
    Done,
    Failed,
    Cancelled,
}

impl ItemState {
    /// Finished for now: nothing will happen to the item without a command.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }

    /// Connecting or downloading.
    pub fn is_running(self) -> bool {
        matches!(self, Self::Connecting | Self::Downloading)
    }

    /// The stable name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Connecting => "connecting",
            Self::Downloading => "downloading",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Facts learned when the server answered and the file name was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInfo {
    /// Final file name inside the download folder.
    pub name: String,
    /// Where the file will be once complete.
    pub path: PathBuf,
    /// Size of the whole resource, when the server said.
    pub total: Option<u64>,
    /// Bytes already on disk when this attempt started (non-zero when resuming).
    pub offset: u64,
    /// URL after redirects (credentials removed).
    pub final_url: String,
    /// HTTP status of the answer (200, 206, …).
    pub status: u16,
    /// Whether the server supports continuing this download from an offset.
    pub resumable: bool,
    /// Validator (ETag or Last-Modified) guarding the bytes on disk, for persistence.
    pub validator: Option<String>,
    /// This server's ranges cannot be trusted for this item: it is fetched as one stream,
    /// from the first byte on every attempt (see `ResumeHint::ranges_unreliable`).
    pub ranges_unreliable: bool,
}

/// What the engine reports. State changes are delivered reliably and in order per item;
/// `Progress` is throttled at the source and may be dropped when the receiver lags.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// The item is known and queued: its first snapshot (URL without credentials, absolute
    /// folder, limits, and for a restored item the name, size and bytes already on disk).
    /// Restored items follow with the event of their saved state.
    Added {
        id: ItemId,
        item: Box<ItemSnapshot>,
    },
    /// A connection attempt is starting (`attempt` counts from 1).
    Connecting {
        id: ItemId,
        attempt: u32,
    },
    Started {
        id: ItemId,
        info: StartInfo,
    },
    /// Absolute count of bytes on disk for the item.
    Progress {
        id: ItemId,
        bytes: u64,
    },
    /// The last attempt failed with a transient error; the next starts after `delay`.
    Retrying {
        id: ItemId,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    Paused {
        id: ItemId,
        bytes: u64,
    },
    /// Back in the queue (after Resume or Retry).
    Queued {
        id: ItemId,
    },
    Completed {
        id: ItemId,
        path: PathBuf,
        bytes: u64,
        /// The file was already complete on disk and nothing was downloaded.
        skipped: bool,
    },
    Failed {
        id: ItemId,
        error: ItemError,
    },
    Cancelled {
        id: ItemId,
    },
    Removed {
        id: ItemId,
    },
    /// The worker cap changed (also sent once at start).
    WorkersChanged {
        cap: usize,
    },
    /// The global rate limit changed (also sent once at start).
    RateLimitChanged {
        limit: Option<u64>,
    },
    /// An item's own limits changed.
    ItemLimitsChanged {
        id: ItemId,
        rate_limit: Option<u64>,
        connections: usize,
    },
    /// The item's URL was replaced (`Command::Refresh`, or the refresh command gave a fresh
    /// link): `url` with any credentials removed (not masked: the saved queue keeps this URL),
    /// and when it is a signed URL, when it expires.
    UrlChanged {
        id: ItemId,
        url: String,
        expires: Option<SystemTime>,
    },
    /// A segmented download's connection count or the reason for it changed.
    ConnectionsChanged {
        id: ItemId,
        note: ConnectionsNote,
    },
    /// The engine has stopped every transfer and will send nothing more.
    Stopped,
    /// What is known of the item's checksum changed: the expected one became known (a server
    /// sent it, a checksum file named it) or the file was checked (`Verified`, or `Mismatch`
    /// just before the `Failed` with kind `checksum`).
    Checksum {
        id: ItemId,
        checksum: ChecksumView,
    },
    /// Something worth telling the person about the item that is not an error (a malformed
    /// digest header that was ignored).
    Note {
        id: ItemId,
        message: String,
    },
}

impl EngineEvent {
    /// `Added` for a new item with default limits (one connection, no rate limit): what the
    /// engine reports for an `AddRequest` without a resume hint.
    pub fn added(id: ItemId, url: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        let limits = ItemLimits { rate_limit: None, connections: 1 };
        Self::Added { id, item: Box::new(ItemSnapshot::new(id, url, dir.into(), limits)) }
    }

    /// The item this event is about, if any.
    pub fn item(&self) -> Option<ItemId> {
        match self {
            Self::Added { id, .. }
            | Self::Connecting { id, .. }
            | Self::Started { id, .. }
            | Self::Progress { id, .. }
            | Self::Retrying { id, .. }
            | Self::Paused { id, .. }
            | Self::Queued { id }
            | Self::Completed { id, .. }
            | Self::Failed { id, .. }
            | Self::Cancelled { id }
            | Self::Removed { id }
            | Self::ItemLimitsChanged { id, .. }
            | Self::UrlChanged { id, .. }
            | Self::Checksum { id, .. }
            | Self::Note { id, .. }
            | Self::ConnectionsChanged { id, .. } => Some(*id),
            Self::WorkersChanged { .. } | Self::RateLimitChanged { .. } | Self::Stopped => None,
        }
    }
}

/// Why an item failed, in two parts: a kind a front end can act on (colour, "free space, then
/// retry") and the message a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemError {
    pub kind: ErrorKind,
    /// The HTTP status, for `ErrorKind::Http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub message: String,
}

impl ItemError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, status: None, message: message.into() }
    }

    /// An error of no particular kind (restored from an older queue, or made up in a test).
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What kind of trouble ended an item. Stable names: they appear in `dlm ls --json` and the
/// saved queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not a URL dlm can fetch (malformed, not http(s)).
    InvalidUrl,
    /// The server answered with an error status (404, 403, 500 after the retries…).
    Http,
    /// Could not connect, the connection was lost, or the server went silent.
    Network,
    /// The server's TLS certificate is not trusted, or the TLS handshake failed (a server
    /// that does not speak TLS on that port, no protocol both sides know).
    Tls,
    /// The server broke HTTP: not HTTP at all, codings dlm cannot read, ranges that do not
    /// match, bodies cut short again and again.
    Protocol,
    /// Too many redirects, or a redirect to a scheme dlm does not follow.
    Redirect,
    /// The disk (or the file-size limit) is full: free space, then retry.
    DiskFull,
    /// The folder or file cannot be written.
    Permission,
    /// Another error reading or writing the file.
    Disk,
    /// No free file name was found in the folder.
    Name,
    /// The link expired and the refresh command could not give a working one.
    Refresh,
    /// The complete file does not have the expected checksum: it keeps its `.part` name, and
    /// a retry fetches it again from the first byte.
    Checksum,
    /// A bug in dlm, or an item restored from an older queue without a kind.
    Other,
}

impl ErrorKind {
    /// The stable name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid_url",
            Self::Http => "http",
            Self::Network => "network",
            Self::Tls => "tls",
            Self::Protocol => "protocol",
            Self::Redirect => "redirect",
            Self::DiskFull => "disk_full",
            Self::Permission => "permission",
            Self::Disk => "disk",
            Self::Name => "name",
            Self::Refresh => "refresh",
            Self::Checksum => "checksum",
            Self::Other => "other",
        }
    }
}

/// The last retry the engine announced for an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryNote {
    /// Failures in a row so far (1 for the first retry).
    pub attempt: u32,
    /// How long the engine waits before the next attempt.
    pub delay: Duration,
    pub reason: String,
}

/// One download as every front end sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSnapshot {
    pub id: ItemId,
    /// The URL as given, credentials removed.
    pub url: String,
    /// The download folder, absolute.
    pub dir: PathBuf,
    /// The final file name, once chosen.
    pub name: Option<String>,
    /// Where the file is (or will be, once complete), once the name is chosen.
    pub path: Option<PathBuf>,
    pub state: ItemState,
    /// Bytes on disk.
    pub bytes: u64,
    /// The size the server announced, if it did.
    pub total: Option<u64>,
    /// Bytes that were on disk when the current attempt started: rates count only what
    /// arrived after it.
    pub attempt_from: u64,
    /// ETag or Last-Modified guarding the bytes on disk.
    pub validator: Option<String>,
    /// The server can continue this download from an offset.
    pub resumable: bool,
    /// The server answered a range request with something other than that range of the same
    /// file: the item is one stream that starts over rather than continues. Saved so that a
    /// restart remembers it (pass it back in `ResumeHint`); `false` until that happens.
    pub ranges_unreliable: bool,
    /// The bytes on disk failed their checksum: the next attempt fetches the file from its
    /// first byte (over the kept `.part`). Set by a `Failed` of kind `checksum`, cleared when an
    /// attempt starts; saved, so a restart does not continue the bad bytes either.
    pub start_over: bool,
    /// The URL after redirects (credentials removed) and the status of the last answer.
    pub final_url: Option<String>,
    pub status: Option<u16>,
    /// The item's own rate limit and connection count.
    pub limits: ItemLimits,
    /// Why it failed (set while failed), or the last error before a retry.
    pub error: Option<ItemError>,
    /// The retry the engine is waiting for, while it waits.
    pub retry: Option<RetryNote>,
    /// Retries made so far for the current failure streak.
    pub retries: u32,
    /// Finished without downloading: the file was already complete on disk.
    pub skipped: bool,
    /// Restored as finished, but its file was not on disk when the saved queue was read
    /// (deleted or moved since): shown as missing rather than done. Never saved.
    pub missing: bool,
    /// When the URL stops working, for a signed URL (S3, GCS, CloudFront, Azure SAS) that says
    /// so in its query; `None` for other URLs.
    pub link_expires: Option<SystemTime>,
    /// The checksum the file is checked against and how the check went; `None` when no
    /// checksum was available (nothing given, none from the server).
    pub checksum: Option<ChecksumView>,
    /// The engine's last note about the item (see `EngineEvent::Note`).
    pub note: Option<String>,
    /// Connections of the running (or last) segmented attempt and why; `None` for one stream.
    pub connections: Option<ConnectionsNote>,
    /// The `[[rule]]` whose settings this download uses (its name, or "rule N"), if any.
    pub rule: Option<String>,
}
