//! One download from first request to published file: attempts with retry and backoff, a
//! validated resume of the `.part` on every attempt after the first, name choice, streaming to
//! disk with a stall timeout, and throttled progress. Depends on the rest of the engine only.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::disk::{self, PartMeta, PartWriter};
use super::error::{DownloadError, answer_timeout};
use super::hosts::HostLimits;
use super::http::RedirectError;
use super::limiter::{RateLimiter, pace};
use super::messages::{EngineEvent, ItemId, StartInfo};
use super::naming::{self, NameReservations};
use super::options::{ConflictPolicy, EngineOptions};
use super::retry::{backoff_delay, parse_retry_after};
use super::segmented;
use super::segments::Span;
use super::urls::redact_url;

/// What every transfer shares: the client (one connection pool), settings, names in use, the
/// per-host connection caps, the global rate limit, and the way to report.
pub struct Shared {
    pub client: reqwest::Client,
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
}

/// Where a download's bytes go and what guards them. Known once the first answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartState {
    pub final_path: PathBuf,
    pub validator: Option<String>,
    pub total: Option<u64>,
    /// The server can continue from an offset (size known, ranges not refused).
    pub resumable: bool,
    /// For a segmented (preallocated) `.part`: the ranges not yet on disk. `None` for a single
    /// stream, whose file length is its progress.
    pub missing: Option<Vec<Span>>,
}

impl PartState {
    pub fn part_path(&self) -> PathBuf {
        naming::part_path(&self.final_path)
    }
}

pub struct Job {
    pub id: ItemId,
    pub url: Url,
    pub dir: PathBuf,
    pub part: Option<PartState>,
    /// Connections this download may use (1 = a single stream).
    pub connections: usize,
    /// This item's own rate limit (unlimited unless set).
    pub limiter: Arc<RateLimiter>,
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
    },
    Stopped {
        bytes: u64,
    },
    /// Try again at once without counting a failure (the `.part` was adopted or must restart).
    Again,
    Error {
        error: DownloadError,
        progressed: bool,
    },
}

