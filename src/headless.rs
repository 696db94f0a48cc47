//! `dlm get`: runs a session (the engine, with saving and the control socket off) without a
//! screen. Progress goes to stderr (a live status line on a terminal, log lines otherwise, only
//! errors with `-q`), then a summary; the exit status says whether everything arrived.
//! Everything goes to stderr through `output`, which never panics on a closed stderr: losing
//! the progress display must not stop the downloads. Each item's view is the engine's
//! `ItemSnapshot`, folded by its own `apply`, plus this front end's timing. Hooks and
//! notifications run through `actions`: hook outcomes are printed like errors (failures) or
//! log lines, notification and taskbar sequences go to stderr when it is a terminal. Depends
//! on the session, `actions`, the engine's message types, `format`, `jsonl` and `output`;
//! never on the TUI.
//! With `--json` the events go to stdout as JSON lines instead (`jsonl`), and only errors to
//! stderr.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};

use crate::actions::{Actions, ActionsConfig, Stream};
use crate::engine::{
    AddRequest, ChecksumState, Command, EngineEvent, EngineOptions, ItemId, ItemSnapshot, parse_download_url,
    redact_str,
};
use crate::jsonl::{self, JsonEvent};
use crate::session::{Session, SessionConfig, SessionEvent, SessionHandle};
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
    /// A JSON object per event on stdout (`--json`), errors on stderr. It wins over `-q`:
    /// a script that asked for events wants them.
    Json,
}

impl Verbosity {
    pub fn detect(quiet: bool, json: bool) -> Self {
        match (json, quiet, std::io::stderr().is_terminal()) {
            (true, ..) => Self::Json,
            (false, true, _) => Self::Quiet,
            (false, false, true) => Self::Live,
            (false, false, false) => Self::Log,
        }
    }
}

/// Most items `dlm get` hands to the engine before earlier ones finish. The rest of a long
/// list waits here as text (a few dozen bytes a URL), so memory follows this window rather
/// than the list, and a Ctrl-C never waits behind thousands of queued commands. 1024 keeps 64
/// workers busy with plenty to spare.
const ENGINE_WINDOW: usize = 1024;

/// An item handed to the engine that has not finished: the engine's snapshot of it and when
/// this run started it. Finished items leave the batch: their figures are folded into its
/// totals.
struct ItemView {
    item: ItemSnapshot,
    /// Bytes that were on disk before this run touched the item (a resumed `.part`).
    resumed_from: Option<u64>,
    started: Option<Instant>,
    /// When its last `progress` JSON line was printed.
    progress_printed: Option<Instant>,
}

impl ItemView {
    fn new(item: ItemSnapshot) -> Self {
        Self { item, resumed_from: None, started: None, progress_printed: None }
    }

    /// The file name once known, else the URL (without credentials).
    fn label(&self) -> &str {
        self.item.name.as_deref().unwrap_or(&self.item.url)
    }

    fn fetched_this_run(&self) -> u64 {
        self.item.bytes.saturating_sub(self.resumed_from.unwrap_or(0))
    }
}

/// Everything the status line and the summary need. Sums saturate: a server may announce
/// any size up to 2^64−1, and two such items must not overflow.
struct Batch {
    /// Valid URLs not yet handed to the engine, in list order.
    pending: std::vec::IntoIter<String>,
    /// Items handed to the engine that have not finished (their views appear with `Added`).
    in_engine: usize,
    live: HashMap<ItemId, ItemView>,
    /// Every input, rejected ones included (the `/N` of the status line).
    total: usize,
    done: usize,
    skipped: usize,
    /// Finished items whose checksum was checked and matched.
    verified: usize,
    /// `(what, why)` for every failure, inputs rejected up front included.
    failures: Vec<(String, String)>,
    /// Bytes on disk of the finished items, and the part of them this run fetched.
    finished_bytes: u64,
    finished_fetched: u64,
    started: Instant,
    /// The name the first download is saved as (`-O`), until it is handed to the engine.
    name: Option<String>,
}

