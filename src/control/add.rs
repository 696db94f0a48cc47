//! What an `add` request carries besides its URLs: a checksum per URL, whether its folder was
//! chosen or is only the sender's default, a checksum file, and a pasted curl command (held so
//! that `Debug` never shows it). Also how a long list is cut into requests the server takes.
//! Depends on serde only.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MAX_LINE, MAX_URLS, Request};

/// One URL of an `add`: on the wire a plain string (`"https://…"`, what older clients send) or
/// `{"url":"https://…","checksum":"sha256=HEX"}` when a checksum goes with it (with
/// `"listed":true` when it came from a list line, so the item says where it came from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireUrl", into = "WireUrl")]
pub struct AddUrl {
    pub url: String,
    /// `ALGO=HEX`, checked by the session (the sender has checked it already).
    pub checksum: Option<String>,
    /// The checksum came from a `URL ALGO=HEX` list line rather than `--checksum`.
    pub listed: bool,
}

impl AddUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), checksum: None, listed: false }
    }
}

impl From<&str> for AddUrl {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WireUrl {
    Plain(String),
    Entry(Entry),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    listed: bool,
}

impl From<WireUrl> for AddUrl {
    fn from(w: WireUrl) -> Self {
        match w {
            WireUrl::Plain(url) => Self::new(url),
            WireUrl::Entry(Entry { url, checksum, listed }) => Self { url, checksum, listed },
        }
    }
}

impl From<AddUrl> for WireUrl {
    fn from(a: AddUrl) -> Self {
        match a.checksum {
            None => WireUrl::Plain(a.url),
            Some(checksum) => {
                WireUrl::Entry(Entry { url: a.url, checksum: Some(checksum), listed: a.listed })
            }
        }
    }
}

/// A pasted "Copy as cURL" command on its way to the running dlm. It holds cookies and
/// passwords: `Debug` shows none of it, and nothing logs a request's text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CurlText(pub String);

impl fmt::Debug for CurlText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurlText(***)")
    }
}

/// What goes with every URL of one `dlm add`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddExtras {
    /// `true`: the folder is only the sender's default (its shell's folder or the config's
    /// `download_dir`), and a matched rule's `dir` wins over it.
    pub dir_is_default: bool,
    /// A checksum file for these URLs: an absolute path or an http(s) URL.
    pub checksum_file: Option<String>,
    /// A curl command; then the request has no `urls`.
    pub curl: Option<CurlText>,
}

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}

/// Splits URLs into `add` requests that stay within `MAX_URLS` and `MAX_LINE`, so a list of
/// any length goes through (100,000 URLs were refused as one request that was too long).
pub(super) fn batches(urls: Vec<AddUrl>, dir: Option<&Path>, extras: &AddExtras) -> Vec<Vec<AddUrl>> {
    // The request around the URLs, with room to spare.
    let envelope =
        serde_json::to_string(&Request::add(Vec::new(), dir.map(Path::to_path_buf), extras.clone()))
            .map_or(256, |s| s.len() + 64);
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut size = envelope;
    for url in urls {
        // Quoted and escaped, plus the comma.
        let len = serde_json::to_string(&url).map_or(url.url.len() * 6 + 200, |s| s.len()) + 1;
        if !batch.is_empty() && (batch.len() == MAX_URLS || size + len > MAX_LINE) {
            out.push(std::mem::take(&mut batch));
            size = envelope;
        }
        size += len;
        batch.push(url);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}
