//! A segmented download: one file fetched over several connections, each writing its ranges at
//! their offsets in a preallocated `.part`. Free connections take free ranges or cut the end
//! off the range that would finish last, by the connections' paces (`segments`, `open_conns`),
//! which also hedges the tail: a range whose connection went quiet is taken whole and that
//! connection stopped. How many connections, and which slow one to replace, the autopilot
//! decides (`autopilot`, also for a fixed count); a connection the server refuses is not
//! replaced. The sidecar records the missing ranges so a stopped or crashed download continues
//! where it was. Depends on the rest of the engine.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::StatusCode;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::answer::{self, Verdict, WholeFile};
use super::autopilot::{Autopilot, ConnSample, Decision, OneStream};
use super::disk::{self, PartWriter};
use super::error::DownloadError;
use super::hashing::{Hashing, PrefixHasher, check_rest};
use super::hosts::HostPermit;
use super::job::{Attempt, Furthest, Job, PartState, Shared, distrust_ranges, forget_progress};
use super::limiter::owe;
use super::messages::{ConnectionsNote, EngineEvent};
use super::open_conns::OpenConns;
use super::options::ConflictPolicy;
use super::publish::publish_part;
use super::request::{self, Asked, Unanswered};
use super::segments::{MIN_SPLIT, SegmentMap, first_pieces};
use super::sidecar::{self, PartMeta, SidecarLatch};
use super::urls::redact_url;

/// Bytes a segment gathers before writing: smaller than a single stream's batch because many
/// segments buffer at once and memory must stay flat.
const SEGMENT_FLUSH_BYTES: usize = 64 * 1024;
/// How often the missing ranges are saved to the sidecar while the download runs. Each save
/// first syncs the `.part` (see `sidecar::checkpoint`), so this is also how often that is paid.
const SIDECAR_EVERY: Duration = Duration::from_secs(1);
/// How often the autopilot is fed the connections' byte counts: often enough that its
/// measuring windows (a few hundred milliseconds) end close to on time.
const STEER_EVERY: Duration = Duration::from_millis(100);

/// Whether a download of `total` bytes starting at `from` is worth splitting.
pub fn worth_splitting(connections: usize, from: u64, total: u64) -> bool {
    connections > 1 && total.saturating_sub(from) >= 2 * MIN_SPLIT
}

/// How a segmented download ended.
pub enum Segmented {
    Ended(Attempt),
    /// A range request was answered with the whole file (`200`, described by `file`); the
    /// other connections were stopped, and the download goes on as one stream with this answer
    /// and its place at the host.
    Whole {
        response: reqwest::Response,
        permit: HostPermit,
        file: WholeFile,
    },
}

/// How a connection stopped working on the file.
enum WorkerEnd {
    /// No work left for it.
    Idle,
    /// The token fired.
    Stopped,
    /// The server answered a range request with another range or version (`unreliable`), or
    /// with 416 (the file shrank): the download must start over.
    Changed {
        unreliable: bool,
    },
    /// The server answered a range request with the whole file.
    Whole {
        response: reqwest::Response,
        permit: HostPermit,
        file: WholeFile,
    },
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
    /// The open connections: their bytes (for the autopilot and the tail's splits) and stops.
    conns: Mutex<OpenConns>,
    began: tokio::time::Instant,
    stop: CancellationToken,
    latch: SidecarLatch,
}

