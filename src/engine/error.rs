//! Errors in words a person can act on, and which of them are worth another attempt.
//! Depends only on std, reqwest's status codes and the item model's error kinds.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;

use super::messages::{ErrorKind, ItemError};

/// Why a download stopped. `Display` is the message shown to the person.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("invalid URL {input:?}: {reason}")]
    InvalidUrl { input: String, reason: String },
    #[error("not an http(s) URL: {url}")]
    UnsupportedScheme { url: String },
    #[error("{} {}: {url}", status.as_u16(), status.canonical_reason().unwrap_or("error"))]
    Status { status: StatusCode, url: String, retry_after: Option<Duration> },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "the TLS certificate of {url} is not trusted ({reason}); if you trust this server, add its \
         CA with --ca-file FILE (ca_files in the config file), or skip the check with --insecure"
    )]
    Certificate { url: String, reason: String },
    #[error("the TLS handshake with {url} failed: {reason}")]
    TlsHandshake { url: String, reason: String },
    #[error("connection to {url} timed out after {}s", secs(*after))]
    ConnectTimeout { url: String, after: Duration },
    #[error("no data from {url} for {}s (stalled)", secs(*after))]
    Stalled { url: String, after: Duration },
    #[error("no answer from {url} within {}s of asking", secs(*after))]
    NoAnswer { url: String, after: Duration },
    #[error("connection lost while downloading {url}: {reason}")]
    Network { url: String, reason: String },
    #[error("server sent {got} of the {expected} bytes it announced for {url}")]
    Truncated { url: String, got: u64, expected: u64 },
    #[error("server sent more bytes than the {expected} it announced for {url}")]
    Overlong { url: String, expected: u64 },
    /// Attempt after attempt ended at the same byte: a proxy or server with a body-size cap.
    #[error(
        "the server keeps cutting the body short at {at} bytes{} ({attempts} attempts ended there): {url}",
        expected.map(|t| format!(" of {t}")).unwrap_or_default()
    )]
    CutShort { url: String, at: u64, expected: Option<u64>, attempts: u32 },
    #[error("the server's answer is not HTTP ({reason}): {url}")]
    NotHttp { url: String, reason: String },
    #[error("unsupported transfer coding {coding:?} from {url}: dlm reads only chunked and identity")]
    TransferCoding { coding: String, url: String },
    #[error("too many redirects ({limit}) starting at {url}{}", if *circular { "; they went in a circle" } else { "" })]
    TooManyRedirects { url: String, limit: usize, circular: bool },
    #[error("redirected to a URL that is not http(s): {url}")]
    RedirectScheme { url: String },
    #[error("server answered a range request with a mismatched Content-Range {got:?} for {url}")]
    BadContentRange { url: String, got: String },
    #[error(
        "checksum mismatch: {} has {algo} {actual}, but {expected} was expected (from {from}); \
         the file keeps its .part name, and a retry downloads it again",
        path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        algo: super::checksum::Algo,
        expected: String,
        actual: String,
        from: &'static str,
    },
    #[error(
        "{} is already there but has {algo} {actual}, not the expected {expected}; move or delete \
         it to download the file again",
        path.display()
    )]
    ExistingMismatch { path: PathBuf, algo: super::checksum::Algo, expected: String, actual: String },
    /// The item's own checksum file could not be read, fetched or parsed: downloading without
    /// the check it was given for would be worse. Already says which file and why.
    #[error("{0}; the item was not downloaded unchecked (retry once the checksum file can be had)")]
    ChecksumFile(String),
    #[error("disk full writing {}", path.display())]
    DiskFull { path: PathBuf },
    #[error(
        "not enough disk space for {}: the server announced {size} bytes, {free} are free",
        path.display()
    )]
    NoSpace { path: PathBuf, size: u64, free: u64 },
    #[error("cannot write {}: permission denied", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("could not find a free file name for {name:?} in {}", dir.display())]
    NoFreeName { name: String, dir: PathBuf },
    /// The link expired (or was about to) and the refresh command gave no working one.
    #[error("cannot refresh the link {url}: {reason}")]
    Refresh { url: String, reason: String },
    /// A link fresh from the refresh command was refused as the old one was.
    #[error("{} {}: {url} (a fresh link from the refresh command was refused too)", status.as_u16(), status.canonical_reason().unwrap_or("error"))]
    RefreshedRefused { status: StatusCode, url: String },
    #[error("internal error: {0}")]
    Internal(String),
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0}") } else { format!("{s:.1}") }
}