pub async fn run(shared: Arc<Shared>, job: Job, token: CancellationToken) -> Outcome {
    let mut part = job.part.clone();
    let mut failures = 0u32;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        shared.emit(EngineEvent::Connecting { id: job.id, attempt }).await;
        match attempt_once(&shared, &job, &mut part, &token).await {
            Attempt::Done { path, bytes, skipped } => {
                return Outcome::Completed { path, bytes, skipped, part };
            }
            Attempt::Stopped { bytes } => return Outcome::Stopped { part, bytes },
            Attempt::Again => continue,
            Attempt::Error { error, progressed } => {
                failures = if progressed { 1 } else { failures + 1 };
                if !error.is_retryable() || failures > shared.options.retries {
                    return Outcome::Failed { error, part };
                }
                let opts = &shared.options;
                let delay =
                    backoff_delay(failures, opts.retry_base_delay, opts.retry_max_delay, error.retry_after());
                let reason = error.to_string();
                shared.emit(EngineEvent::Retrying { id: job.id, attempt: failures, delay, reason }).await;
                tokio::select! {
                    () = token.cancelled() => {
                        let bytes = part.as_ref().and_then(|p| disk::part_len(&p.part_path())).unwrap_or(0);
                        return Outcome::Stopped { part, bytes };
                    }
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

async fn attempt_once(
    shared: &Shared,
    job: &Job,
    part: &mut Option<PartState>,
    token: &CancellationToken,
) -> Attempt {
    let missing = part.as_ref().filter(|p| p.resumable).and_then(|p| p.missing.clone());
    let offset = match (part.as_ref(), &missing) {
        (Some(p), Some(missing)) => match missing.first() {
            Some((start, _)) => *start,
            // Every range is on disk: only the rename is left.
            None => {
                let path = p.final_path.clone();
                let bytes = p.total.unwrap_or(0);
                return finish(shared, PartWriter::new(p.part_path(), bytes, None), path, &job.dir).await;
            }
        },
        (Some(p), None) if p.resumable => disk::part_len(&p.part_path()).unwrap_or(0),
        _ => 0,
    };
    let permit = tokio::select! {
        () = token.cancelled() => return Attempt::Stopped { bytes: offset },
        permit = shared.hosts.acquire(&job.url) => permit,
    };
    let mut request = shared.client.get(job.url.clone());
    if let (Some(p), true) = (part.as_ref(), offset > 0) {
        request = request.header(header::RANGE, format!("bytes={offset}-"));
        if let Some(validator) = &p.validator {
            request = request.header(header::IF_RANGE, validator);
        }
    }
    let opts = &shared.options;
    let answer_within = answer_timeout(opts.connect_timeout, opts.read_timeout);
    let response = tokio::select! {
        () = token.cancelled() => return Attempt::Stopped { bytes: offset },
        () = tokio::time::sleep(answer_within) => {
            let error = DownloadError::NoAnswer { url: redact_url(&job.url), after: answer_within };
            return Attempt::Error { error, progressed: false };
        }
        r = request.send() => r,
    };
    let mut response = match response {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Error { error: send_error(&e, &job.url, &shared.options), progressed: false };
        }
    };
    let status = response.status();
    let final_url = response.url().clone();
    let shown_url = redact_url(&final_url);

    if status == StatusCode::RANGE_NOT_SATISFIABLE && offset > 0 {
        if let Some(p) = part.as_ref().filter(|p| p.total == Some(offset) && p.missing.is_none()) {
            // The `.part` already holds every byte: the last attempt ended just before publishing.
            let path = p.final_path.clone();
            return finish(shared, PartWriter::new(p.part_path(), offset, None), path, &job.dir).await;
        }
        return restart_from_zero(part);
    }
    if status.is_redirection()
        && let Some(target) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| final_url.join(v).ok())
            .filter(|u| !matches!(u.scheme(), "http" | "https"))
    {
        // reqwest hands back redirects to some schemes (file:, javascript:) instead of asking
        // the redirect policy; say what happened rather than "302 Found".
        return Attempt::Error {
            error: DownloadError::RedirectScheme { url: redact_url(&target) },
            progressed: false,
        };
    }
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Attempt::Error {
            error: DownloadError::Status { status, url: shown_url, retry_after },
            progressed: false,
        };
    }

    let headers = response.headers();
    let validator = validator_of(headers);
    let (write_from, total) = if status == StatusCode::PARTIAL_CONTENT {
        let Some(p) = part.as_ref().filter(|_| offset > 0) else {
            return Attempt::Error {
                error: DownloadError::BadContentRange {
                    url: shown_url,
                    got: "206 to a request without Range".into(),
                },
                progressed: false,
            };
        };
        let range = headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let matches = parse_content_range(range).is_some_and(|(start, end, len)| {
            start == offset && end + 1 == len && p.total.is_none_or(|t| t == len)
        });
        // A server that changed the file but still answered 206 must not get its bytes spliced
        // onto the old ones.
        let same_version = match (&p.validator, &validator) {
            (Some(old), Some(new)) => old == new,
            _ => true,
        };
        if !matches || !same_version {
            return restart_from_zero(part);
        }
        (offset, p.total.or_else(|| parse_content_range(range).map(|(_, _, len)| len)))
    } else {
        // A full answer: either the first one, or the server refused to continue. Start over.
        let total = response.content_length();
        let encoded = headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        let ranges_refused =
            headers.get(header::ACCEPT_RANGES).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"none"));
        let resumable = total.is_some() && !encoded && !ranges_refused;
        match part {
            Some(p) => {
                p.validator = validator.clone();
                p.total = total;
                p.resumable = resumable;
                p.missing = None;
            }
            None => {
                let name = naming::choose_name(
                    headers.get(header::CONTENT_DISPOSITION).map(|v| v.as_bytes()),
                    &final_url,
                    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                );
                if shared.options.continue_existing {
                    match existing_download(shared, job, &name, total, validator.as_deref()) {
                        Existing::Complete(path) => {
                            return Attempt::Done { bytes: total.unwrap_or(0), path, skipped: true };
                        }
                        Existing::Partial(found) => {
                            *part = Some(found);
                            return Attempt::Again;
                        }
                        Existing::None => {}
                    }
                }
                let Some(final_path) = (match shared.options.on_conflict {
                    ConflictPolicy::Rename => shared.names.reserve_unique(&job.dir, &name),
                    ConflictPolicy::Skip => {
                        let existing = job.dir.join(&name);
                        // Only a regular file counts as "already there"; a folder or symlink
                        // of that name is not something the person wanted kept instead.
                        if let Ok(meta) = std::fs::symlink_metadata(&existing)
                            && meta.file_type().is_file()
                        {
                            return Attempt::Done { bytes: meta.len(), path: existing, skipped: true };
                        }
                        shared.names.reserve_unique(&job.dir, &name)
                    }
                    ConflictPolicy::Overwrite => {
                        let exact = job.dir.join(&name);
                        // Replace a regular file only; another item of this run holding the
                        // name, or a folder or symlink there, still gets `name (1)`.
                        let replaceable =
                            std::fs::symlink_metadata(&exact).map_or(true, |m| m.file_type().is_file());
                        if replaceable && shared.names.reserve_exact(&exact) {
                            Some(exact)
                        } else {
                            shared.names.reserve_unique(&job.dir, &name)
                        }
                    }
                }) else {
                    return Attempt::Error {
                        error: DownloadError::NoFreeName { name, dir: job.dir.clone() },
                        progressed: false,
                    };
                };
                *part = Some(PartState {
                    final_path,
                    validator: validator.clone(),
                    total,
                    resumable,
                    missing: None,
                });
            }
        }
        (0, total)
    };
    let Some(p) = part.as_ref() else {
        return Attempt::Error { error: DownloadError::Internal("no destination".into()), progressed: false };
    };

    shared
        .emit(EngineEvent::Started {
            id: job.id,
            info: StartInfo {
                name: p.final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                path: p.final_path.clone(),
                total,
                offset: write_from,
                final_url: shown_url.clone(),
                status: status.as_u16(),
                resumable: p.resumable,
                validator: p.validator.clone(),
            },
        })
        .await;

    let split = p.resumable
        && total
            .is_some_and(|t| missing.is_some() || segmented::worth_splitting(job.connections, write_from, t));
    if let (true, Some(total), Some(p)) = (split, total, part.as_mut()) {
        return segmented::run(shared, job, p, response, write_from, total, token, permit).await;
    }
    let Some(p) = part.as_ref() else {
        return Attempt::Error { error: DownloadError::Internal("no destination".into()), progressed: false };
    };

    let meta = p.resumable.then(|| PartMeta {
        url: super::urls::without_credentials(&job.url),
        validator: p.validator.clone(),
        total,
        missing: None,
    });
    let mut writer = PartWriter::new(p.part_path(), write_from, meta);
    let final_path = p.final_path.clone();
    let read_timeout = shared.options.read_timeout;
    let interval = shared.options.progress_interval;
    // The first chunk is reported at once, so a front end sees data flowing immediately.
    let mut last_report: Option<Instant> = None;
    let mut stall = pin!(tokio::time::sleep(read_timeout));

    let failure = loop {
        let chunk = tokio::select! {
            biased;
            () = token.cancelled() => {
                return match writer.flush_and_close().await {
                    Ok(bytes) => Attempt::Stopped { bytes },
                    Err(error) => Attempt::Error { error, progressed: true },
                };
            }
            () = &mut stall => break DownloadError::Stalled { url: shown_url, after: read_timeout },
            chunk = response.chunk() => chunk,
        };
        match chunk {
            Ok(Some(mut bytes)) => {
                if let Some(t) = total {
                    let room = t.saturating_sub(writer.received());
                    if bytes.len() as u64 > room {
                        bytes.truncate(room as usize);
                        if let Err(error) = writer.push(bytes).await {
                            return Attempt::Error { error, progressed: true };
                        }
                        break DownloadError::Overlong { url: shown_url, expected: t };
                    }
                }
                let len = bytes.len() as u64;
                if let Err(error) = writer.push(bytes).await {
                    return Attempt::Error { error, progressed: true };
                }
                // Unlimited buckets answer at once (one atomic load), so this stays cheap.
                pace(&[&shared.limiter, &job.limiter], len).await;
                stall.as_mut().reset(tokio::time::Instant::now() + read_timeout);
                if last_report.is_none_or(|at| at.elapsed() >= interval) {
                    last_report = Some(Instant::now());
                    // Progress may be dropped when the receiver lags: it carries absolute counts.
                    let _ = shared
                        .events
                        .try_send(EngineEvent::Progress { id: job.id, bytes: writer.received() });
                }
            }
            Ok(None) => match total {
                Some(t) if writer.received() < t => {
                    break DownloadError::Truncated { url: shown_url, got: writer.received(), expected: t };
                }
                _ => return finish(shared, writer, final_path, &job.dir).await,
            },
            Err(e) => break DownloadError::Network { url: shown_url, reason: innermost_reason(&e) },
        }
    };
    let progressed = writer.received() > write_from;
    let keep = part.as_ref().is_some_and(|p| p.resumable);
    match writer.flush_and_close().await {
        Ok(_) if keep => Attempt::Error { error: failure, progressed },
        // Bytes that cannot be continued are worth nothing; the next attempt starts over.
        Ok(_) => Attempt::Error { error: failure, progressed: false },
        Err(error) => Attempt::Error { error, progressed },
    }
}