impl Ctx<'_> {
    fn map(&self) -> std::sync::MutexGuard<'_, SegmentMap> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> std::sync::MutexGuard<'_, OpenConns> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens connection `id`'s count; its token stops it alone (or with the download).
    fn open(&self, id: usize) -> CancellationToken {
        let stop = self.stop.child_token();
        self.conns().open(id, stop.clone());
        stop
    }

    /// Whether a new connection would find work: a free range, or a tail worth taking.
    fn has_work(&self) -> bool {
        let paces = self.conns().paces(self.began.elapsed());
        self.map().has_work(&paces)
    }

    /// A range for connection `id`: a free one, or the end of a slower one's (`segments`). A
    /// connection whose whole range was taken (it went quiet) is stopped now: waiting for its
    /// next byte could mean waiting for the stall timeout with its last bytes unwritten.
    fn claim(&self, id: usize) -> Option<(u64, u64)> {
        let mut conns = self.conns();
        let claim = self.map().claim(id, &conns.paces(self.began.elapsed()))?;
        if let Some(quiet) = claim.emptied {
            conns.stop(quiet);
        }
        conns.asking(id);
        Some(claim.span)
    }

    /// What the autopilot is fed at a tick: each open connection's bytes and range left.
    fn samples(&self) -> Vec<ConnSample> {
        // Locked in the order `claim` takes them: the connections, then the map.
        let conns = self.conns();
        let map = self.map();
        conns
            .bytes()
            .map(|(id, received)| {
                let left = map.position(id).map_or(0, |(at, end)| end.saturating_sub(at));
                ConnSample { id, received, left }
            })
            .collect()
    }

    /// A checkpoint of the ranges on disk now, to run on the blocking pool. The map is read
    /// here, before the sync, so the sidecar claims only bytes written before the sync began.
    fn checkpoint(&self) -> impl FnOnce() -> io::Result<()> + Send + 'static {
        let part = self.part_path.clone();
        let meta = PartMeta {
            url: super::urls::without_credentials(&self.job.url),
            validator: self.validator.clone(),
            total: Some(self.total),
            missing: Some(self.map().missing()),
        };
        let latch = self.latch.clone();
        move || sidecar::checkpoint(&part, &meta, &latch)
    }

    fn saved(&self, result: Result<io::Result<()>, JoinError>) -> Result<(), DownloadError> {
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DownloadError::io(&sidecar::meta_path(&self.part_path), e)),
            Err(e) => Err(DownloadError::Internal(format!("sidecar writer: {e}"))),
        }
    }

    async fn save_sidecar(&self) -> Result<(), DownloadError> {
        self.saved(tokio::task::spawn_blocking(self.checkpoint()).await)
    }
}

/// What the connections' ends add up to.
#[derive(Default)]
struct Ends {
    last_error: Option<DownloadError>,
    changed: bool,
    unreliable: bool,
    whole: Option<(reqwest::Response, HostPermit, WholeFile)>,
    disk_error: Option<DownloadError>,
}

