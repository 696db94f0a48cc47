//! `dlm get`: runs the engine without a screen. Progress goes to stderr (a live status line
//! on a terminal, log lines otherwise, only errors with `-q`), then a summary; the exit status
//! says whether everything arrived. Everything goes to stderr through `output`, which never
//! panics on a closed stderr: losing the progress display must not stop the downloads.
//! Depends on the engine, `format` and `output`, never on the TUI.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::engine::{AddRequest, Engine, EngineEvent, EngineOptions, ItemId, parse_download_url, redact_str};
use crate::{format, output};

/// Exit status when some download failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status after Ctrl-C (128 + SIGINT, as shells expect).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A URL to fetch and where it came from (`urls.txt:3`, `argument 2`) for error messages.
#[derive(Debug, Clone)]
pub struct Input {
    pub origin: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// One status line redrawn in place (stderr is a terminal).
    Live,
    /// A line per event (stderr is a pipe or file).
    Log,
}

impl Verbosity {
    pub fn detect(quiet: bool) -> Self {
        match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Self::Quiet,
            (false, true) => Self::Live,
            (false, false) => Self::Log,
        }
    }
}

#[derive(Default)]
struct ItemView {
    url: String,
    name: Option<String>,
    total: Option<u64>,
    /// Bytes on disk, as last reported.
    bytes: u64,
    /// Bytes that were on disk before this run touched the item (a resumed `.part`).
    resumed_from: Option<u64>,
    started: Option<Instant>,
    finished: bool,
}

impl ItemView {
    fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }

    fn fetched_this_run(&self) -> u64 {
        self.bytes.saturating_sub(self.resumed_from.unwrap_or(0))
    }
}

/// Everything the status line and the summary need.
struct Batch {
    items: HashMap<ItemId, ItemView>,
    done: usize,
    skipped: usize,
    /// `(what, why)` for every failure, inputs rejected up front included.
    failures: Vec<(String, String)>,
    /// Items added to the engine that have not finished; kept as a count because the loop
    /// checks it after every event (thousands of items).
    unfinished: usize,
    /// Inputs that were not URLs dlm can fetch; they count in the total and as failures.
    rejected: usize,
    started: Instant,
}

impl Batch {
    fn unfinished(&self) -> usize {
        self.unfinished
    }

    fn bytes_this_run(&self) -> u64 {
        self.items.values().map(ItemView::fetched_this_run).sum()
    }
}

/// Downloads `inputs` and returns the exit status. Invalid inputs are reported with their
/// origin and count as failures; the others still download.
pub async fn run(
    inputs: Vec<Input>,
    options: EngineOptions,
    verbosity: Verbosity,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&options.download_dir).map_err(|e| {
        anyhow::anyhow!("cannot create download folder {}: {e}", options.download_dir.display())
    })?;
    let (engine, mut events) = Engine::start(options)?;
    let handle = engine.handle();
    let mut out = Reporter { verbosity, status_shown: false };
    let mut batch = Batch {
        items: HashMap::new(),
        done: 0,
        skipped: 0,
        failures: Vec::new(),
        unfinished: 0,
        rejected: 0,
        started: Instant::now(),
    };

    for input in inputs {
        match parse_download_url(&input.url) {
            Ok(url) => {
                let id = handle.add(AddRequest::new(input.url));
                let url = crate::engine::redact_url(&url);
                batch.items.insert(id, ItemView { url, ..ItemView::default() });
                batch.unfinished += 1;
            }
            Err(e) => {
                out.error(&format!("{}: {e}", input.origin));
                batch.failures.push((input.origin, e.to_string()));
                batch.rejected += 1;
            }
        }
    }

    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut meter = RateMeter::default();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    while batch.unfinished() > 0 {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => on_event(event, &mut batch, &mut out),
                None => break,
            },
            _ = tick.tick(), if verbosity == Verbosity::Live => {
                let rate = meter.sample(batch.bytes_this_run());
                out.status(&status_line(&batch, rate));
            }
            _ = &mut ctrl_c => {
                interrupted = true;
                break;
            }
        }
    }
    out.clear_status();
    if interrupted {
        out.error(
            "interrupted: partial downloads are kept as .part files (run again with --continue to resume)",
        );
    }
    engine.shutdown().await;
    if interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    out.summary(&batch);
    Ok(if batch.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FAILED) })
}

