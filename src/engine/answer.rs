//! What a server's answer means before its body is read: the validator that guards a resume,
//! `Content-Range`, the transfer codings dlm can read, and a failed request in words. Depends on
//! reqwest, hyper's error kinds, and the engine's errors and options.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use url::Url;

use super::error::DownloadError;
use super::http::RedirectError;
use super::options::EngineOptions;
use super::retry::parse_retry_after;
use super::urls::redact_url;

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
pub fn content_range(headers: &HeaderMap) -> Option<(u64, u64, u64)> {
    headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).and_then(parse_content_range)
}

/// Whether a `206` carries exactly bytes `first..=last` of a `total`-byte file of the version
/// `validator` names. Only a strong ETag can tell versions apart here: a `Last-Modified`
/// validator was already checked by the server through `If-Range`.
pub fn is_range_of(
    headers: &HeaderMap,
    (first, last): (u64, u64),
    total: u64,
    validator: Option<&str>,
) -> bool {
    let same_range = content_range(headers) == Some((first, last, total));
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok());
    let same_version = match (validator, etag) {
        (Some(old), Some(new)) if old.starts_with('"') => old == new,
        _ => true,
    };
    same_range && same_version
}

/// A status other than success, in words, with the server's `Retry-After` if it sent one.
pub fn status_error(response: &reqwest::Response, url: String) -> DownloadError {
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
pub fn body_length(headers: &HeaderMap, url: &str) -> Result<BodyLength, DownloadError> {
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

/// Words for a failed request: redirect problems, answers that are not HTTP, timeouts,
/// refused connections.
pub fn send_error(e: &reqwest::Error, asked: &Url, options: &EngineOptions) -> DownloadError {
    let url = e.url().map_or_else(|| redact_url(asked), redact_url);
    if e.is_redirect() {
        let limit = options.max_redirects;
        let too_many = |circular| DownloadError::TooManyRedirects { url: redact_url(asked), limit, circular };
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<RedirectError>() {
                return match r {
                    RedirectError::TooMany { circular } => too_many(*circular),
                    RedirectError::Scheme(target) => DownloadError::RedirectScheme { url: target.clone() },
                };
            }
            source = s.source();
        }
        return too_many(false);
    }
    if let Some(reason) = not_http(e) {
        return DownloadError::NotHttp { url, reason };
    }
    if e.is_timeout() {
        return DownloadError::ConnectTimeout { url, after: options.connect_timeout };
    }
    if e.is_connect() {
        let reason = innermost_reason(e);
        // rustls says "invalid peer certificate: UnknownIssuer"; retrying cannot fix that, and
        // the person needs to hear what to do about it.
        if let Some(why) = reason.strip_prefix("invalid peer certificate: ") {
            return DownloadError::Certificate { url, reason: certificate_reason(why) };
        }
        return DownloadError::Connect { url, reason };
    }
    DownloadError::Network { url, reason: innermost_reason(e) }
}

/// The parser's complaint when the server's answer could not be read as an HTTP response at
/// all (another protocol, a broken status line or header, a header block too large). Such a
/// server says the same on every attempt, so it is not worth retrying.
fn not_http(e: &reqwest::Error) -> Option<String> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && h.is_parse()
        {
            return Some(h.to_string());
        }
        source = s.source();
    }
    None
}

/// rustls's certificate error names in words.
fn certificate_reason(why: &str) -> String {
    match why {
        "UnknownIssuer" => "issued by an unknown authority, perhaps self-signed".into(),
        "NotValidForName" => "issued for another host name".into(),
        "Expired" => "expired".into(),
        "NotValidYet" => "not valid yet".into(),
        "Revoked" => "revoked".into(),
        "BadSignature" => "bad signature".into(),
        other if other.starts_with("NotValidForNameContext") => "issued for another host name".into(),
        other => other.to_string(),
    }
}

/// The most specific cause in an error chain ("Connection refused (os error 111)").
pub fn innermost_reason(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
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
