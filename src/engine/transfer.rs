//! One download from first request to published file: attempts with retry and backoff, a
//! validated resume of the `.part` on every attempt after the first, and the choice between
//! one stream (`single`) and several connections (`segmented`). Depends on the rest of the
//! engine only.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio_util::sync::CancellationToken;

use super::answer::{self, BodyLength};
use super::destination::{self, Destination, FirstAnswer};
use super::disk::{self, PartWriter};
use super::error::{DownloadError, answer_timeout};
use super::job::{Attempt, Furthest, forget_progress};
pub use super::job::{Job, Outcome, PartState, Shared};
use super::messages::{EngineEvent, StartInfo};
use super::retry::backoff_delay;
use super::segmented::{self, Segmented};
use super::single::{self, Body};
use super::urls::redact_url;

/// Where failed attempts ended, to tell a server that always cuts the body at the same byte.
#[derive(Debug, Default)]
struct Cuts {
    at: Option<u64>,
    times: u32,
}

impl Cuts {
    fn record(&mut self, reached: Option<u64>) {
        if reached.is_some() && reached == self.at {
            self.times += 1;
        } else {
            (self.at, self.times) = (reached, u32::from(reached.is_some()));
        }
    }

    /// The error to report when giving up: a body cut at the same byte attempt after attempt
    /// says so, since that is a cap somewhere, not bad luck.
    fn explain(&self, error: DownloadError, total: Option<u64>) -> DownloadError {
        let (Some(at), 2..) = (self.at, self.times) else { return error };
        match error {
            DownloadError::Truncated { url, .. } | DownloadError::Network { url, .. } => {
                DownloadError::CutShort { url, at, expected: total, attempts: self.times }
            }
            other => other,
        }
    }
}

