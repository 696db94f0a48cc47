//! What a server's answer means before its body is read, the same for a download's first
//! answer and for each segment's: the asked range of the same file, the whole file, nothing
//! at that offset, another range or version, or an error; with the validator that guards a
//! resume, `Content-Range`, and the transfer codings dlm can read. Depends on reqwest, and the
//! engine's errors, retry rules and requests.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use super::error::DownloadError;
use super::request::Asked;
use super::retry::parse_retry_after;
use super::urls::redact_url;

/// What an answer to an `Asked` request means.
#[derive(Debug)]
pub enum Verdict {
    /// A `206` carrying exactly the asked range of the same version; `total` is the file's
    /// size.
    Range {
        total: u64,
        length: BodyLength,
    },
    /// The whole file from its first byte (a `200`, or another success that is not a `206`).
    Whole(WholeFile),
    /// `416` to a range request: the file has no byte at that offset (the bytes on disk are
    /// all of it, or it shrank).
    NotSatisfiable,
    /// A `206` of another range or another version: the server's ranges cannot be trusted.
    Mismatch,
    Failed(DownloadError),
}

/// What a full answer says about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeFile {
    pub total: Option<u64>,
    pub validator: Option<String>,
    /// The server could continue it from an offset: size known, identity encoding, ranges
    /// not refused.
    pub resumable: bool,
    pub length: BodyLength,
}

/// Judges `response` against what was `asked`.
pub fn classify(response: &reqwest::Response, asked: &Asked<'_>) -> Verdict {
    let status = response.status();
    let headers = response.headers();
    if status == StatusCode::RANGE_NOT_SATISFIABLE && asked.range.is_some() {
        return Verdict::NotSatisfiable;
    }
    let shown_url = redact_url(response.url());
    if status.is_redirection()
        && let Some(target) = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| response.url().join(v).ok())
            .filter(|u| !matches!(u.scheme(), "http" | "https"))
    {
        // reqwest hands back redirects to some schemes (file:, javascript:) instead of asking
        // the redirect policy; say what happened rather than "302 Found".
        return Verdict::Failed(DownloadError::RedirectScheme { url: redact_url(&target) });
    }
    if !status.is_success() {
        return Verdict::Failed(status_error(response, shown_url));
    }
    let length = match body_length(headers, &shown_url) {
        Ok(length) => length,
        Err(error) => return Verdict::Failed(error),
    };
    if status != StatusCode::PARTIAL_CONTENT {
        return Verdict::Whole(whole_file(response, length));
    }
    let Some((start, end)) = asked.range else {
        let got = "206 to a request without Range".into();
        return Verdict::Failed(DownloadError::BadContentRange { url: shown_url, got });
    };
    match content_range(headers) {
        // A server that changed the file but still answered 206 must not get its bytes spliced
        // onto the old ones.
        Some((from, to, len))
            if from == start
                && end.map_or(to.checked_add(1) == Some(len), |end| to == end)
                && asked.total.is_none_or(|t| t == len)
                && same_version(asked.validator, validator_of(headers).as_deref()) =>
        {
            Verdict::Range { total: len, length }
        }
        _ => Verdict::Mismatch,
    }
}

/// Whether an answer's validator speaks of the version the bytes on disk came from (an answer
/// without one says nothing against it).
fn same_version(old: Option<&str>, new: Option<&str>) -> bool {
    match (old, new) {
        (Some(old), Some(new)) => old == new,
        _ => true,
    }
}

/// What a full answer says about the file.
fn whole_file(response: &reqwest::Response, length: BodyLength) -> WholeFile {
    let headers = response.headers();
    let total = match length {
        BodyLength::Announced(n) => Some(n),
        BodyLength::AsFramed => response.content_length(),
    };
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    let ranges_refused =
        headers.get(header::ACCEPT_RANGES).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"none"));
    WholeFile {
        total,
        validator: validator_of(headers),
        resumable: total.is_some() && !encoded && !ranges_refused,
        length,
    }
}

/// A strong ETag, else Last-Modified: what `If-Range` may carry (weak ETags may not).
pub fn validator_of(headers: &HeaderMap) -> Option<String> {
    let get = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
    match get(header::ETAG) {
        Some(etag) if !etag.starts_with("W/") => Some(etag.to_string()),
        _ => get(header::LAST_MODIFIED).map(str::to_string),
    }
}

