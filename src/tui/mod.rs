//! The interactive terminal UI (`dlm [URL…]`): the event loop that joins the terminal and the
//! session. It knows only three things: terminal input, the session's events and a slow tick;
//! it folds whatever arrived into the `App` and draws at most once per frame, only when
//! something changed. The session does the rest (the saved queue, `dlm add` from other shells),
//! so a slow frame never delays a save. Submodules: `terminal` (owns the real terminal), `app`
//! (pure model), `ui` (drawing), `keys` (the key table), `input` (text boxes), `system` (opening files, the clipboard). Talks to the
//! engine only through the session; nothing below it may depend on this module.

pub mod app;
pub mod input;
pub mod keys;
mod signals;
pub mod system;
pub mod terminal;
pub mod ui;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::sleep_until;

use crate::actions::ActionsConfig;
use crate::engine::{EngineOptions, ItemLimits};
use crate::output;
use crate::session::{Session, SessionConfig, SessionEvent, SessionHandle};

pub use app::{Action, App, Effect};
pub use keys::KeyMap;

/// Least time between two frames drawn for input, so key repeat cannot flood the terminal.
const INPUT_FRAME: Duration = Duration::from_millis(16);
/// Least time between two frames drawn only because the engine reported progress: ten a second
/// is smooth to the eye and keeps the UI's share of a core small during big batches.
const ENGINE_FRAME: Duration = Duration::from_millis(100);
/// Rates and the graph are sampled this often while something moves…
const BUSY_TICK: Duration = Duration::from_secs(1);
/// …and only this often when nothing does, so an idle UI sleeps.
const IDLE_TICK: Duration = Duration::from_secs(10);
/// How often the free space of the download folder is read again.
const FREE_SPACE_EVERY: Duration = Duration::from_secs(5);
/// Session events folded per wake-up before the loop looks at the keyboard again.
const DRAIN_LIMIT: usize = 8192;
/// How long quitting waits for transfers to stop before leaving anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the UI until the person quits. `urls` are added as if pasted.
/// `save_credentials` is the config option of that name (see `state::StateStore`); `policy`
/// the rules and schedule the session applies.
pub async fn run(
    urls: Vec<String>,
    options: EngineOptions,
    keymap: KeyMap,
    save_credentials: bool,
    policy: SessionConfig,
    actions: ActionsConfig,
) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("the interactive UI needs a terminal; use `dlm get URL…` in scripts and pipes");
    }
    std::fs::create_dir_all(&options.download_dir)
        .with_context(|| format!("cannot create the download folder {}", options.download_dir.display()))?;
    // Absolute, so the header says "saving to /home/me/Downloads", never "saving to .".
    let dir = std::fs::canonicalize(&options.download_dir).unwrap_or_else(|_| options.download_dir.clone());
    let cap = options.workers;
    let item_defaults = ItemLimits {
        rate_limit: options.item_rate_limit,
        connections: options.connections.min(crate::engine::MAX_CONNECTIONS),
    };
    // The saved queue comes back, is saved as it changes, and `dlm add` from other shells
    // reaches this screen. Refuses to run beside another dlm on the same queue.
    let (session, mut events) = Session::start(
        options,
        SessionConfig {
            rules: policy.rules,
            schedule: policy.schedule,
            ..SessionConfig::saved(save_credentials)?
        },
    )?;
    let mut app = App::new(keymap, dir.clone(), cap, Instant::now());
    app.item_defaults = item_defaults;
    app.color = terminal::color_allowed();
    app.free_space = free_space(&dir);
    // Before the screen's panic hook, which then restores the screen first.
    let mut signals = signals::Signals::start(actions);
    let mut tui = terminal::Tui::enter().context("cannot set up the terminal")?;
    // Debug builds only: lets the end-to-end test prove that a panic inside a tokio task
    // restores the terminal and ends the program with the message shown.
    #[cfg(debug_assertions)]
    if std::env::var_os("DLM_DEBUG_PANIC_IN_TASK").is_some() {
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            panic!("deliberate panic in a tokio task (DLM_DEBUG_PANIC_IN_TASK)");
        });
    }
    let result = event_loop(&mut tui, &mut app, &session.handle(), &mut events, &mut signals, urls).await;
    drop(tui);
    signals.finish();
    // Nothing is drawn any more: the session stops the transfers and writes the queue.
    drop(events);
    let closed = session.shutdown(SHUTDOWN_GRACE).await;
    if !closed.stopped_in_time {
        output::err_line(&format!(
            "dlm: transfers did not stop within {}s; leaving anyway",
            SHUTDOWN_GRACE.as_secs()
        ));
    }
    if let Err(e) = closed.saved {
        output::err_line(&format!("dlm: could not save the queue: {e}"));
    }
    result?;
    let c = app.counts();
    let stopped = c.running + c.queued + c.paused;
    let unfinished = if stopped > 0 {
        format!(", {stopped} unfinished (kept in the queue; they continue next time)")
    } else {
        String::new()
    };
    // The terminal may be gone by now (a closed window): the summary is not worth a panic.
    let _ = writeln!(output::stdout(), "dlm: {} done, {} failed{unfinished}", c.done, c.failed);
    Ok(ExitCode::SUCCESS)
}

