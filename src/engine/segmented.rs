//! A segmented download: one file fetched over several connections, each writing its ranges at
//! their offsets in a preallocated `.part`. Free connections take free ranges or split the
//! largest remainder (`segments`); a connection the server refuses is not replaced, so the
//! download backs off to the connections that work. The sidecar records the missing ranges so
//! a stopped or crashed download continues where it was. Depends on the rest of the engine.

use std::path::PathBuf;
use std::pin::pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::StatusCode;
use reqwest::header;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::disk::{self, PartMeta, PartWriter};
use super::error::{DownloadError, answer_timeout};
use super::hosts::HostPermit;
use super::limiter::pace;
use super::messages::EngineEvent;
use super::options::ConflictPolicy;
use super::retry::parse_retry_after;
use super::segments::{MIN_SPLIT, SegmentMap, Span, even_pieces};
use super::transfer::{
    Attempt, Job, PartState, Shared, forget_progress, innermost_reason, parse_content_range,
};
use super::urls::redact_url;

/// Bytes a segment gathers before writing: smaller than a single stream's batch because many
/// segments buffer at once and memory must stay flat.
const SEGMENT_FLUSH_BYTES: usize = 64 * 1024;
/// How often the missing ranges are saved to the sidecar while the download runs.
const SIDECAR_EVERY: Duration = Duration::from_secs(1);

/// Whether a download of `total` bytes starting at `from` is worth splitting.
pub fn worth_splitting(connections: usize, from: u64, total: u64) -> bool {
    connections > 1 && total.saturating_sub(from) >= 2 * MIN_SPLIT
}

/// How a connection stopped working on the file.
enum WorkerEnd {
    /// No work left for it.
    Idle,
    /// The token fired.
    Stopped,
    /// The server answered a range request with something else: the file changed or ranges
    /// stopped working, so the download must start over.
    Changed,
    Failed(DownloadError),
    /// A disk error: no point going on with any connection.
    Disk(DownloadError),
}

/// What every connection of this download shares.
struct Ctx<'a> {
    shared: &'a Shared,
    job: &'a Job,
    url: Url,
    shown_url: String,
    part_path: PathBuf,
    validator: Option<String>,
    total: u64,
    map: Mutex<SegmentMap>,
    stop: CancellationToken,
}

impl Ctx<'_> {
    fn map(&self) -> std::sync::MutexGuard<'_, SegmentMap> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn meta(&self) -> PartMeta {
        PartMeta {
            url: super::urls::without_credentials(&self.job.url),
            validator: self.validator.clone(),
            total: Some(self.total),
            missing: Some(self.map().missing()),
        }
    }

    async fn save_sidecar(&self) -> Result<(), DownloadError> {
        let (part, meta) = (self.part_path.clone(), self.meta());
        let result = tokio::task::spawn_blocking(move || disk::write_meta(&part, &meta)).await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DownloadError::io(&disk::meta_path(&self.part_path), e)),
            Err(e) => Err(DownloadError::Internal(format!("sidecar writer: {e}"))),
        }
    }
}