impl DownloadError {
    /// A 503/429 or a refused/reset connection while others work: the server's per-client
    /// limit. Says which, as the autopilot's reason shows it.
    pub fn refusal(&self) -> Option<&'static str> {
        match self {
            Self::Status { status, .. } if *status == StatusCode::SERVICE_UNAVAILABLE => Some("503"),
            Self::Status { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => Some("429"),
            Self::Connect { .. } => Some("a refused connection"),
            Self::Network { .. } => Some("a reset"),
            _ => None,
        }
    }

    /// Turns an I/O error on `path` into the message a person needs ("disk full", …).
    pub fn io(path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Self::DiskFull { path },
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                Self::PermissionDenied { path }
            }
            _ if source.raw_os_error() == Some(rustix::io::Errno::FBIG.raw_os_error()) => {
                Self::DiskFull { path }
            }
            _ => Self::Io { path, source },
        }
    }

    /// Transient failures: another attempt may well succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => is_retryable_status(*status),
            Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::Stalled { .. }
            | Self::NoAnswer { .. }
            | Self::Network { .. }
            | Self::Truncated { .. }
            | Self::Overlong { .. }
            | Self::CutShort { .. }
            | Self::BadContentRange { .. } => true,
            _ => false,
        }
    }

    /// What kind of trouble this is, for front ends that explain or colour by kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidUrl { .. } | Self::UnsupportedScheme { .. } => ErrorKind::InvalidUrl,
            Self::Status { .. } | Self::RefreshedRefused { .. } => ErrorKind::Http,
            Self::Refresh { .. } => ErrorKind::Refresh,
            Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::Stalled { .. }
            | Self::NoAnswer { .. }
            | Self::Network { .. } => ErrorKind::Network,
            Self::Certificate { .. } | Self::TlsHandshake { .. } => ErrorKind::Tls,
            Self::Truncated { .. }
            | Self::Overlong { .. }
            | Self::CutShort { .. }
            | Self::NotHttp { .. }
            | Self::TransferCoding { .. }
            | Self::BadContentRange { .. } => ErrorKind::Protocol,
            Self::TooManyRedirects { .. } | Self::RedirectScheme { .. } => ErrorKind::Redirect,
            Self::DiskFull { .. } | Self::NoSpace { .. } => ErrorKind::DiskFull,
            Self::PermissionDenied { .. } => ErrorKind::Permission,
            Self::Io { .. } => ErrorKind::Disk,
            Self::NoFreeName { .. } => ErrorKind::Name,
            Self::ChecksumMismatch { .. } | Self::ExistingMismatch { .. } | Self::ChecksumFile(_) => {
                ErrorKind::Checksum
            }
            Self::Internal(_) => ErrorKind::Other,
        }
    }

    /// The kind and the words, as `EngineEvent::Failed` carries them.
    pub fn to_item_error(&self) -> ItemError {
        let status = match self {
            Self::Status { status, .. } | Self::RefreshedRefused { status, .. } => Some(status.as_u16()),
            _ => None,
        };
        ItemError { kind: self.kind(), status, message: self.to_string() }
    }

    /// The server's own `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// How long to wait for a server's answer (status and headers): connecting has its own
/// timeout, then the stall timeout applies as it does between body bytes. Without this a
/// server that accepts the connection and stays silent holds the item forever.
pub fn answer_timeout(connect: Duration, read: Duration) -> Duration {
    connect.saturating_add(read)
}

/// 408, 429 and server errors are worth retrying; other 4xx are the request's fault, and 501/505
/// say the server will never do this.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429)
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// The engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid proxy {proxy:?}: {reason}")]
    Proxy { proxy: String, reason: String },
    #[error("cannot read CA certificate {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("invalid header {header:?}: {reason}")]
    Header { header: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}