pub async fn run(shared: Arc<Shared>, job: Job, token: CancellationToken) -> Outcome {
    let mut part = job.part.clone();
    let mut failures = 0u32;
    let mut attempt = 0u32;
    let mut furthest = Furthest::default();
    let mut cuts = Cuts::default();
    loop {
        attempt += 1;
        shared.emit(EngineEvent::Connecting { id: job.id, attempt }).await;
        match attempt_once(&shared, &job, &mut part, &token).await {
            Attempt::Done { path, bytes, skipped } => {
                return Outcome::Completed { path, bytes, skipped, part };
            }
            Attempt::Stopped { bytes } => return Outcome::Stopped { part, bytes },
            Attempt::Again => continue,
            Attempt::Error { error, reached } => {
                // Bytes that cannot be continued are worth nothing: the next attempt starts over.
                let kept = part.as_ref().is_some_and(|p| p.resumable);
                let progressed = kept && reached.is_some_and(|r| furthest.advance(r));
                failures = if progressed { 1 } else { failures + 1 };
                cuts.record(reached);
                if !error.is_retryable() || failures > shared.options.retries {
                    let error = cuts.explain(error, part.as_ref().and_then(|p| p.total));
                    return Outcome::Failed { error, part };
                }
                let opts = &shared.options;
                let delay =
                    backoff_delay(failures, opts.retry_base_delay, opts.retry_max_delay, error.retry_after());
                let reason = error.to_string();
                shared.emit(EngineEvent::Retrying { id: job.id, attempt: failures, delay, reason }).await;
                tokio::select! {
                    () = token.cancelled() => {
                        let bytes = part.as_ref().and_then(|p| disk::part_progress(&p.part_path())).unwrap_or(0);
                        return Outcome::Stopped { part, bytes };
                    }
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// An attempt that failed before any body byte arrived.
fn failed(error: DownloadError) -> Attempt {
    Attempt::Error { error, reached: None }
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
                return single::finish(shared, PartWriter::new(p.part_path(), bytes, None), path, job).await;
            }
        },
        (Some(p), None) if p.resumable => disk::part_len(&p.part_path()).unwrap_or(0),
        _ => 0,
    };
    // Continuing bytes on disk: a single stream's `.part` from its length, or a segmented one
    // from its first missing byte, which may be 0 (then `bytes=0-` with `If-Range` still
    // checks the version, and a `200` is not mistaken for permission to drop the map).
    let continuing = part.is_some() && (offset > 0 || missing.is_some());
    let permit = tokio::select! {
        () = token.cancelled() => return Attempt::Stopped { bytes: offset },
        permit = shared.hosts.acquire(&job.url) => permit,
    };
    // A range asks for the bytes of a big file: HTTP/1.1 (see `http::build_http1_client`).
    let client = if continuing { shared.http1() } else { &shared.client };
    let mut request = client.get(job.url.clone());
    if let (Some(p), true) = (part.as_ref(), continuing) {
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
            return failed(DownloadError::NoAnswer { url: redact_url(&job.url), after: answer_within });
        }
        r = request.send() => r,
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => return failed(answer::send_error(&e, &job.url, &shared.options)),
    };
    // After redirects the connection is to another host: it counts there.
    let Some(permit) = shared.hosts.settle(permit, &job.url, response.url()) else {
        // No place there now: close this connection, and ask again once there is one.
        let answered = response.url().clone();
        segmented::close_before_next(response).await;
        tokio::select! {
            () = token.cancelled() => return Attempt::Stopped { bytes: offset },
            () = shared.hosts.wait_for_place(&answered) => return Attempt::Again,
        }
    };
    let status = response.status();
    let shown_url = redact_url(response.url());

    if status == StatusCode::RANGE_NOT_SATISFIABLE && continuing {
        if let Some(p) = part.as_ref().filter(|p| p.total == Some(offset) && p.missing.is_none())
            && is_single_stream_part(p)
        {
            // The `.part` already holds every byte: the last attempt ended just before publishing.
            let path = p.final_path.clone();
            return single::finish(shared, PartWriter::new(p.part_path(), offset, None), path, job).await;
        }
        return restart_from_zero(part);
    }
    if status.is_redirection()
        && let Some(target) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| response.url().join(v).ok())
            .filter(|u| !matches!(u.scheme(), "http" | "https"))
    {
        // reqwest hands back redirects to some schemes (file:, javascript:) instead of asking
        // the redirect policy; say what happened rather than "302 Found".
        return failed(DownloadError::RedirectScheme { url: redact_url(&target) });
    }
    if !status.is_success() {
        return failed(answer::status_error(&response, shown_url));
    }
    let length = match answer::body_length(response.headers(), &shown_url) {
        Ok(length) => length,
        Err(error) => return failed(error),
    };

    let (from, total) = if status == StatusCode::PARTIAL_CONTENT {
        match continued_at(part.as_mut().filter(|_| continuing), offset, response.headers(), &shown_url) {
            Ok(at) => at,
            Err(attempt) => return attempt,
        }
    } else {
        let first = full_answer(&response, length);
        match part {
            // The server did not continue: start over with this answer.
            Some(p) => adopt_full_answer(p, &first, continuing),
            None => match destination::choose(shared, job, &first).await {
                Ok(Destination::Skip { path, bytes }) => return Attempt::Done { path, bytes, skipped: true },
                Ok(Destination::Continue(found)) => {
                    *part = Some(found);
                    return Attempt::Again;
                }
                Ok(Destination::Fresh(fresh)) => *part = Some(fresh),
                Err(error) => return failed(error),
            },
        }
        (0, first.total)
    };
    let Some(p) = part.as_mut() else { return failed(DownloadError::Internal("no destination".into())) };
    // `StartInfo.offset` is what is on disk: for a segmented resume that is more than the first
    // missing byte, and a front end that took the first missing byte would count the rest as
    // received in this attempt (impossible rates).
    let on_disk = match (&p.missing, total) {
        (Some(missing), Some(t)) => disk::present(t, missing),
        _ => from,
    };
    started(shared, job, p, &response, on_disk, total).await;

    let split = p.resumable
        && !p.ranges_unreliable
        && total.is_some_and(|t| missing.is_some() || segmented::worth_splitting(job.connections, from, t));
    let (response, from, permit, length) = match total.filter(|_| split) {
        Some(total) => match segmented::run(shared, job, p, response, from, total, token, permit).await {
            Segmented::Ended(attempt) => return attempt,
            // A connection's range came back as the whole file: go on as one stream with it.
            Segmented::Whole { response, permit } => {
                // `segmented` refused codings dlm cannot read.
                let length = answer::body_length(response.headers(), "").unwrap_or(BodyLength::AsFramed);
                let first = full_answer(&response, length);
                adopt_full_answer(p, &first, true);
                started(shared, job, p, &response, 0, first.total).await;
                (response, 0, permit, length)
            }
        },
        None => (response, from, permit, length),
    };
    let total = p.total;
    let ends_at_total = matches!(length, BodyLength::Announced(_)) && from == 0;
    let attempt = single::stream(shared, job, p, response, Body { from, total, ends_at_total }, token).await;
    // The answer is gone, perhaps mid-body (paused, failed): let its connection close before
    // the place at the host goes to another download (see `segmented::close_before_next`).
    tokio::task::yield_now().await;
    drop(permit);
    attempt
}

