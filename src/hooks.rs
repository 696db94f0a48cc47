//! Actions when done: the configured `on_complete`, `on_error` and `on_queue_done` programs,
//! run with the documented `DLM_*` environment (argv, no shell), at most `MAX_RUNNING` at once
//! with a bounded number waiting, each killed at its timeout. Each outcome is reported on a
//! channel for the front end's log or message line; a hook never blocks or fails a download.
//! Depends on the engine's message types and program runner only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::engine::program::{self, NotRun};
use crate::engine::{ItemId, ItemSnapshot, ItemState, Program, str_without_credentials};

/// Hooks running at once; the rest wait their turn.
pub const MAX_RUNNING: usize = 4;
/// Hooks waiting for a turn besides the running ones; beyond this a hook is skipped (and
/// reported), so a queue of 10,000 tiny files cannot pile up 10,000 waiting hooks.
pub const MAX_WAITING: usize = 256;
/// Characters of a hook's output kept in its report.
const REPORT_CHARS: usize = 300;
/// Reports not yet read by the front end; further ones are dropped.
const REPORT_BACKLOG: usize = 256;

/// The hooks part of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    pub on_complete: Option<Program>,
    pub on_error: Option<Program>,
    pub on_queue_done: Option<Program>,
    pub timeout: Duration,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self { on_complete: None, on_error: None, on_queue_done: None, timeout: Duration::from_secs(60) }
    }
}

/// Which hook ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    OnComplete,
    OnError,
    OnQueueDone,
}

impl Hook {
    /// The config key, as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::OnComplete => "on_complete",
            Self::OnError => "on_error",
            Self::OnQueueDone => "on_queue_done",
        }
    }
}

/// How one hook went, for the log or the message line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    pub hook: Hook,
    /// The item it ran for (`None` for `on_queue_done`).
    pub item: Option<ItemId>,
    /// That item's file name (or URL, without credentials), for messages.
    pub name: Option<String>,
    /// It exited with status 0.
    pub ok: bool,
    /// One line: how it ended, then the first of its output (stderr, else stdout), capped.
    pub message: String,
}

impl HookReport {
    /// The line a front end shows: `on_complete for a.iso: failed (exit status: 1): boom`.
    pub fn line(&self) -> String {
        match &self.name {
            Some(name) => format!("{} for {name}: {}", self.hook.name(), self.message),
            None => format!("{}: {}", self.hook.name(), self.message),
        }
    }
}

/// Runs hooks in the background. Cheap to clone; dropping every clone does not stop hooks
/// already running (they end at their timeout), `stop` does.
#[derive(Clone)]
pub struct Hooks {
    config: Arc<HookConfig>,
    turns: Arc<Semaphore>,
    /// Hooks waiting or running.
    unfinished: Arc<AtomicUsize>,
    /// Woken when the last unfinished hook ends (see `idle`).
    all_ended: Arc<Notify>,
    reports: mpsc::Sender<HookReport>,
    stop: CancellationToken,
}

impl Hooks {
    /// The runner and the channel its reports arrive on. Needs a tokio runtime when a hook
    /// is started.
    pub fn new(config: HookConfig) -> (Self, mpsc::Receiver<HookReport>) {
        let (reports, rx) = mpsc::channel(REPORT_BACKLOG);
        let hooks = Self {
            config: Arc::new(config),
            turns: Arc::new(Semaphore::new(MAX_RUNNING)),
            unfinished: Arc::new(AtomicUsize::new(0)),
            all_ended: Arc::new(Notify::new()),
            reports,
            stop: CancellationToken::new(),
        };
        (hooks, rx)
    }

    /// Runs `on_complete` for a done item or `on_error` for a failed one (nothing for other
    /// states, or when that hook is not configured). Returns at once.
    pub fn item_finished(&self, item: &ItemSnapshot) {
        let (hook, program) = match item.state {
            ItemState::Done => (Hook::OnComplete, &self.config.on_complete),
            ItemState::Failed => (Hook::OnError, &self.config.on_error),
            _ => return,
        };
        if let Some(program) = program {
            let about = Some((item.id, str_without_credentials(item.label())));
            self.start(hook, about, program.clone(), item_env(item));
        }
    }

    /// Runs `on_queue_done` with the counts of the round that ended. Returns at once.
    pub fn queue_done(&self, done: usize, failed: usize) {
        if let Some(program) = &self.config.on_queue_done {
            let env = vec![("DLM_DONE", done.to_string()), ("DLM_FAILED", failed.to_string())];
            self.start(Hook::OnQueueDone, None, program.clone(), env);
        }
    }