/// Runs the segmented download. `first` is the answer already received for the range starting
/// at `first_start`; `permit` is its place in the host's connection cap; `one_stream` what a
/// single stream of this file showed, when auto moves from it to several connections.
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
    one_stream: Option<OneStream>,
) -> Segmented {
    let failed = |error| Segmented::Ended(Attempt::Error { error, reached: None });
    let missing = part.missing.clone().unwrap_or_else(|| vec![(first_start, total)]);
    let ceiling = job.connections.min(shared.hosts.ceiling(first.url()));
    let mut pilot = match (job.auto, one_stream) {
        (true, Some(one)) => Autopilot::after_one_stream(ceiling, one),
        (true, None) => Autopilot::auto(ceiling),
        (false, _) => Autopilot::manual(job.connections),
    };
    // Auto starts with one connection and splits as it adds more.
    let pieces = first_pieces(&missing, (pilot.target(), ceiling), part.checksum.is_some());
    let mut map = SegmentMap::new(total, pieces, MIN_SPLIT);
    let first_end = map.free_piece_at(first_start).map(|(_, end)| end);
    if !first_end.is_some_and(|end| map.claim_exact(0, (first_start, end))) {
        // The answer starts outside the missing ranges: map and file disagree; start over.
        forget_progress(part);
        return Segmented::Ended(Attempt::Again);
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
        conns: Mutex::default(),
        began: tokio::time::Instant::now(),
        stop: token.child_token(),
        latch: SidecarLatch::default(),
    };

    // The sidecar must say which ranges are missing before the file is stretched to full size.
    if let Err(error) = ctx.save_sidecar().await {
        return failed(error);
    }
    let part_path = ctx.part_path.clone();
    match tokio::task::spawn_blocking(move || disk::preallocate(&part_path, total)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return failed(error),
        Err(e) => return failed(DownloadError::Internal(e.to_string())),
    }
    let start_bytes = ctx.map().received_bytes();

    let mut workers = FuturesUnordered::new();
    workers.push(worker(&ctx, 0, Some(first), permit, ctx.open(0)));
    let mut next_worker = 1;
    // Connections opened to replace a slow one, not yet opened.
    let mut replacing = 0usize;
    let mut ends = Ends::default();
    let mut failures_in_a_row = 0usize;
    let mut furthest = Furthest::starting_at(start_bytes);
    let mut tick = tokio::time::interval(shared.options.progress_interval);
    // The checksum's hash follows the contiguous prefix on disk as it grows.
    let mut prefix = PrefixHasher::new(ctx.part_path.clone(), part.checksum.clone());
    let mut steer = tokio::time::interval(STEER_EVERY);
    steer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_save = tokio::time::Instant::now();
    // At most one checkpoint in flight; it runs beside the connections, which keep writing
    // while the `.part` is synced.
    let mut saves = JoinSet::new();

    loop {
        // Open more connections while there is work for them and room at the host.
        while workers.len() < pilot.target() && !ctx.stop.is_cancelled() && ctx.has_work() {
            let Some(permit) = shared.hosts.try_acquire(&ctx.url) else { break };
            if replacing > 0 {
                replacing -= 1;
                pilot.opened_replacement(next_worker);
            }
            workers.push(worker(&ctx, next_worker, None, permit, ctx.open(next_worker)));
            next_worker += 1;
        }
        if let Some(reason) = pilot.take_change().map(ToString::to_string) {
            // Connections given back are still closing: they no longer count.
            let active = workers.len().min(pilot.target());
            let note = ConnectionsNote { active, limit: pilot.ceiling(), reason };
            shared.emit(EngineEvent::ConnectionsChanged { id: job.id, note }).await;
        }
        tokio::select! {
            end = workers.next() => match end {
                None => break,
                Some(WorkerEnd::Idle | WorkerEnd::Stopped) => {}
                Some(WorkerEnd::Changed { unreliable }) => {
                    ends.changed = true;
                    ends.unreliable |= unreliable;
                    ctx.stop.cancel();
                }
                Some(WorkerEnd::Whole { response, permit, file }) => {
                    ends.whole.get_or_insert((response, permit, file));
                    ctx.stop.cancel();
                }
                Some(WorkerEnd::Disk(error)) => {
                    ends.disk_error = Some(error);
                    ctx.stop.cancel();
                }
                Some(WorkerEnd::Failed(error)) => {
                    if !error.is_retryable() {
                        // Another connection would hear the same.
                        ctx.stop.cancel();
                    } else if let Some(what) = error.refusal().filter(|_| !workers.is_empty()) {
                        // The server limits connections per client: keep to those that work.
                        // That is backing off, not failing; the others carry the range on.
                        pilot.refused(workers.len(), what);
                        if job.auto {
                            shared.hosts.tolerates(&ctx.url, workers.len());
                        }
                    } else {
                        let received = ctx.map().received_bytes();
                        let further = furthest.advance(received);
                        failures_in_a_row = if further { 1 } else { failures_in_a_row + 1 };
                        if failures_in_a_row > pilot.target() + 2 {
                            ctx.stop.cancel();
                        }
                    }
                    ends.last_error = Some(error);
                }
            },
            _ = steer.tick() => {
                let (now, samples) = (ctx.began.elapsed(), ctx.samples());
                let bytes = ctx.map().received_bytes();
                if let Decision::Replace { id } = pilot.observe(now, bytes, total - bytes, &samples) {
                    // Its unfetched range goes back to the pool; a new connection takes it.
                    if ctx.conns().stop(id) {
                        replacing += 1;
                    }
                }
                // Given back: the newest connections close; their ranges go back to the pool.
                ctx.conns().stop_after(pilot.target());
            }
            Some(saved) = saves.join_next() => {
                if let Err(error) = ctx.saved(saved) {
                    ends.disk_error = Some(error);
                    ctx.stop.cancel();
                }
            }
            _ = tick.tick() => {
                if let Some(prefix) = prefix.as_mut() {
                    let written = ctx.map().missing().first().map_or(total, |m| m.0);
                    prefix.advance(written).await;
                }
                let bytes = ctx.map().received_bytes();
                let _ = shared.events.try_send(EngineEvent::Progress { id: job.id, bytes });
                if last_save.elapsed() >= SIDECAR_EVERY && saves.is_empty() {
                    last_save = tokio::time::Instant::now();
                    saves.spawn_blocking(ctx.checkpoint());
                }
            }
        }
    }
    if ctx.map().is_complete() && ends.disk_error.is_none() {
        // A checkpoint still syncing must not write a sidecar after the file is published, but
        // need not be waited for either: the last one may be flushing most of the file.
        ctx.latch.close();
    } else {
        // The next sidecar written (the last one, or a single stream's) must not be overtaken.
        while let Some(saved) = saves.join_next().await {
            if let Err(error) = ctx.saved(saved) {
                ends.disk_error.get_or_insert(error);
            }
        }
    }
    saves.detach_all();
    let hashed = match prefix {
        Some(prefix) => Some(prefix.finish().await),
        None => None,
    };
    conclude(&ctx, part, ends, start_bytes, token, hashed).await
}