impl Batch {
    fn new(pending: Vec<String>, total: usize, failures: Vec<(String, String)>) -> Self {
        Self {
            pending: pending.into_iter(),
            in_engine: 0,
            live: HashMap::new(),
            total,
            done: 0,
            skipped: 0,
            verified: 0,
            failures,
            finished_bytes: 0,
            finished_fetched: 0,
            started: Instant::now(),
            name: None,
        }
    }

    /// Hands queued URLs to the engine until `ENGINE_WINDOW` items are in it.
    fn feed(&mut self, session: &SessionHandle) {
        let room = ENGINE_WINDOW.saturating_sub(self.in_engine);
        let mut requests: Vec<AddRequest> = self.pending.by_ref().take(room).map(AddRequest::new).collect();
        if let Some(first) = requests.first_mut() {
            first.name = self.name.take();
        }
        self.in_engine += requests.len();
        if !requests.is_empty() {
            session.add(requests);
        }
    }

    fn is_finished(&self) -> bool {
        self.in_engine == 0 && self.pending.len() == 0
    }

    fn bytes_this_run(&self) -> u64 {
        self.live.values().fold(self.finished_fetched, |sum, i| sum.saturating_add(i.fetched_this_run()))
    }

    /// Keeps the numbers of an item that finished and left `live`.
    fn fold_finished(&mut self, item: &ItemView) {
        self.in_engine = self.in_engine.saturating_sub(1);
        self.finished_bytes = self.finished_bytes.saturating_add(item.item.bytes);
        self.finished_fetched = self.finished_fetched.saturating_add(item.fetched_this_run());
    }
}

/// Downloads `inputs` and returns the exit status. Invalid inputs are reported with their
/// origin and count as failures; the others still download.
pub async fn run(
    inputs: Vec<Input>,
    options: EngineOptions,
    verbosity: Verbosity,
    policy: SessionConfig,
    actions: ActionsConfig,
) -> anyhow::Result<ExitCode> {
    run_named(inputs, None, options, verbosity, policy, actions).await
}

