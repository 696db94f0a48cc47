//! The download engine: a scheduler actor that owns the queue and the worker cap, transfer
//! tasks that stream HTTP bodies to disk, and the naming, resume and retry rules.
//!
//! Front ends talk to it only through `Command` and `EngineEvent` (see `messages`). This module
//! tree must never import the terminal-UI crates or any front-end module; `tests/architecture.rs`
//! checks that.

mod answer;
mod autopilot;
mod bulk;
mod checksum;
mod cookie_store;
mod cookies;
mod destination;
mod digest_header;
mod disk;
mod disposition;
mod error;
mod fetch_text;
mod hashing;
mod hosts;
mod http;
mod item;
mod job;
pub mod limiter;
mod messages;
pub mod naming;
mod netrc;
mod open_conns;
mod options;
pub mod program;
mod publish;
mod refresh;
mod request;
pub mod reservations;
mod retry;
mod rule_folders;
mod scheduled;
mod scheduler;
mod segmented;
pub mod segments;
mod settings;
mod sidecar;
pub mod signed_url;
mod single;
mod stop;
mod sums;
mod sums_source;
mod textfile;
mod transfer;
mod urls;
mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use answer::parse_content_range;
pub use checksum::{Algo, ChecksumSource, ChecksumState, ChecksumView, ExpectedChecksum};
pub use cookies::{Cookie, CookieJar, CookiesError};
pub use disk::part_progress;
pub use error::{DownloadError, EngineError};
pub use fetch_text::download_text;
pub use item::Change;
pub use messages::{
    AddRequest, Command, ConnectionsNote, EngineEvent, ErrorKind, ItemError, ItemId, ItemLimits,
    ItemSnapshot, ItemState, RestoreAs, ResumeHint, RetryNote, StartInfo,
};
pub use netrc::{Credentials, NETRC_ENV, Netrc, NetrcError};
pub use options::{
    AUTO_CONNECTIONS, ConflictPolicy, DEFAULT_CONNECTIONS_PER_HOST, DEFAULT_MAX_CONNECTIONS_AUTO,
    EngineOptions, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_HOST, MAX_WORKERS, default_user_agent,
};
pub use program::Program;
pub use refresh::EXPIRY_MARGIN;
pub use retry::parse_retry_after;
pub use rule_folders::{FolderByExt, has_ext};
pub use settings::{ItemSettings, NetrcUse};
pub use sums::{ChecksumBook, ChecksumFile, SumsFile};
pub use sums_source::{is_url, load_sums};
pub use textfile::read_small_text;
pub use urls::{parse_download_url, redact_str, redact_url, str_without_credentials, without_credentials};

/// Capacity of the event channel. State changes wait for room (backpressure); progress events
/// are dropped when it is full, which is harmless because they carry absolute counts.
const EVENT_CHANNEL_CAPACITY: usize = 4096;

/// A running engine: the handle to command it and the task to await on shutdown.
pub struct Engine {
    handle: EngineHandle,
    task: JoinHandle<()>,
    /// Shutdown skips the command queue: after pasting 50,000 URLs, quitting must not wait
    /// until every `Add` ahead of it has been handled.
    quit: CancellationToken,
}

/// Cheap to clone; every front end holds one.
#[derive(Clone)]
pub struct EngineHandle {
    cmd_tx: mpsc::UnboundedSender<Command>,
    next_id: Arc<AtomicU64>,
}

impl Engine {
    /// Starts the scheduler on the current tokio runtime. Fails only when the HTTP client
    /// cannot be built from the options (a bad proxy URL or CA file).
    pub fn start(options: EngineOptions) -> Result<(Engine, mpsc::Receiver<EngineEvent>), EngineError> {
        let clients = (http::build_client(&options)?, http::build_http1_client(&options)?);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let scheduler = scheduler::Scheduler::new(options, clients, event_tx);
        let quit = CancellationToken::new();
        let task = tokio::spawn(scheduler.run(cmd_rx, quit.clone()));
        let handle = EngineHandle { cmd_tx, next_id: Arc::new(AtomicU64::new(1)) };
        Ok((Engine { handle, task, quit }, event_rx))
    }

    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Stops every transfer (their `.part` files stay) and waits for the engine to end.
    /// Commands sent before are applied, except `Add` and `Restore` still in the queue: they
    /// are dropped, since nothing starts any more. Keep receiving events until this returns,
    /// or drop the receiver first: the engine's state changes wait for room in the channel.
    pub async fn shutdown(self) {
        self.quit.cancel();
        // A panicked scheduler has nothing left to clean up; its panic was already reported.
        let _ = self.task.await;
    }
}

impl EngineHandle {
    /// Queues a download and returns its id at once; `Added` (and, for a bad URL, `Failed`)
    /// follows on the event channel.
    pub fn add(&self, request: AddRequest) -> ItemId {
        let id = ItemId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.send(Command::Add { id, request });
        id
    }

    /// Adds an item from a saved queue in its saved state (see `Command::Restore`); events
    /// follow as for `add`: `Added`, then `Paused`, `Completed`, `Failed` or `Cancelled`.
    pub fn restore(&self, request: AddRequest, state: RestoreAs) -> ItemId {
        self.restore_with_limits(request, state, None)
    }

    /// `restore` for an item that had its own limits; `ItemLimitsChanged` follows `Added`.
    pub fn restore_with_limits(
        &self,
        request: AddRequest,
        state: RestoreAs,
        limits: Option<ItemLimits>,
    ) -> ItemId {
        let id = ItemId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.send(Command::Restore { id, request, state, limits });
        id
    }

    /// `restore_with_limits` under the id the item had when it was saved, so ids mean the
    /// same thing across restarts; ids given out later start above it. Restore every saved
    /// item before adding new ones: an id already given out is not checked for.
    pub fn restore_as(&self, id: ItemId, request: AddRequest, state: RestoreAs, limits: Option<ItemLimits>) {
        self.next_id.fetch_max(id.0.saturating_add(1), Ordering::Relaxed);
        self.send(Command::Restore { id, request, state, limits });
    }

    /// Gives item `id` a new URL for the same file (see `Command::Refresh`), or says why `url`
    /// cannot be used; the item is not touched then.
    pub fn refresh(&self, id: ItemId, url: &str) -> Result<(), ItemError> {
        urls::parse_download_url(url).map_err(|e| e.to_item_error())?;
        self.send(Command::Refresh { id, url: url.to_string() });
        Ok(())
    }

    /// Sends a command. After shutdown the engine is gone and commands are ignored.
    pub fn send(&self, command: Command) {
        let _ = self.cmd_tx.send(command);
    }
}
