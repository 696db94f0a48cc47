//! Settings the engine runs with. Plain data with defaults; the CLI and the config file fill
//! it in. Must not depend on front-end code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::cookies::CookieJar;
use super::netrc::Netrc;
use super::program::Program;

/// Largest worker cap a person can set; beyond this a download manager only hurts itself.
pub const MAX_WORKERS: usize = 64;
/// Largest number of connections per download.
pub const MAX_CONNECTIONS: usize = 32;
/// `EngineOptions::connections` (and `ItemLimits::connections`, `SetItemConnections`) value
/// that lets the autopilot choose the count (`connections = "auto"`, `-x auto`).
pub const AUTO_CONNECTIONS: usize = 0;
/// Default for `EngineOptions::max_connections_auto`: 16, the per-host cap's default, so that
/// "no flags" can reach what `-x 16` does on a server that limits each connection (8 would
/// stop at half of it). Auto opens that many only where they help, and gives back what a jump
/// to it did not pay for.
pub const DEFAULT_MAX_CONNECTIONS_AUTO: usize = 16;
/// Default cap on connections to one host; polite, and what most servers tolerate.
pub const DEFAULT_CONNECTIONS_PER_HOST: usize = 16;
/// Largest per-host connection cap a person can set.
pub const MAX_CONNECTIONS_PER_HOST: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Folder downloads land in unless an item names its own.
    pub download_dir: PathBuf,
    /// Downloads running at once; changeable live with `Command::SetWorkers`.
    pub workers: usize,
    /// Connections per download: a fixed count (1 = a single stream), or `AUTO_CONNECTIONS`
    /// for the autopilot (`autopilot`, the default), which starts with one and adds while it
    /// helps.
    pub connections: usize,
    /// Most connections the autopilot opens for one download (the per-host cap still applies).
    pub max_connections_auto: usize,
    /// Attempts after the first one for transient failures.
    pub retries: u32,
    /// First retry delay; doubles each attempt, with jitter, up to `retry_max_delay`.
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub connect_timeout: Duration,
    /// Stall timeout: an attempt fails when no byte arrives for this long.
    pub read_timeout: Duration,
    /// Extra request headers, sent with every request.
    pub headers: Vec<(String, String)>,
    pub user_agent: String,
    /// Proxy for all requests (`http://`, `https://`, `socks5://`, `socks5h://`). When `None`,
    /// the usual `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` variables apply.
    pub proxy: Option<String>,
    /// Accept any TLS certificate. Off by default.
    pub insecure: bool,
    /// Extra PEM CA certificates to trust besides the system's.
    pub ca_files: Vec<PathBuf>,
    /// Continue `.part` files left by an earlier run and skip files already complete.
    pub continue_existing: bool,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Least time between two progress events for one item.
    pub progress_interval: Duration,
    /// Bytes per second for all downloads together; `None` is unlimited. Live:
    /// `Command::SetRateLimit`.
    pub rate_limit: Option<u64>,
    /// Bytes per second for each download; `None` is unlimited. Live per item:
    /// `Command::SetItemRateLimit`.
    pub item_rate_limit: Option<u64>,
    /// Connections open at once to one host, across all downloads. Enforced by the per-host caps
    /// (`hosts`), shared by first and segment connections.
    pub max_connections_per_host: usize,
    /// What to do when the chosen file name already exists in the folder.
    pub on_conflict: ConflictPolicy,
    /// Run to get a fresh link when an item's link expired (401, 403 or 410 after it started)
    /// or is a signed URL about to expire (see `refresh`); the default of every item. `None`:
    /// such answers fail the item, as any 4xx does.
    pub refresh_command: Option<Arc<Program>>,
    /// How long the refresh command may run before it is killed and the item fails.
    pub refresh_timeout: Duration,
    /// Logins by host (`.netrc`): sent as Basic auth to that host only (see `request`). Kept
    /// in memory only; the saved queue never holds them, a restored item finds them here.
    pub netrc: Option<Netrc>,
    /// Cookies (`--load-cookies`, `cookies_file`), each sent to its own domain and path only.
    pub cookies: CookieJar,
    /// Cookies servers set during this session, shared by every client made from these
    /// options and their clones (see `cookie_store`).
    pub session_cookies: super::cookie_store::SessionCookies,
    /// Checksums known before the downloads start: by URL (`--checksum`, `URL ALGO=HEX` list
    /// lines) and checksum files matched by file name (`--checksum-file`). Shared, since a list
    /// may hold thousands.
    pub checksums: Arc<super::sums::ChecksumBook>,
    /// With no checksum known for a download, look for `URL.sha256`, then `SHA256SUMS` next to
    /// it (one or two extra requests each; off by default).
    pub checksum_siblings: bool,
}

/// What to do when a download's file name is already taken in its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictPolicy {
    /// Save as `name (1).ext`, `name (2).ext`, …: nothing is ever replaced.
    #[default]
    Rename,
    /// Leave the existing file alone and report the item as done without downloading.
    Skip,
    /// Replace the existing file once the new one is complete.
    Overwrite,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            download_dir: PathBuf::from("."),
            workers: 4,
            connections: AUTO_CONNECTIONS,
            max_connections_auto: DEFAULT_MAX_CONNECTIONS_AUTO,
            retries: 5,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            headers: Vec::new(),
            user_agent: default_user_agent(),
            proxy: None,
            insecure: false,
            ca_files: Vec::new(),
            continue_existing: false,
            max_redirects: 10,
            progress_interval: Duration::from_millis(200),
            rate_limit: None,
            item_rate_limit: None,
            max_connections_per_host: DEFAULT_CONNECTIONS_PER_HOST,
            on_conflict: ConflictPolicy::Rename,
            refresh_command: None,
            refresh_timeout: Duration::from_secs(30),
            netrc: None,
            cookies: CookieJar::default(),
            session_cookies: Default::default(),
            checksums: Arc::default(),
            checksum_siblings: false,
        }
    }
}

/// An item's connection setting made valid: `AUTO_CONNECTIONS`, or a count in
/// 1..=MAX_CONNECTIONS.
pub fn connection_setting(n: usize) -> usize {
    if n == AUTO_CONNECTIONS { AUTO_CONNECTIONS } else { n.min(MAX_CONNECTIONS) }
}

pub fn default_user_agent() -> String {
    format!("dlm/{}", env!("CARGO_PKG_VERSION"))
}
