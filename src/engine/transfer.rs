//! One download from first request to published file: attempts with retry and backoff (here),
//! each the same sequence of jobs done by their modules: where to start from the `.part`, a
//! place at the host, the request (`request`), what its answer means (`answer`), where the
//! bytes go (`destination`), then one stream (`single`) or several connections (`segmented`);
//! between attempts, a fresh link from the refresh command when the old one is refused or
//! about to expire (`refresh`). Depends on the rest of the engine only; nothing in it depends
//! on this module but the scheduler.

use std::sync::Arc;
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::answer::{self, BodyLength, Verdict};
use super::autopilot;
use super::destination::{self, Destination, FirstAnswer};
use super::disk::{self, PartWriter};
use super::error::DownloadError;
use super::hosts::HostPermit;
use super::job::{Attempt, Furthest, Span, distrust_ranges, forget_progress};
pub use super::job::{Finished, Job, Outcome, PartState, Shared};
use super::messages::{ConnectionsNote, EngineEvent, StartInfo};
use super::program::Program;
use super::refresh::{self, Link, NoFreshLink};
use super::request::{self, Asked, Unanswered};
use super::retry::backoff_delay;
use super::segmented::{self, Segmented};
use super::sidecar;
use super::single::{self, Body};
use super::urls::redact_url;
use super::verify;

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

pub async fn run(shared: Arc<Shared>, job: Job, token: CancellationToken) -> Finished {
    let started_on = job.url.clone();
    let mut job = job;
    let outcome = attempts(&shared, &mut job, &token).await;
    let refreshed = (job.url != started_on).then_some(job.url);
    Finished { outcome, refreshed }
}