async fn event_loop(
    tui: &mut terminal::Tui,
    app: &mut App,
    session: &SessionHandle,
    events: &mut mpsc::Receiver<SessionEvent>,
    signals: &mut signals::Signals,
    urls: Vec<String>,
) -> anyhow::Result<()> {
    let size = tui.terminal.size()?;
    app.update(Action::Resize { width: size.width, height: size.height });
    if !urls.is_empty() {
        let effects = app.update(Action::Paste(urls.join("\n")));
        perform(effects, session, tui, app)?;
    }
    let mut input = EventStream::new();
    let mut tstp = signal(SignalKind::from_raw(rustix::process::Signal::TSTP.as_raw()))?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut session_open = true;
    let mut dirty = true;
    let mut urgent = true;
    let mut last_draw: Option<Instant> = None;
    let mut next_tick = Instant::now() + BUSY_TICK;
    let mut free_read = Instant::now();
    loop {
        let frame = if urgent { INPUT_FRAME } else { ENGINE_FRAME };
        let due = last_draw.map(|t| t + frame);
        if dirty && due.is_none_or(|d| Instant::now() >= d) {
            tui.terminal.draw(|f| ui::draw(f, app))?;
            last_draw = Some(Instant::now());
            dirty = false;
            urgent = false;
        }
        // Between frames: notification and taskbar bytes share stdout with the frame.
        signals.flush(tui.terminal.backend_mut())?;
        let draw_at = if dirty { due } else { None };
        tokio::select! {
            // Keys first: a flood of progress must never make the keyboard wait.
            biased;
            event = input.next() => match event {
                Some(Ok(event)) => {
                    // Only what means something redraws: the terminal reports every mouse
                    // motion, and redrawing for each made an idle UI draw 60 frames a second.
                    if let Some(action) = app.action_for(&event) {
                        let effects = app.update(action);
                        if perform(effects, session, tui, app)? == Flow::Quit {
                            return Ok(());
                        }
                        dirty = true;
                        urgent = true;
                    }
                }
                Some(Err(e)) => return Err(e).context("reading the terminal"),
                None => return Ok(()),
            },
            _ = tstp.recv() => {
                tui.suspend()?;
                dirty = true;
                urgent = true;
            }
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => return Ok(()),
            event = events.recv(), if session_open => {
                match event {
                    Some(event) => {
                        let now = Instant::now();
                        on_session_event(app, signals, event, now);
                        // Take everything already waiting, so one frame shows it all.
                        for _ in 0..DRAIN_LIMIT {
                            match events.try_recv() {
                                Ok(event) => on_session_event(app, signals, event, now),
                                Err(_) => break,
                            }
                        }
                        // Something moved: sample rates soon even if the loop was idle.
                        next_tick = next_tick.min(now + BUSY_TICK);
                    }
                    None => {
                        session_open = false;
                        app.engine_stopped = true;
                    }
                }
                dirty = true;
            }
            Some(report) = signals.reports.recv() => {
                app.update(Action::Notice(report.line()));
                dirty = true;
            }
            _ = sleep_until(next_tick.into()) => {
                let now = Instant::now();
                dirty |= app.tick(now);
                signals.tick(app);
                if now.duration_since(free_read) >= FREE_SPACE_EVERY {
                    free_read = now;
                    let free = free_space(&app.download_dir);
                    // Other programs change the free space all the time; redraw only when the
                    // figure shown changes.
                    dirty |= free.map(crate::format::bytes) != app.free_space.map(crate::format::bytes);
                    app.free_space = free;
                }
                next_tick = now + if app.busy() { BUSY_TICK } else { IDLE_TICK };
            }
            _ = sleep_until(draw_at.unwrap_or_else(Instant::now).into()), if draw_at.is_some() => {}
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// Does what `App::update` asked for. The adds of one action (a paste of ten thousand URLs)
/// go to the session together.
fn perform(
    effects: Vec<Effect>,
    session: &SessionHandle,
    tui: &mut terminal::Tui,
    app: &mut App,
) -> anyhow::Result<Flow> {
    let mut adds = Vec::new();
    let mut flow = Flow::Continue;
    for effect in effects {
        match effect {
            Effect::Add(request) => adds.push(request),
            Effect::Send(command) => {
                // In order: a pause right after a paste applies to what was pasted.
                if !adds.is_empty() {
                    session.add(std::mem::take(&mut adds));
                }
                session.send(command);
            }
            Effect::Suspend => tui.suspend()?,
            Effect::Quit => flow = Flow::Quit,
            Effect::Copy(text) => {
                let in_tmux = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
                let out = tui.terminal.backend_mut();
                out.write_all(system::osc52(&text, in_tmux).as_bytes())?;
                out.flush()?;
            }
            Effect::SetFolder(typed) => app.folder_checked(system::prepare_folder(&typed)),
            Effect::AddIn { folder, text } => {
                let effects = app.add_in_folder(&text, system::prepare_folder(&folder));
                perform(effects, session, tui, app)?;
            }
            Effect::Open(path) => {
                let result = if path.exists() {
                    system::open(&path)
                } else {
                    Err(format!("{} is not there any more", path.display()))
                };
                if let Err(why) = result {
                    app.update(Action::Notice(format!("cannot open {}: {why}", path.display())));
                }
            }
        }
    }
    if !adds.is_empty() {
        session.add(adds);
    }
    Ok(flow)
}

fn on_session_event(app: &mut App, signals: &mut signals::Signals, event: SessionEvent, now: Instant) {
    match event {
        SessionEvent::Engine(event) => signals.apply(app, event, now),
        SessionEvent::Notice(text) => {
            app.update(Action::Notice(text));
        }
        SessionEvent::Schedule(text) => app.schedule = text,
    }
}

/// Bytes free for an unprivileged user on the file system holding `dir`.
fn free_space(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