    /// Returns once no hook is waiting or running: every report sent so far is then on the
    /// channel. Each hook is killed at its timeout, so this ends. (`dlm get` waits here, so a
    /// script finds `on_queue_done` done when `dlm get` exits.)
    pub async fn idle(&self) {
        loop {
            // Registered before the count is read, so an end between the two is not missed.
            let ended = self.all_ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.unfinished.load(Ordering::SeqCst) == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Kills the hooks running now and skips those waiting (dlm is quitting).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    fn start(
        &self,
        hook: Hook,
        about: Option<(ItemId, String)>,
        program: Program,
        env: Vec<(&'static str, String)>,
    ) {
        let (item, name) = about.map_or((None, None), |(id, name)| (Some(id), Some(name)));
        let report = move |ok, message| HookReport { hook, item, name, ok, message };
        // Counted from here until the hook ended, so running and waiting ones are bounded
        // together even before the spawned tasks had a chance to run.
        if self.unfinished.fetch_add(1, Ordering::SeqCst) >= MAX_RUNNING + MAX_WAITING {
            self.unfinished.fetch_sub(1, Ordering::SeqCst);
            let _ =
                self.reports.try_send(report(false, format!("skipped: {MAX_WAITING} hooks already waiting")));
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let _counted = Unfinished(Arc::clone(&this.unfinished), Arc::clone(&this.all_ended));
            let turn = tokio::select! {
                // Quitting wins over a free turn: no hook starts once dlm quits.
                biased;
                () = this.stop.cancelled() => None,
                turn = Arc::clone(&this.turns).acquire_owned() => turn.ok(),
            };
            let Some(_turn) = turn else { return };
            let (ok, message) = describe(program::run(&program, &env, this.config.timeout, &this.stop).await);
            // A front end that stopped reading loses reports, never a download.
            let _ = this.reports.try_send(report(ok, message));
        });
    }
}

/// One hook not finished yet (waiting or running); uncounted when dropped, waking `idle`
/// when it was the last. Dropped after the hook's report was sent.
struct Unfinished(Arc<AtomicUsize>, Arc<Notify>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.1.notify_waiters();
        }
    }
}

/// The environment of `on_complete` and `on_error`, all set (empty when not applicable):
/// `DLM_PATH`, `DLM_NAME`, `DLM_URL` (credentials removed), `DLM_SIZE`, `DLM_STATUS`,
/// `DLM_ERROR`, `DLM_ERROR_KIND`. (`DLM_CHECKSUM` comes with checksums.)
pub fn item_env(item: &ItemSnapshot) -> Vec<(&'static str, String)> {
    let error = item.error.as_ref().filter(|_| item.state == ItemState::Failed);
    vec![
        ("DLM_PATH", item.path.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()),
        ("DLM_NAME", item.label().to_string()),
        ("DLM_URL", str_without_credentials(&item.url)),
        ("DLM_SIZE", item.bytes.to_string()),
        ("DLM_STATUS", if item.state == ItemState::Done { "done" } else { "failed" }.to_string()),
        ("DLM_ERROR", error.map(|e| e.message.clone()).unwrap_or_default()),
        ("DLM_ERROR_KIND", error.map(|e| e.kind.as_str().to_string()).unwrap_or_default()),
    ]
}

/// Whether a hook succeeded, and the line that says how it went.
fn describe(result: Result<program::Ran, NotRun>) -> (bool, String) {
    let with_output = |head: String, output: &[u8]| {
        let said = program::excerpt(output, REPORT_CHARS);
        if said.is_empty() { head } else { format!("{head}: {said}") }
    };
    match result {
        Ok(ran) => {
            let output =
                if ran.stderr.iter().any(|b| !b.is_ascii_whitespace()) { &ran.stderr } else { &ran.stdout };
            let head =
                if ran.status.success() { "ok".to_string() } else { format!("failed ({})", ran.status) };
            (ran.status.success(), with_output(head, output))
        }
        Err(NotRun::TimedOut { after, stderr }) => {
            (false, with_output(format!("killed after the {}s timeout", after.as_secs_f64()), &stderr))
        }
        Err(NotRun::Stopped) => (false, "stopped: dlm is quitting".into()),
        Err(e @ NotRun::Spawn(_)) => (false, e.to_string()),
    }
}