/// `run`, saving the first download as `name` (`dlm get -O NAME`, one URL) when given.
pub async fn run_named(
    inputs: Vec<Input>,
    name: Option<String>,
    options: EngineOptions,
    verbosity: Verbosity,
    policy: SessionConfig,
    actions: ActionsConfig,
) -> anyhow::Result<ExitCode> {
    // Listen for Ctrl-C before anything else, so it is never missed (nor left to the default
    // action) while a long list is being handed over.
    let mut interrupt = signal(SignalKind::interrupt())?;
    std::fs::create_dir_all(&options.download_dir).map_err(|e| {
        anyhow::anyhow!("cannot create download folder {}: {e}", options.download_dir.display())
    })?;
    let (session, mut events) =
        Session::start(options, SessionConfig { store: None, socket: None, ..policy })?;
    let handle = session.handle();
    let mut out = Reporter { verbosity, status_shown: false };
    // Sequences go to stderr, so `notify = "auto"` asks whether stderr is a terminal.
    let (mut actions, mut reports) = Actions::start(actions, std::io::stderr().is_terminal());
    actions.clear_progress_on_panic(Stream::Stderr);
    let mut taskbar: Option<Vec<u8>> = None;
    let progress_on = actions.shows_progress();
    let total = inputs.len();
    let mut failures = Vec::new();
    let valid: Vec<String> = inputs
        .into_iter()
        .filter_map(|input| match parse_download_url(&input.url) {
            Ok(_) => Some(input.url),
            Err(e) => {
                out.error(&format!("{}: {e}", input.origin));
                let message = e.to_string();
                out.json(|| JsonEvent::Rejected { origin: &input.origin, message: &message });
                failures.push((input.origin, message));
                None
            }
        })
        .collect();
    let mut batch = Batch::new(valid, total, failures);
    batch.name = name;

    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut meter = RateMeter::default();
    let mut interrupted = false;
    batch.feed(&handle);
    while !batch.is_finished() {
        tokio::select! {
            // Ctrl-C first: a flood of events must not delay it.
            biased;
            _ = interrupt.recv() => {
                interrupted = true;
                break;
            }
            event = events.recv() => match event {
                Some(SessionEvent::Engine(event)) => {
                    if let Some(finished) = on_event(event, &mut batch, &mut out, &mut actions) {
                        // The engine keeps finished items for a front end to list; this one
                        // has reported it, so the engine may forget it too.
                        handle.send(Command::Remove(finished));
                        batch.feed(&handle);
                    }
                }
                Some(SessionEvent::Notice(text)) => {
                    out.error(&text);
                    out.json(|| JsonEvent::Notice { message: &text });
                }
                // `dlm get` has no header to show it in; the limits themselves apply.
                Some(SessionEvent::Schedule(_)) => {}
                None => break,
            },
            Some(report) = reports.recv() => out.hook(&report),
            _ = tick.tick(), if verbosity == Verbosity::Live || progress_on => {
                if verbosity == Verbosity::Live {
                    let rate = meter.sample(batch.bytes_this_run());
                    out.status(&status_line(&batch, rate));
                }
                let now = if progress_on { actions.progress(batch.live.values().map(|v| &v.item)) } else { None };
                if now != taskbar {
                    Stream::Stderr.write(now.as_deref().unwrap_or_default());
                    taskbar = now;
                }
            }
        }
    }
    out.clear_status();
    // A script expects `on_queue_done` (and every other hook) to have run when `dlm get`
    // exits: wait for them (each is killed at `hook_timeout`), printing their outcomes;
    // Ctrl-C stops the wait and kills them.
    if !interrupted {
        loop {
            tokio::select! {
                biased;
                _ = interrupt.recv() => {
                    interrupted = true;
                    break;
                }
                Some(report) = reports.recv() => out.hook(&report),
                () = actions.hooks_idle() => break,
            }
        }
    }
    actions.stop();
    while let Ok(report) = reports.try_recv() {
        out.hook(&report);
    }
    Stream::Stderr.write(&actions.clear_progress().unwrap_or_default());
    if interrupted {
        out.error(
            "interrupted: partial downloads are kept as .part files (run again with --continue to resume)",
        );
    }
    // Nobody reads events any more: dropping the receiver lets the session stop forwarding
    // at once.
    drop(events);
    session.shutdown(Duration::MAX).await;
    let code = match (interrupted, batch.failures.is_empty()) {
        (true, _) => EXIT_INTERRUPTED,
        (false, true) => 0,
        (false, false) => EXIT_FAILED,
    };
    // A script always gets its last line, after Ctrl-C too.
    out.json(|| JsonEvent::Summary(summary(&batch, interrupted, code)));
    if !interrupted {
        out.summary(&batch);
    }
    Ok(ExitCode::from(code))
}

fn summary(batch: &Batch, interrupted: bool, exit_code: u8) -> jsonl::Summary {
    jsonl::Summary {
        done: batch.done,
        failed: batch.failures.len(),
        skipped: batch.skipped,
        bytes: batch.bytes_this_run(),
        seconds: batch.started.elapsed().as_secs_f64(),
        interrupted,
        exit_code,
    }
}