/// Whether a complete-looking `.part` was written by one stream (its sidecar lists no missing
/// ranges). A preallocated segmented `.part` is as long as the file whatever it holds.
fn is_single_stream_part(p: &PartState) -> bool {
    disk::read_meta(&p.part_path()).is_some_and(|m| m.missing.is_none())
}

/// Checks a `206` against what the `.part` holds; the offset and size to continue with, or
/// the attempt to make instead.
fn continued_at(
    part: Option<&mut PartState>,
    offset: u64,
    headers: &HeaderMap,
    url: &str,
) -> Result<(u64, Option<u64>), Attempt> {
    let Some(p) = part else {
        let got = "206 to a request without Range".into();
        return Err(failed(DownloadError::BadContentRange { url: url.to_string(), got }));
    };
    let range = answer::content_range(headers);
    let matches = range.is_some_and(|(start, end, len)| {
        start == offset && end.checked_add(1) == Some(len) && p.total.is_none_or(|t| t == len)
    });
    // A server that changed the file but still answered 206 must not get its bytes spliced onto
    // the old ones.
    let same_version = match (&p.validator, &answer::validator_of(headers)) {
        (Some(old), Some(new)) => old == new,
        _ => true,
    };
    if !matches || !same_version {
        // Start over, and ask for no more ranges from a server that answers them like this.
        forget_progress(p);
        p.ranges_unreliable = true;
        return Err(Attempt::Again);
    }
    Ok((offset, p.total.or(range.map(|(_, _, len)| len))))
}

/// What a full (`200`) answer says about the file.
fn full_answer(response: &reqwest::Response, length: BodyLength) -> FirstAnswer<'_> {
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
    FirstAnswer {
        headers,
        final_url: response.url(),
        total,
        validator: answer::validator_of(headers),
        resumable: total.is_some() && !encoded && !ranges_refused,
    }
}

/// The server sent the whole file although the `.part` may hold some of it: start over with
/// this answer. A `200` to a range request for the same version means the server ignores
/// ranges (a new version is a changed file, which says nothing about ranges).
fn adopt_full_answer(p: &mut PartState, first: &FirstAnswer<'_>, asked_range: bool) {
    if asked_range {
        let same_version = match (&p.validator, &first.validator) {
            (Some(old), Some(new)) => old == new,
            (Some(_), None) => false,
            (None, _) => true,
        };
        p.ranges_unreliable |= same_version;
    }
    p.validator = first.validator.clone();
    p.total = first.total;
    p.resumable = first.resumable && !p.ranges_unreliable;
    p.missing = None;
}

async fn started(
    shared: &Shared,
    job: &Job,
    p: &PartState,
    response: &reqwest::Response,
    offset: u64,
    total: Option<u64>,
) {
    let info = StartInfo {
        name: p.final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        path: p.final_path.clone(),
        total,
        offset,
        final_url: redact_url(response.url()),
        status: response.status().as_u16(),
        resumable: p.resumable,
        validator: p.validator.clone(),
    };
    shared.emit(EngineEvent::Started { id: job.id, info }).await;
}

/// Forgets the bytes on disk so the next attempt asks for the whole file.
fn restart_from_zero(part: &mut Option<PartState>) -> Attempt {
    if let Some(p) = part {
        forget_progress(p);
    }
    Attempt::Again
}