/// Runs the segmented download. `first` is the answer already received for the range starting
/// at `first_start`; `permit` is its place in the host's connection cap.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    shared: &Shared,
    job: &Job,
    part: &mut PartState,
    first: reqwest::Response,
    first_start: u64,
    total: u64,
    token: &CancellationToken,
    permit: HostPermit,
) -> Attempt {
    let missing = part.missing.clone().unwrap_or_else(|| vec![(first_start, total)]);
    let mut map = SegmentMap::new(total, even_pieces(&missing, job.connections, MIN_SPLIT), MIN_SPLIT);
    let first_end = map.free_piece_at(first_start).map(|(_, end)| end);
    if !first_end.is_some_and(|end| map.claim_exact(0, (first_start, end))) {
        // The answer starts outside the missing ranges: map and file disagree; start over.
        forget_progress(part);
        return Attempt::Again;
    }
    let url = first.url().clone();
    let ctx = Ctx {
        shared,
        job,
        shown_url: redact_url(&url),
        url,
        part_path: part.part_path(),
        validator: part.validator.clone(),
        total,
        map: Mutex::new(map),
        stop: token.child_token(),
    };

    // The sidecar must say which ranges are missing before the file is stretched to full size.
    if let Err(error) = ctx.save_sidecar().await {
        return Attempt::Error { error, progressed: false };
    }
    let part_path = ctx.part_path.clone();
    match tokio::task::spawn_blocking(move || disk::preallocate(&part_path, total)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Attempt::Error { error: DownloadError::io(&ctx.part_path, e), progressed: false };
        }
        Err(e) => return Attempt::Error { error: DownloadError::Internal(e.to_string()), progressed: false },
    }
    let start_bytes = ctx.map().received_bytes();

    let mut workers = FuturesUnordered::new();
    workers.push(worker(&ctx, 0, Some(first), permit));
    let mut next_worker = 1;
    // Connections this download may use; lowered when the server refuses one.
    let mut allowed = job.connections.max(1);
    let mut last_error: Option<DownloadError> = None;
    let mut failures_in_a_row = 0usize;
    let mut changed = false;
    let mut disk_error: Option<DownloadError> = None;
    let mut tick = tokio::time::interval(shared.options.progress_interval);
    let mut last_save = tokio::time::Instant::now();
    let mut last_received = start_bytes;

    loop {
        // Open more connections while there is work for them and room at the host.
        while workers.len() < allowed && !ctx.stop.is_cancelled() && ctx.map().has_work() {
            let Some(permit) = shared.hosts.try_acquire(&ctx.url) else { break };
            workers.push(worker(&ctx, next_worker, None, permit));
            next_worker += 1;
        }
        tokio::select! {
            end = workers.next() => match end {
                None => break,
                Some(WorkerEnd::Idle | WorkerEnd::Stopped) => {}
                Some(WorkerEnd::Changed) => {
                    changed = true;
                    ctx.stop.cancel();
                }
                Some(WorkerEnd::Disk(error)) => {
                    disk_error = Some(error);
                    ctx.stop.cancel();
                }
                Some(WorkerEnd::Failed(error)) => {
                    if is_refusal(&error) && !workers.is_empty() {
                        // The server limits connections per client: keep to those that work.
                        // That is backing off, not failing; the others carry the range on.
                        allowed = workers.len();
                    } else {
                        let received = ctx.map().received_bytes();
                        failures_in_a_row = if received > last_received { 1 } else { failures_in_a_row + 1 };
                        last_received = received;
                        if failures_in_a_row > allowed + 2 {
                            ctx.stop.cancel();
                        }
                    }
                    last_error = Some(error);
                }
            },
            _ = tick.tick() => {
                let bytes = ctx.map().received_bytes();
                let _ = shared.events.try_send(EngineEvent::Progress { id: job.id, bytes });
                if last_save.elapsed() >= SIDECAR_EVERY {
                    last_save = tokio::time::Instant::now();
                    if let Err(error) = ctx.save_sidecar().await {
                        disk_error = Some(error);
                        ctx.stop.cancel();
                    }
                }
            }
        }
    }

    let complete = ctx.map().is_complete();
    part.missing = Some(ctx.map().missing());
    let progressed = ctx.map().received_bytes() > start_bytes;
    if complete && disk_error.is_none() {
        let names = std::sync::Arc::clone(&shared.names);
        let (part_file, final_path, dir) = (ctx.part_path.clone(), part.final_path.clone(), job.dir.clone());
        let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let replace = shared.options.on_conflict == ConflictPolicy::Overwrite;
        let published = tokio::task::spawn_blocking(move || {
            disk::publish_part(&part_file, final_path, replace, || names.reserve_unique(&dir, &name))
        })
        .await;
        return match published {
            Ok(Ok(path)) => Attempt::Done { path, bytes: total, skipped: false },
            Ok(Err(error)) => Attempt::Error { error, progressed: false },
            Err(e) => Attempt::Error { error: DownloadError::Internal(e.to_string()), progressed: false },
        };
    }
    if changed {
        forget_progress(part);
        return Attempt::Again;
    }
    let saved = ctx.save_sidecar().await;
    if let Some(error) = disk_error.or(saved.err()) {
        return Attempt::Error { error, progressed };
    }
    if token.is_cancelled() {
        return Attempt::Stopped { bytes: ctx.map().received_bytes() };
    }
    let error = last_error.unwrap_or_else(|| DownloadError::Internal("segments ended incomplete".into()));
    Attempt::Error { error, progressed }
}

/// A 503/429 or a refused/reset connection while others work: the server's per-client limit.
fn is_refusal(error: &DownloadError) -> bool {
    match error {
        DownloadError::Status { status, .. } => {
            *status == StatusCode::SERVICE_UNAVAILABLE || *status == StatusCode::TOO_MANY_REQUESTS
        }
        DownloadError::Connect { .. } | DownloadError::Network { .. } => true,
        _ => false,
    }
}