/// Attempts until the item is done, stopped or failed for good.
async fn attempts(shared: &Shared, job: &mut Job, token: &CancellationToken) -> Outcome {
    let mut part = job.part.clone();
    let mut failures = 0u32;
    let mut attempt = 0u32;
    let mut furthest = Furthest::default();
    let mut cuts = Cuts::default();
    let mut link = Link::default();
    // Auto's single stream ran at this rate and more connections may pay (see `probing`).
    let mut one_stream = None;
    loop {
        if let Some(program) = job.refresh.clone()
            && link.refresh_before_attempt(&job.url, SystemTime::now())
            && let Some(end) = fresh_link(shared, job, &program, &mut part, &mut link, token).await
        {
            return end;
        }
        attempt += 1;
        shared.emit(EngineEvent::Connecting { id: job.id, attempt }).await;
        match attempt_once(shared, job, &mut part, token, &mut one_stream).await {
            Attempt::Done { path, bytes, skipped, checked } => {
                if let Some(checked) = &checked {
                    verify::verified(shared, job, checked).await;
                }
                return Outcome::Completed { path, bytes, skipped, part };
            }
            Attempt::Stopped { bytes } => return Outcome::Stopped { part, bytes },
            Attempt::Again => {
                link.proven();
                continue;
            }
            Attempt::Error { error, reached } => {
                if let DownloadError::ChecksumMismatch { .. } = error {
                    // The check read the whole file: every byte had arrived, whatever the last
                    // progress tick said.
                    if let Some(total) = part.as_ref().and_then(|p| p.total) {
                        shared.emit(EngineEvent::Progress { id: job.id, bytes: total }).await;
                    }
                    verify::report_mismatch(
                        shared,
                        job,
                        part.as_ref().and_then(|p| p.checksum.as_ref()),
                        &error,
                    )
                    .await;
                    // The bytes on disk are wrong somewhere: a retry fetches the file again.
                    if let Some(p) = part.as_mut() {
                        forget_progress(p);
                    }
                }
                // Bytes arrived in this attempt, so its URL answered with a success first.
                if reached.is_some() {
                    link.proven();
                }
                // An item that had started (it has a `.part`) and is now refused: its link
                // expired. A fresh one is asked for once; refused again, the item fails.
                if let Some(status) = refresh::refused_link(&error)
                    && part.is_some()
                    && let Some(program) = job.refresh.clone()
                {
                    if link.refused_again() {
                        return Outcome::Failed { error: refresh::refused_again(status, &job.url), part };
                    }
                    match fresh_link(shared, job, &program, &mut part, &mut link, token).await {
                        None => continue,
                        Some(end) => return end,
                    }
                }
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
                    () = token.cancelled() => return stopped(part),
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Runs the refresh command for the job's link; how the transfer ends when no fresh link came
/// (stopped meanwhile, or the command failed), `None` when the job has a fresh link.
async fn fresh_link(
    shared: &Shared,
    job: &mut Job,
    program: &Program,
    part: &mut Option<PartState>,
    link: &mut Link,
    token: &CancellationToken,
) -> Option<Outcome> {
    match refresh::refresh(shared, job, program, part.as_ref(), link, token).await {
        Ok(()) => None,
        Err(NoFreshLink::Stopped) => Some(stopped(part.take())),
        Err(NoFreshLink::Failed(error)) => Some(Outcome::Failed { error, part: part.take() }),
    }
}

/// Stopped between attempts: the `.part` is as the last attempt left it.
fn stopped(part: Option<PartState>) -> Outcome {
    let bytes = part.as_ref().and_then(|p| disk::part_progress(&p.part_path())).unwrap_or(0);
    Outcome::Stopped { part, bytes }
}

/// An attempt that failed before any body byte arrived.
fn failed(error: DownloadError) -> Attempt {
    Attempt::Error { error, reached: None }
}

/// One attempt, as the sequence of its jobs.
async fn attempt_once(
    shared: &Shared,
    job: &Job,
    part: &mut Option<PartState>,
    token: &CancellationToken,
    one_stream: &mut Option<autopilot::OneStream>,
) -> Attempt {
    let Some(start) = Start::of(part.as_ref()) else {
        // Every range is on disk: only the rename is left.
        return publish_complete(shared, job, part.as_ref()).await;
    };
    let permit = tokio::select! {
        () = token.cancelled() => return Attempt::Stopped { bytes: start.offset },
        permit = shared.hosts.acquire(&job.url) => permit,
    };
    let asked = start.asked(part.as_ref());
    let response = match request::send(shared, job, &job.url, &asked, token).await {
        Ok(response) => response,
        Err(Unanswered::Stopped) => return Attempt::Stopped { bytes: start.offset },
        Err(Unanswered::Failed(error)) => {
            shared.hosts.unanswered(permit, &job.url);
            return failed(error);
        }
    };
    // After redirects the connection is to another host: it counts there.
    let Some(permit) = shared.hosts.settle(permit, &job.url, response.url()) else {
        return wait_for_place(shared, response, token, start.offset).await;
    };
    let verdict = answer::classify(&response, &asked);
    let body = match take_answer(shared, job, part, &response, verdict, &start).await {
        Ok(body) => body,
        Err(attempt) => return attempt,
    };
    let Some(p) = part.as_mut() else { return failed(DownloadError::Internal("no destination".into())) };
    if let Err(error) = verify::expect(shared, job, p, &response).await {
        return failed(error);
    }
    // `StartInfo.offset` is what is on disk: for a segmented resume that is more than the first
    // missing byte, and a front end that took the first missing byte would count the rest as
    // received in this attempt (impossible rates).
    let on_disk = match (&p.missing, body.total) {
        (Some(missing), Some(t)) => sidecar::present(t, missing),
        _ => body.from,
    };
    started(shared, job, p, &response, on_disk, body.total).await;
    let segments_on_disk = start.missing.is_some();
    copy_body(shared, job, p, response, body, (segments_on_disk, one_stream), token, permit).await
}

/// Where an attempt starts, from what the `.part` holds.
struct Start {
    /// The first byte to ask for.
    offset: u64,
    /// The bytes on disk are continued: a range is asked, guarded by the validator.
    continuing: bool,
    /// A segmented `.part`'s missing ranges.
    missing: Option<Vec<Span>>,
}

impl Start {
    /// `None` when a segmented `.part` already holds every range.
    fn of(part: Option<&PartState>) -> Option<Self> {
        let missing = part.filter(|p| p.resumable).and_then(|p| p.missing.clone());
        let offset = match (part, &missing) {
            (Some(_), Some(missing)) => missing.first()?.0,
            (Some(p), None) if p.resumable => disk::part_len(&p.part_path()).unwrap_or(0),
            _ => 0,
        };
        // Continuing bytes on disk: a single stream's `.part` from its length, or a segmented
        // one from its first missing byte, which may be 0 (then `bytes=0-` with `If-Range`
        // still checks the version, and a `200` is not mistaken for permission to drop the map).
        let continuing = part.is_some() && (offset > 0 || missing.is_some());
        Some(Self { offset, continuing, missing })
    }

    fn asked<'a>(&self, part: Option<&'a PartState>) -> Asked<'a> {
        match part.filter(|_| self.continuing) {
            Some(p) => {
                Asked { range: Some((self.offset, None)), validator: p.validator.as_deref(), total: p.total }
            }
            None => Asked::whole(),
        }
    }
}

/// Where the body of the answer goes.
struct BodyAt {
    /// Offset of its first byte in the file.
    from: u64,
    total: Option<u64>,
    length: BodyLength,
}

/// Acts on what the answer means: the body to copy and where it goes, or how the attempt
/// ends instead.
async fn take_answer(
    shared: &Shared,
    job: &Job,
    part: &mut Option<PartState>,
    response: &reqwest::Response,
    verdict: Verdict,
    start: &Start,
) -> Result<BodyAt, Attempt> {
    match verdict {
        Verdict::Failed(error) => Err(failed(error)),
        Verdict::Range { total, length } => Ok(BodyAt { from: start.offset, total: Some(total), length }),
        Verdict::NotSatisfiable => match part.as_mut() {
            // The `.part` already holds every byte: the last attempt ended just before publishing.
            Some(p) if p.total == Some(start.offset) && p.missing.is_none() && is_single_stream_part(p) => {
                Err(publish_complete(shared, job, Some(p)).await)
            }
            // The file has no byte there any more: fetch it again from its first byte.
            other => {
                if let Some(p) = other {
                    forget_progress(p);
                }
                Err(Attempt::Again)
            }
        },
        Verdict::Mismatch => {
            // Start over, and ask for no more ranges from a server that answers them like this.
            if let Some(p) = part {
                distrust_ranges(p);
            }
            Err(Attempt::Again)
        }
        Verdict::Whole(file) => {
            match part {
                // The server did not continue: start over with this answer.
                Some(p) => destination::start_over(p, &file, start.continuing),
                None => {
                    match destination::choose(shared, job, &FirstAnswer { response, file: &file }).await {
                        Ok(Destination::Skip { path, bytes }) => {
                            return Err(match verify::check_existing(shared, job, &path, response).await {
                                Ok(checked) => Attempt::Done { path, bytes, skipped: true, checked },
                                Err(error) => failed(error),
                            });
                        }
                        Ok(Destination::Continue(found)) => {
                            *part = Some(found);
                            return Err(Attempt::Again);
                        }
                        Ok(Destination::Fresh(fresh)) => *part = Some(fresh),
                        Err(error) => return Err(failed(error)),
                    }
                }
            }
            Ok(BodyAt { from: 0, total: file.total, length: file.length })
        }
    }
}

/// Copies the body over several connections when that is worth it and the server's ranges can
/// be trusted; else, or when a connection's range came back as the whole file, as one stream.
/// Auto starts as one stream (`probing`) and splits from the next attempt on once the stream
/// was measured too slow for the rest of the file (`one_stream`).
#[allow(clippy::too_many_arguments)]
async fn copy_body(
    shared: &Shared,
    job: &Job,
    p: &mut PartState,
    response: reqwest::Response,
    body: BodyAt,
    (segments_on_disk, one_stream): (bool, &mut Option<autopilot::OneStream>),
    token: &CancellationToken,
    permit: HostPermit,
) -> Attempt {
    let BodyAt { from, total, length } = body;
    let splittable = p.resumable
        && !p.ranges_unreliable
        && total.is_some_and(|t| segments_on_disk || segmented::worth_splitting(job.connections, from, t));
    let split = splittable && (!job.auto || segments_on_disk || one_stream.is_some());
    let (response, from, permit, length) = match total.filter(|_| split) {
        Some(total) => {
            match segmented::run(shared, job, p, response, from, total, token, permit, one_stream.take())
                .await
            {
                Segmented::Ended(attempt) => return attempt,
                // A connection's range came back as the whole file: go on as one stream with it.
                Segmented::Whole { response, permit, file } => {
                    destination::start_over(p, &file, true);
                    started(shared, job, p, &response, 0, file.total).await;
                    (response, 0, permit, file.length)
                }
            }
        }
        None => (response, from, permit, length),
    };
    let total = p.total;
    let ends_at_total = matches!(length, BodyLength::Announced(_)) && from == 0;
    let body = Body { from, total, ends_at_total };
    let attempt = match total.filter(|_| splittable && job.auto && !split) {
        Some(total) => probing(shared, job, p, response, body, total, token, one_stream).await,
        None => single::stream(shared, job, p, response, body, token).await,
    };
    // The answer is gone, perhaps mid-body (paused, failed): let its connection close before
    // the place at the host goes to another download (see `request::close_before_next`).
    tokio::task::yield_now().await;
    drop(permit);
    attempt
}

/// Auto's start: one stream, watched for a moment (`autopilot::StreamProbe`). When the rest of
/// the file would take long enough at its rate that more connections may pay, the stream
/// is stopped (its bytes are kept) and the attempt ends as `Again` with `one_stream` set: the
/// next one continues from the `.part` with several connections. A fast stream (loopback, a
/// small file) is left alone and never pays for a preallocated, checkpointed `.part`.
#[allow(clippy::too_many_arguments)]
async fn probing(
    shared: &Shared,
    job: &Job,
    p: &PartState,
    response: reqwest::Response,
    body: Body,
    total: u64,
    token: &CancellationToken,
    one_stream: &mut Option<autopilot::OneStream>,
) -> Attempt {
    let probe = token.child_token();
    let part_path = p.part_path();
    let (began, from) = (tokio::time::Instant::now(), body.from);
    let stream = single::stream(shared, job, p, response, body, &probe);
    let measure = measure_one_stream(shared, job, &part_path, total);
    tokio::pin!(stream, measure);
    tokio::select! {
        attempt = &mut stream => attempt,
        shown = &mut measure => {
            probe.cancel();
            match stream.await {
                Attempt::Stopped { bytes } if !token.is_cancelled() => {
                    // An early look saw the disk, which lags the socket by up to two write
                    // batches; now that the stream flushed all it got, its rate is exact, and
                    // the step it is measured against must not gain from its lag.
                    let exact = bytes.saturating_sub(from) as f64 / began.elapsed().as_secs_f64();
                    let rate = if shown.long && exact > 0.0 { exact } else { shown.rate };
                    *one_stream = Some(autopilot::OneStream { rate, ..shown });
                    Attempt::Again
                }
                other => other,
            }
        }
    }
}

/// What a single stream writing `part` showed, once it is known that more connections may pay
/// (`autopilot::StreamProbe`); never resolves when they would not (and says so).
async fn measure_one_stream(
    shared: &Shared,
    job: &Job,
    part: &std::path::Path,
    total: u64,
) -> autopilot::OneStream {
    let began = tokio::time::Instant::now();
    // Up to two write batches are not on disk yet: one gathering, one being written.
    let mut probe = autopilot::StreamProbe::new(2 * disk::FLUSH_BYTES as u64);
    loop {
        let bytes = disk::part_progress(part).unwrap_or(0);
        match probe.observe(began.elapsed(), bytes, total) {
            autopilot::Verdict::Wait => tokio::time::sleep(autopilot::PROBE_EVERY).await,
            autopilot::Verdict::More(shown) => return shown,
            autopilot::Verdict::FastEnough => break,
        }
    }
    let reason = autopilot::Reason::FastEnough { count: 1 }.to_string();
    let note = ConnectionsNote { active: 1, limit: job.connections, reason };
    shared.emit(EngineEvent::ConnectionsChanged { id: job.id, note }).await;
    std::future::pending().await
}

/// The answer came from a host with no free place (after redirects): close this connection,
/// and ask again once there is one.
async fn wait_for_place(
    shared: &Shared,
    response: reqwest::Response,
    token: &CancellationToken,
    offset: u64,
) -> Attempt {
    let answered = response.url().clone();
    request::close_before_next(response).await;
    tokio::select! {
        () = token.cancelled() => Attempt::Stopped { bytes: offset },
        () = shared.hosts.wait_for_place(&answered) => Attempt::Again,
    }
}

/// Publishes a `.part` that holds the whole file.
async fn publish_complete(shared: &Shared, job: &Job, part: Option<&PartState>) -> Attempt {
    let Some(p) = part else { return failed(DownloadError::Internal("no destination".into())) };
    let bytes = p.total.unwrap_or(0);
    // The bytes are all on disk: the hash is rebuilt from them, never assumed.
    let writer = PartWriter::new(p.part_path(), bytes, None).checking(p.checksum.clone());
    single::finish(shared, writer, p.final_path.clone(), job).await
}

/// Whether a complete-looking `.part` was written by one stream (its sidecar lists no missing
/// ranges). A preallocated segmented `.part` is as long as the file whatever it holds.
fn is_single_stream_part(p: &PartState) -> bool {
    sidecar::read_meta(&p.part_path()).is_some_and(|m| m.missing.is_none())
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
        ranges_unreliable: p.ranges_unreliable,
    };
    shared.emit(EngineEvent::Started { id: job.id, info }).await;
}