/// Publishes a complete file, or says how the download stopped.
async fn conclude(
    ctx: &Ctx<'_>,
    part: &mut PartState,
    ends: Ends,
    start_bytes: u64,
    token: &CancellationToken,
    hashed: Option<Hashing>,
) -> Segmented {
    let complete = ctx.map().is_complete();
    part.missing = Some(ctx.map().missing());
    let received = ctx.map().received_bytes();
    let reached = (received > start_bytes).then_some(received);
    let end = |attempt| Segmented::Ended(attempt);
    if complete && ends.disk_error.is_none() {
        let names = std::sync::Arc::clone(&ctx.shared.names);
        let dir = part.final_path.parent().map_or_else(|| ctx.job.dir.clone(), Path::to_path_buf);
        let (part_file, final_path) = (ctx.part_path.clone(), part.final_path.clone());
        let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let replace = ctx.shared.options.on_conflict == ConflictPolicy::Overwrite;
        let published = tokio::task::spawn_blocking(move || {
            // The ranges arrived out of order: what the prefix hash has not read yet is read
            // back (from the page cache, where it was just written) before it may be named.
            let checked = hashed.map(|h| check_rest(&part_file, h)).transpose()?;
            if let Some(c) = checked.as_ref().filter(|c| !c.matches()) {
                return Err(c.mismatch(&part_file));
            }
            publish_part(&part_file, final_path, replace, || names.reserve_unique(&dir, &name))
                .map(|p| (p, checked))
        })
        .await;
        return end(match published {
            Ok(Ok((path, checked))) => Attempt::Done { path, bytes: ctx.total, skipped: false, checked },
            Ok(Err(error)) => Attempt::Error { error, reached: None },
            Err(e) => Attempt::Error { error: DownloadError::Internal(e.to_string()), reached: None },
        });
    }
    if ends.disk_error.is_none() && !token.is_cancelled() {
        if let Some((response, permit, file)) = ends.whole {
            return Segmented::Whole { response, permit, file };
        }
        if ends.changed {
            if ends.unreliable {
                distrust_ranges(part);
            } else {
                forget_progress(part);
            }
            return end(Attempt::Again);
        }
    }
    let saved = ctx.save_sidecar().await;
    if let Some(error) = ends.disk_error.or(saved.err()) {
        return end(Attempt::Error { error, reached });
    }
    if token.is_cancelled() {
        return end(Attempt::Stopped { bytes: received });
    }
    let error =
        ends.last_error.unwrap_or_else(|| DownloadError::Internal("segments ended incomplete".into()));
    end(Attempt::Error { error, reached })
}