/// One connection: works through ranges until none is left or something stops it.
async fn worker(
    ctx: &Ctx<'_>,
    id: usize,
    mut first: Option<reqwest::Response>,
    _permit: HostPermit,
) -> WorkerEnd {
    loop {
        let (mut response, start) = match first.take() {
            Some(response) => match ctx.map().position(id) {
                Some((start, _)) => (response, start),
                None => return WorkerEnd::Idle,
            },
            None => {
                let Some(span) = ctx.map().claim(id) else { return WorkerEnd::Idle };
                match request(ctx, span).await {
                    Ok(response) => (response, span.0),
                    Err(end) => {
                        ctx.map().release(id);
                        return end;
                    }
                }
            }
        };
        let mut writer = PartWriter::segment(ctx.part_path.clone(), start, SEGMENT_FLUSH_BYTES);
        let streamed = stream(ctx, id, &mut response, &mut writer).await;
        let flushed = writer.flush_and_close().await;
        let mut map = ctx.map();
        match flushed {
            Ok(written) => map.written(id, written),
            Err(error) => {
                map.release(id);
                return WorkerEnd::Disk(error);
            }
        }
        map.release(id);
        drop(map);
        match streamed {
            Streamed::Complete => {}
            Streamed::Stopped => return WorkerEnd::Stopped,
            Streamed::Failed(error) => return WorkerEnd::Failed(error),
            Streamed::Disk(error) => return WorkerEnd::Disk(error),
        }
    }
}

/// Asks for exactly `span` and checks the answer is that range of the same file.
async fn request(ctx: &Ctx<'_>, span: Span) -> Result<reqwest::Response, WorkerEnd> {
    let mut request = ctx
        .shared
        .client
        .get(ctx.url.clone())
        .header(header::RANGE, format!("bytes={}-{}", span.0, span.1 - 1));
    if let Some(validator) = &ctx.validator {
        request = request.header(header::IF_RANGE, validator);
    }
    let opts = &ctx.shared.options;
    let answer_within = answer_timeout(opts.connect_timeout, opts.read_timeout);
    let response = tokio::select! {
        () = ctx.stop.cancelled() => return Err(WorkerEnd::Stopped),
        () = tokio::time::sleep(answer_within) => {
            let url = ctx.shown_url.clone();
            return Err(WorkerEnd::Failed(DownloadError::NoAnswer { url, after: answer_within }));
        }
        r = request.send() => r,
    };
    let response = response.map_err(|e| {
        WorkerEnd::Failed(DownloadError::Connect { url: ctx.shown_url.clone(), reason: innermost_reason(&e) })
    })?;
    let status = response.status();
    if status != StatusCode::PARTIAL_CONTENT {
        if status.is_success() || status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Err(WorkerEnd::Changed);
        }
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Err(WorkerEnd::Failed(DownloadError::Status {
            status,
            url: ctx.shown_url.clone(),
            retry_after,
        }));
    }
    let headers = response.headers();
    let range = headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let same_range = parse_content_range(range) == Some((span.0, span.1 - 1, ctx.total));
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok());
    let same_version = match (&ctx.validator, etag) {
        (Some(old), Some(new)) if old.starts_with('"') => old == new,
        _ => true,
    };
    if same_range && same_version { Ok(response) } else { Err(WorkerEnd::Changed) }
}

enum Streamed {
    /// The connection's range is on its way to disk.
    Complete,
    Stopped,
    Failed(DownloadError),
    Disk(DownloadError),
}

/// Copies the body into the writer until this connection's (possibly shrinking) range is done.
async fn stream(
    ctx: &Ctx<'_>,
    id: usize,
    response: &mut reqwest::Response,
    writer: &mut PartWriter,
) -> Streamed {
    let read_timeout = ctx.shared.options.read_timeout;
    let mut stall = pin!(tokio::time::sleep(read_timeout));
    loop {
        if ctx.map().position(id).is_none_or(|(received, end)| received >= end) {
            return Streamed::Complete;
        }
        let chunk = tokio::select! {
            biased;
            () = ctx.stop.cancelled() => return Streamed::Stopped,
            () = &mut stall => {
                return Streamed::Failed(DownloadError::Stalled { url: ctx.shown_url.clone(), after: read_timeout });
            }
            chunk = response.chunk() => chunk,
        };
        match chunk {
            Ok(Some(mut bytes)) => {
                let keep = ctx.map().accept(id, bytes.len() as u64);
                bytes.truncate(keep as usize);
                if keep > 0 {
                    if let Err(error) = writer.push(bytes).await {
                        return Streamed::Disk(error);
                    }
                    ctx.map().written(id, writer.written());
                    pace(&[&ctx.shared.limiter, &ctx.job.limiter], keep, &ctx.stop).await;
                }
                stall.as_mut().reset(tokio::time::Instant::now() + read_timeout);
            }
            Ok(None) => {
                let done = ctx.map().position(id).is_none_or(|(received, end)| received >= end);
                return if done {
                    Streamed::Complete
                } else {
                    let (got, expected) = ctx.map().position(id).unwrap_or_default();
                    Streamed::Failed(DownloadError::Truncated { url: ctx.shown_url.clone(), got, expected })
                };
            }
            Err(e) => {
                return Streamed::Failed(DownloadError::Network {
                    url: ctx.shown_url.clone(),
                    reason: innermost_reason(&e),
                });
            }
        }
    }
}