/// Publishes the `.part` under its final name, or under the next free one if a file of that
/// name appeared meanwhile (dlm never replaces a file it did not write, unless the conflict
/// policy is `overwrite`).
async fn finish(shared: &Shared, writer: PartWriter, final_path: PathBuf, dir: &Path) -> Attempt {
    let bytes = writer.received();
    let names = Arc::clone(&shared.names);
    let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = dir.to_path_buf();
    let replace = shared.options.on_conflict == ConflictPolicy::Overwrite;
    match writer.finish(final_path, replace, move || names.reserve_unique(&dir, &name)).await {
        Ok(path) => Attempt::Done { path, bytes, skipped: false },
        Err(error) => Attempt::Error { error, progressed: false },
    }
}

/// Forgets the bytes on disk so the next attempt asks for the whole file.
fn restart_from_zero(part: &mut Option<PartState>) -> Attempt {
    if let Some(p) = part {
        forget_progress(p);
    }
    Attempt::Again
}

/// Makes the next attempt ignore what is on disk and fetch the file from its first byte.
pub fn forget_progress(part: &mut PartState) {
    part.resumable = false;
    part.validator = None;
    part.missing = None;
}

enum Existing {
    Complete(PathBuf),
    Partial(PartState),
    None,
}

/// With `continue_existing`: a finished file of the announced size is skipped, and a `.part`
/// whose sidecar names this URL and the same validator and size is continued.
fn existing_download(
    shared: &Shared,
    job: &Job,
    name: &str,
    total: Option<u64>,
    validator: Option<&str>,
) -> Existing {
    let final_path = job.dir.join(name);
    if let (Some(t), Ok(meta)) = (total, std::fs::symlink_metadata(&final_path))
        && meta.file_type().is_file()
        && meta.len() == t
    {
        return Existing::Complete(final_path);
    }
    let part_path = naming::part_path(&final_path);
    let Some(meta) = disk::read_meta(&part_path) else { return Existing::None };
    let same = meta.url == super::urls::without_credentials(&job.url)
        && meta.total == total
        && meta.validator.as_deref() == validator;
    if same && disk::part_len(&part_path).is_some() && shared.names.reserve_exact(&final_path) {
        return Existing::Partial(PartState {
            final_path,
            validator: meta.validator,
            total,
            resumable: true,
            missing: meta.missing,
        });
    }
    Existing::None
}