/// Folds one event into the batch; returns the item's id when it has just finished.
/// Hooks and notifications see it too, with the item as folded.
fn on_event(
    event: EngineEvent,
    batch: &mut Batch,
    out: &mut Reporter,
    actions: &mut Actions,
) -> Option<ItemId> {
    if let EngineEvent::Added { id, .. } = &event {
        // An item added never reaches a milestone, so the watch needs no snapshot of it.
        Stream::Stderr.write(&actions.apply(&event, None));
        let id = *id;
        if let EngineEvent::Added { item, .. } = event {
            out.json(|| JsonEvent::Added { item: jsonl::record(&item) });
            batch.live.insert(id, ItemView::new(*item));
        }
        return None;
    }
    let Some(view) = event.item().and_then(|id| batch.live.get_mut(&id)) else {
        // Not listed (the `Removed` of an item already reported): the queue watch still
        // needs it.
        Stream::Stderr.write(&actions.apply(&event, None));
        return None;
    };
    let id = view.item.id;
    view.item.apply(&event);
    if Actions::watches(&event) {
        Stream::Stderr.write(&actions.apply(&event, Some(&view.item)));
    }
    match event {
        EngineEvent::Completed { .. }
        | EngineEvent::Failed { .. }
        | EngineEvent::Cancelled { .. }
        | EngineEvent::Removed { .. } => {
            let mut view = batch.live.remove(&id)?;
            finished(event, &mut view, batch, out);
            batch.fold_finished(&view);
            return Some(id);
        }
        EngineEvent::Started { info, .. } => {
            view.resumed_from.get_or_insert(info.offset);
            view.started.get_or_insert_with(Instant::now);
            let size = info.total.map_or_else(|| "size unknown".to_string(), format::bytes);
            let from = if info.offset > 0 {
                format!(", continuing at {}", format::bytes(info.offset))
            } else {
                String::new()
            };
            out.log(&format!("started {} ({size}{from}) from {}", info.name, view.item.url));
            out.json(|| JsonEvent::Started { item: jsonl::record(&view.item), offset: info.offset });
        }
        EngineEvent::Progress { .. } if out.verbosity == Verbosity::Json => {
            let now = Instant::now();
            if view.progress_printed.is_none_or(|at| now.duration_since(at) >= jsonl::PROGRESS_EVERY) {
                view.progress_printed = Some(now);
                jsonl::print(&JsonEvent::Progress { item: jsonl::record(&view.item) });
            }
        }
        EngineEvent::Checksum { checksum, .. } if checksum.state == ChecksumState::Verified => {
            batch.verified += 1;
            out.json(|| JsonEvent::Verified { item: jsonl::record(&view.item) });
        }
        EngineEvent::Note { message, .. } => out.log(&format!("note: {}: {message}", view.label())),
        EngineEvent::Retrying { attempt, delay, reason, .. } => {
            out.json(|| JsonEvent::Retrying {
                item: jsonl::record(&view.item),
                attempt,
                delay: delay.as_secs_f64(),
                reason: &reason,
            });
            out.log(&format!(
                "retrying {} in {} (attempt {attempt}): {reason}",
                view.label(),
                format::duration_precise(delay)
            ));
        }
        _ => {}
    }
    None
}

