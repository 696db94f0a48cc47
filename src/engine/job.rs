//! What a transfer works with and how its attempts end: the state every transfer shares, an
//! item's `.part` and what guards it, the job handed to a transfer task, and the outcomes and
//! progress rule the attempt loop (`transfer`), one stream (`single`) and several connections
//! (`segmented`) have in common. Plain types; depends on the engine's limits, names and events.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use url::Url;

use super::checksum::ExpectedChecksum;
use super::error::DownloadError;
use super::hashing::Checked;
use super::hosts::HostLimits;
use super::limiter::RateLimiter;
use super::messages::{EngineEvent, ItemId};
use super::naming;
use super::options::EngineOptions;
use super::program::Program;
use super::reservations::NameReservations;
use super::settings::ItemSettings;

/// What every transfer shares: the client (one connection pool), settings, names in use, the
/// per-host connection caps, the global rate limit, and the way to report.
pub struct Shared {
    pub client: reqwest::Client,
    /// The same settings, HTTP/1.1 only, for range requests (see `http1`).
    pub http1_client: reqwest::Client,
    /// Both clients again for each proxy an item named (`ItemSettings::proxy`), made when
    /// first needed and kept, so those items share a connection pool too.
    pub proxied: std::sync::Mutex<std::collections::HashMap<String, (reqwest::Client, reqwest::Client)>>,
    pub options: EngineOptions,
    pub names: Arc<NameReservations>,
    pub hosts: HostLimits,
    pub limiter: RateLimiter,
    pub events: mpsc::Sender<EngineEvent>,
}

impl Shared {
    /// State changes must arrive; a closed receiver means nobody is listening, which is fine.
    pub async fn emit(&self, event: EngineEvent) {
        let _ = self.events.send(event).await;
    }

    /// The client for range requests: HTTP/1.1 only (see `http::build_http1_client`).
    pub fn http1(&self) -> &reqwest::Client {
        &self.http1_client
    }
}

/// Where a download's bytes go and what guards them. Known once the first answer arrived; kept
/// by the scheduler across pause, resume and retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartState {
    pub final_path: PathBuf,
    pub validator: Option<String>,
    pub total: Option<u64>,
    /// The server can continue from an offset (size known, ranges not refused or ignored).
    pub resumable: bool,
    /// For a segmented (preallocated) `.part`: the ranges not yet on disk. `None` for a single
    /// stream, whose file length is its progress.
    pub missing: Option<Vec<Span>>,
    /// The server answered a range request with something else than that range of the same
    /// version (a `200` for the same file, a `206` of another version or range). It said
    /// `Accept-Ranges: bytes` or nothing, but ranges cannot be trusted: from now on this item
    /// is one stream that starts over rather than continues, instead of splitting again.
    pub ranges_unreliable: bool,
    /// The checksum these bytes must add up to, strongest source first (see
    /// `transfer::expect_checksum`); `None` when there is none to check.
    pub checksum: Option<ExpectedChecksum>,
}

impl PartState {
    pub fn part_path(&self) -> PathBuf {
        naming::part_path(&self.final_path)
    }

    /// Deletes the `.part` and its sidecar (a cancel that deletes the partial file).
    pub fn remove_files(&self) {
        let path = self.part_path();
        let _ = std::fs::remove_file(&path);
        super::sidecar::remove_meta(&path);
    }
}

/// A half-open byte range, as in `segments`.
pub type Span = (u64, u64);

pub struct Job {
    pub id: ItemId,
    pub url: Url,
    pub dir: PathBuf,
    pub part: Option<PartState>,
    /// Connections this download may use (1 = a single stream); with `auto`, the most the
    /// autopilot may open.
    pub connections: usize,
    /// The autopilot chooses the count, up to `connections`.
    pub auto: bool,
    /// This item's own rate limit (unlimited unless set).
    pub limiter: Arc<RateLimiter>,
    /// This item's refresh command (see `refresh`), if it has one.
    pub refresh: Option<Arc<Program>>,
    /// The checksum given for this item (the request's, or the engine's book by URL).
    pub checksum: Option<ExpectedChecksum>,
    /// The file name the person chose (sanitised), instead of the answer's.
    pub name: Option<String>,
    /// Its own headers, cookies, logins and proxy (see `settings`), if it has any.
    pub settings: Option<Arc<ItemSettings>>,
}

/// What a transfer task hands back: how it ended, and the URL it ended on when the refresh
/// command replaced the one it started with (the item keeps it).
#[derive(Debug)]
pub struct Finished {
    pub outcome: Outcome,
    pub refreshed: Option<Url>,
}

#[derive(Debug)]
pub enum Outcome {
    Completed {
        path: PathBuf,
        bytes: u64,
        skipped: bool,
        part: Option<PartState>,
    },
    Failed {
        error: DownloadError,
        part: Option<PartState>,
    },
    /// The cancellation token fired; the `.part` is intact.
    Stopped {
        part: Option<PartState>,
        bytes: u64,
    },
}

/// How one attempt ended.
pub enum Attempt {
    Done {
        path: PathBuf,
        bytes: u64,
        skipped: bool,
        /// The file's checksum, when there was one to check (it matched).
        checked: Option<Checked>,
    },
    Stopped {
        bytes: u64,
    },
    /// Try again at once without counting a failure (the `.part` was adopted or must restart,
    /// or the host the answer came from had no free place).
    Again,
    /// `reached`: how much of the file this attempt had received when it failed (the end
    /// offset of one stream, the bytes of a segmented file), if it received anything.
    Error {
        error: DownloadError,
        reached: Option<u64>,
    },
}

/// The furthest point any attempt reached. Only bytes beyond it are progress: the same prefix
/// fetched again (after a restart from zero) does not make a failing server look like one
/// that is getting somewhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct Furthest(u64);

impl Furthest {
    /// Nothing before `bytes` counts as progress.
    pub fn starting_at(bytes: u64) -> Self {
        Self(bytes)
    }

    /// Records that an attempt got to `reached`; whether that is further than any before.
    pub fn advance(&mut self, reached: u64) -> bool {
        let further = reached > self.0;
        self.0 = self.0.max(reached);
        further
    }
}

/// Makes the next attempt ignore what is on disk and fetch the file from its first byte.
pub fn forget_progress(part: &mut PartState) {
    part.resumable = false;
    part.validator = None;
    part.missing = None;
}

/// The server answered a range request with another range or version: start over, and ask it
/// for no more ranges (see `PartState::ranges_unreliable`).
pub fn distrust_ranges(part: &mut PartState) {
    forget_progress(part);
    part.ranges_unreliable = true;
}