/// A strong ETag, else Last-Modified: what `If-Range` may carry (weak ETags may not).
fn validator_of(headers: &HeaderMap) -> Option<String> {
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

/// Words for a failed request: redirect problems, timeouts, refused connections.
fn send_error(e: &reqwest::Error, asked: &Url, options: &EngineOptions) -> DownloadError {
    let url = e.url().map_or_else(|| redact_url(asked), redact_url);
    if e.is_redirect() {
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<RedirectError>() {
                return match r {
                    RedirectError::TooMany => DownloadError::TooManyRedirects {
                        url: redact_url(asked),
                        limit: options.max_redirects,
                    },
                    RedirectError::Loop => DownloadError::RedirectLoop { url },
                    RedirectError::Scheme(target) => DownloadError::RedirectScheme { url: target.clone() },
                };
            }
            source = s.source();
        }
        return DownloadError::TooManyRedirects { url: redact_url(asked), limit: options.max_redirects };
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
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, 199, 200)));
        assert_eq!(parse_content_range("bytes 0-0/1"), Some((0, 0, 1)));
        assert_eq!(parse_content_range("bytes 100-199/*"), None);
        assert_eq!(parse_content_range("bytes 200-100/300"), None);
        assert_eq!(parse_content_range("bytes 0-10/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