/// Reports how an item ended and counts it.
fn finished(event: EngineEvent, view: &mut ItemView, batch: &mut Batch, out: &mut Reporter) {
    match event {
        EngineEvent::Completed { path, bytes, skipped, .. } => {
            out.json(|| JsonEvent::Done { item: jsonl::record(&view.item), path: &path, skipped });
            batch.done += 1;
            if skipped {
                view.resumed_from = Some(bytes);
                batch.skipped += 1;
                out.log(&format!("skipped {} (already complete)", path.display()));
            } else {
                let took = view.started.map(|s| s.elapsed()).unwrap_or_default();
                let rate = view.fetched_this_run() as f64 / took.as_secs_f64().max(1e-3);
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
            out.json(|| JsonEvent::Failed { item: jsonl::record(&view.item) });
            out.error(&error.message);
            batch.failures.push((std::mem::take(&mut view.item.url), error.message));
        }
        EngineEvent::Cancelled { .. } | EngineEvent::Removed { .. } => {
            out.json(|| JsonEvent::Cancelled { item: jsonl::record(&view.item) });
            batch.failures.push((std::mem::take(&mut view.item.url), "cancelled".into()));
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
    let live = || batch.live.values();
    let running = live().filter(|i| i.started.is_some()).count();
    let bytes = live().fold(batch.finished_bytes, |sum, i| sum.saturating_add(i.item.bytes));
    // Known once every URL is in the engine and has announced its size.
    let known_total = batch.pending.len() == 0 && live().all(|i| i.item.total.is_some());
    let size = if known_total {
        let total = live().fold(batch.finished_bytes, |sum, i| sum.saturating_add(i.item.total.unwrap_or(0)));
        format!("{} of {}", format::bytes(bytes), format::bytes(total))
    } else {
        format::bytes(bytes)
    };
    let eta = if known_total && live().all(|i| i.started.is_some()) {
        let left = live()
            .fold(0u64, |sum, i| sum.saturating_add(i.item.total.unwrap_or(0).saturating_sub(i.item.bytes)));
        format::eta(left, rate).map(|d| format!("  ETA {}", format::duration(d))).unwrap_or_default()
    } else {
        String::new()
    };
    let failed =
        if batch.failures.is_empty() { String::new() } else { format!(", {} failed", batch.failures.len()) };
    format!("[{}/{}] {size}  {}{eta}  {running} running{failed}", batch.done, batch.total, format::rate(rate))
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

    /// A hook's outcome: a failure is printed like an error (whatever the verbosity), a
    /// success like a log line but also under the live status line.
    fn hook(&mut self, report: &crate::hooks::HookReport) {
        if !report.ok {
            self.error(&report.line());
        } else if self.verbosity != Verbosity::Quiet {
            self.clear_status();
            output::err_line(&format!("dlm: {}", report.line()));
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

    /// Prints the event built by `event` when this run prints JSON (built only then: an item
    /// record is a few allocations).
    fn json<'a>(&self, event: impl FnOnce() -> JsonEvent<'a>) {
        if self.verbosity == Verbosity::Json {
            jsonl::print(&event());
        }
    }

    fn status(&mut self, line: &str) {
        output::err_text(&format!("\r\x1b[K{line}"));
        self.status_shown = true;
    }

    fn summary(&mut self, batch: &Batch) {
        let failed = batch.failures.len();
        if matches!(self.verbosity, Verbosity::Quiet | Verbosity::Json) {
            return;
        }
        let took = batch.started.elapsed();
        let bytes = batch.bytes_this_run();
        let skipped =
            if batch.skipped > 0 { format!(" ({} already complete)", batch.skipped) } else { String::new() };
        let verified =
            if batch.verified > 0 { format!(", {} verified", batch.verified) } else { String::new() };
        output::err_line(&format!(
            "{} succeeded{skipped}, {failed} failed{verified}; {} in {} ({})",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_items_announcing_the_largest_size_do_not_overflow_the_status_line() {
        let huge = |id| {
            let limits = crate::engine::ItemLimits { rate_limit: None, connections: 1 };
            let mut item = ItemSnapshot::new(ItemId(id), "http://example.com/huge", "/dl".into(), limits);
            item.total = Some(u64::MAX);
            item.bytes = u64::MAX - 1;
            ItemView { item, resumed_from: Some(0), started: Some(Instant::now()), progress_printed: None }
        };
        let mut batch = Batch::new(Vec::new(), 3, Vec::new());
        batch.in_engine = 2;
        batch.live = HashMap::from([(ItemId(1), huge(1)), (ItemId(2), huge(2))]);
        let line = status_line(&batch, 1.0);
        assert!(line.starts_with("[0/3] 16384 PiB of 16384 PiB"), "{line}");
        assert_eq!(batch.bytes_this_run(), u64::MAX);
        // A third one finishing folds into the totals the same way.
        batch.fold_finished(&huge(3));
        assert_eq!(batch.bytes_this_run(), u64::MAX);
        assert!(status_line(&batch, 1.0).contains("2 running"));
    }
}