fn on_event(event: EngineEvent, batch: &mut Batch, out: &mut Reporter) {
    let Some(id) = event.item() else { return };
    let Some(item) = batch.items.get_mut(&id) else { return };
    let terminal = matches!(
        event,
        EngineEvent::Completed { .. }
            | EngineEvent::Failed { .. }
            | EngineEvent::Cancelled { .. }
            | EngineEvent::Removed { .. }
    );
    if terminal {
        if item.finished {
            return;
        }
        item.finished = true;
        batch.unfinished -= 1;
    }
    match event {
        EngineEvent::Started { info, .. } => {
            item.total = info.total;
            item.bytes = info.offset;
            item.resumed_from.get_or_insert(info.offset);
            item.started.get_or_insert_with(Instant::now);
            let size = info.total.map_or_else(|| "size unknown".to_string(), format::bytes);
            let from = if info.offset > 0 {
                format!(", continuing at {}", format::bytes(info.offset))
            } else {
                String::new()
            };
            out.log(&format!("started {} ({size}{from}) from {}", info.name, item.url));
            item.name = Some(info.name);
        }
        EngineEvent::Progress { bytes, .. } => item.bytes = bytes,
        EngineEvent::Retrying { attempt, delay, reason, .. } => {
            out.log(&format!(
                "retrying {} in {} (attempt {attempt}): {reason}",
                item.label(),
                format::duration_precise(delay)
            ));
        }
        EngineEvent::Completed { path, bytes, skipped, .. } => {
            item.bytes = bytes;
            batch.done += 1;
            if skipped {
                item.resumed_from = Some(bytes);
                batch.skipped += 1;
                out.log(&format!("skipped {} (already complete)", path.display()));
            } else {
                let took = item.started.map(|s| s.elapsed()).unwrap_or_default();
                let rate = item.fetched_this_run() as f64 / took.as_secs_f64().max(1e-3);
                out.log(&format!(
                    "done {} ({} in {}, {})",
                    path.display(),
                    format::bytes(bytes),
                    format::duration_precise(took),
                    format::rate(rate)
                ));
            }
        }
        EngineEvent::Failed { error, .. } => {
            out.error(&error);
            batch.failures.push((item.url.clone(), error));
        }
        EngineEvent::Cancelled { .. } | EngineEvent::Removed { .. } => {
            batch.failures.push((item.url.clone(), "cancelled".into()));
        }
        _ => {}
    }
}

/// Smoothed bytes per second from successive totals.
#[derive(Default)]
struct RateMeter {
    last: Option<(Instant, u64)>,
    smoothed: f64,
}

impl RateMeter {
    fn sample(&mut self, total: u64) -> f64 {
        let now = Instant::now();
        if let Some((at, bytes)) = self.last {
            let dt = now.duration_since(at).as_secs_f64();
            if dt > 0.0 {
                let current = total.saturating_sub(bytes) as f64 / dt;
                self.smoothed =
                    if self.smoothed == 0.0 { current } else { 0.7 * self.smoothed + 0.3 * current };
            }
        }
        self.last = Some((now, total));
        self.smoothed
    }
}

/// `[3/10] 12.3 MiB of 45.0 MiB  5.1 MiB/s  ETA 6s  4 running, 1 failed`
fn status_line(batch: &Batch, rate: f64) -> String {
    let total_items = batch.items.len() + batch.rejected;
    let running: Vec<&ItemView> =
        batch.items.values().filter(|i| !i.finished && i.started.is_some()).collect();
    let bytes: u64 = batch.items.values().map(|i| i.bytes).sum();
    let known_total = batch.items.values().all(|i| i.total.is_some() || i.finished);
    let size = if known_total {
        let total: u64 =
            batch.items.values().map(|i| if i.finished { i.bytes } else { i.total.unwrap_or(0) }).sum();
        format!("{} of {}", format::bytes(bytes), format::bytes(total))
    } else {
        format::bytes(bytes)
    };
    let eta = if known_total && batch.items.values().all(|i| i.started.is_some() || i.finished) {
        let left: u64 = running.iter().map(|i| i.total.unwrap_or(0).saturating_sub(i.bytes)).sum();
        format::eta(left, rate).map(|d| format!("  ETA {}", format::duration(d))).unwrap_or_default()
    } else {
        String::new()
    };
    let failed =
        if batch.failures.is_empty() { String::new() } else { format!(", {} failed", batch.failures.len()) };
    format!(
        "[{}/{}] {size}  {}{eta}  {} running{failed}",
        batch.done,
        total_items,
        format::rate(rate),
        running.len()
    )
}

struct Reporter {
    verbosity: Verbosity,
    status_shown: bool,
}

impl Reporter {
    fn clear_status(&mut self) {
        if self.status_shown {
            output::err_text("\r\x1b[K");
            self.status_shown = false;
        }
    }

    /// Errors are printed whatever the verbosity.
    fn error(&mut self, message: &str) {
        self.clear_status();
        output::err_line(&format!("dlm: {message}"));
    }

    fn log(&mut self, message: &str) {
        if self.verbosity == Verbosity::Log {
            output::err_line(message);
        }
    }

    fn status(&mut self, line: &str) {
        output::err_text(&format!("\r\x1b[K{line}"));
        self.status_shown = true;
    }

    fn summary(&mut self, batch: &Batch) {
        let failed = batch.failures.len();
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let took = batch.started.elapsed();
        let bytes = batch.bytes_this_run();
        let skipped =
            if batch.skipped > 0 { format!(" ({} already complete)", batch.skipped) } else { String::new() };
        output::err_line(&format!(
            "{} succeeded{skipped}, {failed} failed; {} in {} ({})",
            batch.done,
            format::bytes(bytes),
            format::duration_precise(took),
            format::rate(bytes as f64 / took.as_secs_f64().max(1e-3))
        ));
        for (what, why) in &batch.failures {
            output::err_line(&format!("  failed: {}: {why}", redact_str(what)));
        }
    }
}
