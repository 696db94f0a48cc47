//! Settings the engine runs with. Plain data with defaults; the CLI and the config file fill
//! it in. Must not depend on front-end code.

use std::path::PathBuf;
use std::time::Duration;

/// Largest worker cap a person can set; beyond this a download manager only hurts itself.
pub const MAX_WORKERS: usize = 64;
/// Largest number of connections per download.
pub const MAX_CONNECTIONS: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Folder downloads land in unless an item names its own.
    pub download_dir: PathBuf,
    /// Downloads running at once; changeable live with `Command::SetWorkers`.
    pub workers: usize,
    /// Connections per download (segmented downloads use this).
    pub connections: usize,
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
    /// Connections open at once to one host, shared by every item.
    pub per_host_connections: usize,
    /// Global download rate limit in bytes per second (`None`: unlimited). Live:
    /// `Command::SetRateLimit`.
    pub rate_limit: Option<u64>,
    /// Rate limit each new item starts with, in bytes per second. Live per item:
    /// `Command::SetItemRateLimit`.
    pub item_rate_limit: Option<u64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            download_dir: PathBuf::from("."),
            workers: 4,
            connections: 1,
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
            per_host_connections: 16,
            rate_limit: None,
            item_rate_limit: None,
        }
    }
}

pub fn default_user_agent() -> String {
    format!("dlm/{}", env!("CARGO_PKG_VERSION"))
}