/// Parses `bytes START-END/LENGTH` (a known length only).
pub fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, len) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, len) = (start.trim().parse().ok()?, end.trim().parse().ok()?, len.trim().parse().ok()?);
    (start <= end && end < len).then_some((start, end, len))
}

/// The `Content-Range` of an answer, parsed.
fn content_range(headers: &HeaderMap) -> Option<(u64, u64, u64)> {
    headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).and_then(parse_content_range)
}

/// A status other than success, in words, with the server's `Retry-After` if it sent one.
fn status_error(response: &reqwest::Response, url: String) -> DownloadError {
    let retry_after: Option<Duration> = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    DownloadError::Status { status: response.status(), url, retry_after }
}

/// How long the body of an answer is, as far as dlm is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// As the HTTP stack frames it (`Content-Length`, chunked, or until the close).
    AsFramed,
    /// Only `identity` codings were named, which change nothing, and a `Content-Length` came
    /// with them. The stack then reads until the close (a `Transfer-Encoding` overrides the
    /// length), which a server that keeps the connection open would turn into a wait for the
    /// stall timeout; the body is taken to end after this many bytes instead.
    Announced(u64),
}

/// Checks `Transfer-Encoding`. The HTTP stack removes `chunked` when it is the last coding and
/// decodes nothing else, so any other coding would leave its framing or compression in the
/// file: such an answer fails, and is not worth another attempt.
fn body_length(headers: &HeaderMap, url: &str) -> Result<BodyLength, DownloadError> {
    let named: Vec<&str> =
        headers.get_all(header::TRANSFER_ENCODING).iter().map(|v| v.to_str().unwrap_or("\u{fffd}")).collect();
    if named.is_empty() {
        return Ok(BodyLength::AsFramed);
    }
    let codings: Vec<String> =
        named.iter().flat_map(|v| v.split(',')).map(|c| c.trim().to_ascii_lowercase()).collect();
    let Some((last, before)) = codings.split_last() else { return Ok(BodyLength::AsFramed) };
    let known = before.iter().all(|c| c == "identity") && (last == "identity" || last == "chunked");
    if !known {
        return Err(DownloadError::TransferCoding { coding: named.join(", "), url: url.to_string() });
    }
    if last == "chunked" {
        return Ok(BodyLength::AsFramed);
    }
    let lengths: Vec<_> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    match lengths.as_slice() {
        [one] => Ok(one
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map_or(BodyLength::AsFramed, BodyLength::Announced)),
        _ => Ok(BodyLength::AsFramed),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, 199, 200)));
        assert_eq!(parse_content_range("bytes 0-0/1"), Some((0, 0, 1)));
        assert_eq!(parse_content_range("bytes 100-199/*"), None);
        assert_eq!(parse_content_range("bytes 200-100/300"), None);
        assert_eq!(parse_content_range("bytes 0-10/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        let max = u64::MAX;
        assert_eq!(parse_content_range(&format!("bytes 0-{}/{max}", max - 1)), Some((0, max - 1, max)));
        assert_eq!(parse_content_range(&format!("bytes 0-{max}/{max}")), None);
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn only_chunked_last_and_identity_codings_are_read() {
        let length = |pairs: &[(&'static str, &'static str)]| body_length(&headers(pairs), "u");
        assert_eq!(length(&[]).unwrap(), BodyLength::AsFramed);
        assert_eq!(length(&[("transfer-encoding", "chunked")]).unwrap(), BodyLength::AsFramed);
        assert_eq!(length(&[("transfer-encoding", "Identity, CHUNKED")]).unwrap(), BodyLength::AsFramed);
        assert_eq!(length(&[("transfer-encoding", "identity")]).unwrap(), BodyLength::AsFramed);
        assert_eq!(
            length(&[
                ("transfer-encoding", "identity"),
                ("transfer-encoding", "identity"),
                ("content-length", "7")
            ])
            .unwrap(),
            BodyLength::Announced(7)
        );
        for bad in ["chunked, identity", "identityx", "gzip, chunked", "chunked, chunked", "", " , "] {
            let e = length(&[("transfer-encoding", bad)]).unwrap_err();
            assert!(e.to_string().starts_with("unsupported transfer coding"), "{bad}: {e}");
            assert!(!e.is_retryable());
        }
    }
}