/// One connection: works through ranges until none is left or something stops it (`stop`: the
/// download's token, or its own when the autopilot replaces it).
async fn worker(
    ctx: &Ctx<'_>,
    id: usize,
    first: Option<reqwest::Response>,
    permit: HostPermit,
    stop: CancellationToken,
) -> WorkerEnd {
    let end = work(ctx, id, first, permit, &stop).await;
    ctx.conns().close(id);
    end
}

async fn work(
    ctx: &Ctx<'_>,
    id: usize,
    mut first: Option<reqwest::Response>,
    permit: HostPermit,
    stop: &CancellationToken,
) -> WorkerEnd {
    loop {
        let (mut response, start) = match first.take() {
            Some(response) => match ctx.map().position(id) {
                Some((start, _)) => (response, start),
                None => return WorkerEnd::Idle,
            },
            None => {
                let Some(span) = ctx.claim(id) else { return WorkerEnd::Idle };
                match request(ctx, span, stop).await {
                    Ok(response) => (response, span.0),
                    Err(refused) => {
                        ctx.map().release(id);
                        return match refused {
                            Refused::End(end) => end,
                            Refused::Whole(response, file) => WorkerEnd::Whole { response, permit, file },
                        };
                    }
                }
            }
        };
        let mut writer = PartWriter::segment(ctx.part_path.clone(), start, SEGMENT_FLUSH_BYTES);
        let streamed = stream(ctx, id, &mut response, &mut writer, stop).await;
        request::close_before_next(response).await;
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

/// Why a range request gave no range to stream.
enum Refused {
    End(WorkerEnd),
    /// A `200`: the whole file, which the download can go on with.
    Whole(reqwest::Response, WholeFile),
}

/// Asks for exactly `span` and checks the answer is that range of the same file.
async fn request(
    ctx: &Ctx<'_>,
    span: (u64, u64),
    stop: &CancellationToken,
) -> Result<reqwest::Response, Refused> {
    let fail = |error| Refused::End(WorkerEnd::Failed(error));
    let asked = Asked {
        range: Some((span.0, Some(span.1 - 1))),
        validator: ctx.validator.as_deref(),
        total: Some(ctx.total),
    };
    let response = match request::send(ctx.shared, ctx.job, &ctx.url, &asked, stop).await {
        Ok(response) => response,
        Err(Unanswered::Stopped) => return Err(Refused::End(WorkerEnd::Stopped)),
        Err(Unanswered::Failed(error)) => return Err(fail(error)),
    };
    match answer::classify(&response, &asked) {
        Verdict::Range { .. } => Ok(response),
        Verdict::Whole(file) if response.status() == StatusCode::OK => Err(Refused::Whole(response, file)),
        // Another success, or nothing at that offset: the file changed.
        Verdict::Whole(_) | Verdict::NotSatisfiable => {
            Err(Refused::End(WorkerEnd::Changed { unreliable: false }))
        }
        Verdict::Mismatch => Err(Refused::End(WorkerEnd::Changed { unreliable: true })),
        Verdict::Failed(error) => Err(fail(error)),
    }
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
    stop: &CancellationToken,
) -> Streamed {
    let read_timeout = ctx.shared.options.read_timeout;
    let mut stall = pin!(tokio::time::sleep(read_timeout));
    loop {
        if ctx.map().position(id).is_none_or(|(received, end)| received >= end) {
            return Streamed::Complete;
        }
        let chunk = tokio::select! {
            biased;
            () = stop.cancelled() => return Streamed::Stopped,
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
                    let limits = [&ctx.shared.limiter, &ctx.job.limiter];
                    let debt = owe(&limits, keep);
                    ctx.conns().add(id, keep, ctx.began.elapsed(), debt.duration());
                    if let Err(error) = writer.push(bytes).await {
                        return Streamed::Disk(error);
                    }
                    ctx.map().written(id, writer.written());
                    debt.wait(stop).await;
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
            Err(e) => return Streamed::Failed(request::body_error(&e, ctx.shown_url.clone())),
        }
    }
}
