//! One stream: the body of one answer copied into the `.part` from its offset, with a stall
//! timeout, pacing and throttled progress, then published. Depends on the rest of the engine.

use std::path::PathBuf;
use std::pin::pin;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::disk::PartWriter;
use super::error::DownloadError;
use super::job::{Attempt, Job, PartState, Shared};
use super::limiter::owe;
use super::messages::EngineEvent;
use super::options::ConflictPolicy;
use super::request;
use super::sidecar::PartMeta;
use super::urls::{redact_url, without_credentials};

/// A rate-limit wait this long first hands the bytes received so far to the disk.
const LONG_WAIT: Duration = Duration::from_secs(1);

/// Where the body goes and how long it is.
pub struct Body {
    /// Offset of the answer's first byte in the file.
    pub from: u64,
    /// The file's size, when known.
    pub total: Option<u64>,
    /// The body ends once `total` bytes are there, without waiting for the server to end it
    /// (its framing would only end at the close; see `answer::BodyLength`).
    pub ends_at_total: bool,
}

/// Streams `response` into `part`'s file and publishes it when complete.
pub async fn stream(
    shared: &Shared,
    job: &Job,
    part: &PartState,
    mut response: reqwest::Response,
    body: Body,
    token: &CancellationToken,
) -> Attempt {
    let Body { from, total, ends_at_total } = body;
    if !ends_at_total
        && let Some(moved) = super::bulk::over_http1(shared, job, part, &response, from, token).await
    {
        response = moved;
    }
    let shown_url = redact_url(response.url());
    let meta = part.resumable.then(|| PartMeta {
        url: without_credentials(&job.url),
        validator: part.validator.clone(),
        total,
        missing: None,
    });
    // Hashed as it is written; a continued `.part`'s bytes are read back through the hash first.
    let mut writer = PartWriter::new(part.part_path(), from, meta).checking(part.checksum.clone());
    let reached = |writer: &PartWriter| (writer.received() > from).then_some(writer.received());
    let read_timeout = shared.options.read_timeout;
    let interval = shared.options.progress_interval;
    // The first chunk is reported at once, so a front end sees data flowing immediately.
    let mut last_report: Option<Instant> = None;
    let mut stall = pin!(tokio::time::sleep(read_timeout));

    let failure = loop {
        if ends_at_total && total.is_some_and(|t| writer.received() >= t) {
            return finish(shared, writer, part.final_path.clone(), job).await;
        }
        let chunk = tokio::select! {
            biased;
            () = token.cancelled() => {
                return match writer.flush_and_close().await {
                    Ok(bytes) => Attempt::Stopped { bytes },
                    Err(error) => Attempt::Error { error, reached: None },
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
                        // `room` is below the chunk's length, so it fits a usize.
                        bytes.truncate(room as usize);
                        if let Err(error) = writer.push(bytes).await {
                            return Attempt::Error { error, reached: reached(&writer) };
                        }
                        if ends_at_total {
                            // Bytes after the announced length are not part of this body; the
                            // check at the top of the loop publishes the file.
                            continue;
                        }
                        break DownloadError::Overlong { url: shown_url, expected: t };
                    }
                }
                let len = bytes.len() as u64;
                if let Err(error) = writer.push(bytes).await {
                    return Attempt::Error { error, reached: reached(&writer) };
                }
                // Unlimited buckets answer at once (one atomic load), so this stays cheap.
                let limiters = [&shared.limiter, &*job.limiter];
                let debt = owe(&limiters, len);
                // A long wait (a low limit) must not keep received bytes in memory only: a
                // crash meanwhile would lose them, and the `.part` would not show them.
                if debt.duration() >= LONG_WAIT
                    && let Err(error) = writer.write_pending().await
                {
                    return Attempt::Error { error, reached: reached(&writer) };
                }
                debt.wait(token).await;
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
                _ => return finish(shared, writer, part.final_path.clone(), job).await,
            },
            Err(e) => break request::body_error(&e, shown_url),
        }
    };
    let reached = reached(&writer);
    match writer.flush_and_close().await {
        Ok(_) => Attempt::Error { error: failure, reached },
        Err(error) => Attempt::Error { error, reached },
    }
}

/// Publishes the `.part` under its final name, or under the next free one if a file of that
/// name appeared meanwhile (dlm never replaces a file it did not write, unless the conflict
/// policy is `overwrite`).
pub async fn finish(shared: &Shared, writer: PartWriter, final_path: PathBuf, job: &Job) -> Attempt {
    let bytes = writer.received();
    let names = std::sync::Arc::clone(&shared.names);
    let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The folder the name was reserved in (a rule may have chosen it by the name).
    let dir = final_path.parent().map_or_else(|| job.dir.clone(), std::path::Path::to_path_buf);
    let replace = shared.options.on_conflict == ConflictPolicy::Overwrite;
    match writer.finish(final_path, replace, move || names.reserve_unique(&dir, &name)).await {
        Ok((path, checked)) => Attempt::Done { path, bytes, skipped: false, checked },
        Err(error) => Attempt::Error { error, reached: None },
    }
}
