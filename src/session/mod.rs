//! The session: the layer between the engine and every front end. One task owns the engine,
//! its event receiver, the model (every item as an `ItemSnapshot`, folded once), and, when
//! asked for, the saved queue and the control socket. It restores the saved queue into the
//! engine, writes the queue as items change (without waiting for the front end), answers
//! `dlm add`/`dlm ls` and the changes by id (`dlm pause ID…`) from other shells itself, and
//! hands every engine event on to the front
//! end, which keeps its own view by the same `ItemSnapshot::apply`.
//!
//! The terminal UI runs a session with saving and the socket on; `dlm get` the same session
//! with both off, so the two front ends cannot drift apart. `model` is the fold, `saver` the
//! saved queue's writer, `outbox` the way to the front end, `actor` the task. Depends on the
//! engine, `state` and `control`; never on a front end or a UI crate.

mod actor;
mod adds;
mod by_id;
mod model;
mod outbox;
mod rules;
mod saver;
mod schedule;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::{Rules, Schedule};
use crate::control::{self, ControlServer};
use crate::engine::{
    AddRequest, Command, Engine, EngineError, EngineEvent, EngineOptions, ItemId, ItemLimits,
};
use crate::state::{Settings, StateError, StateStore, resolve_folders, restore_plan};

pub use by_id::{ById, Identified};
pub use saver::SAVE_DELAY;
pub use schedule::{Clock, ScheduleClock, TICK_EVERY};

/// How long `start` waits for the state lock: a `dlm add` writing the saved queue holds it
/// briefly.
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// Room in the channel to the front end; the session keeps what does not fit (see `outbox`).
const EVENT_CHANNEL: usize = 1024;

/// What the session hands the front end.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// What the engine reported, in order (progress may be merged when the front end lags).
    Engine(EngineEvent),
    /// Something the person should read once: a damaged queue file moved aside, items whose
    /// folder an older dlm did not record, no control socket, a queue that cannot be saved.
    Notice(String),
    /// What the `[[schedule]]` holds now, in the header's words (`limit 512K until 17:00 ·
    /// schedule`); `None` once nothing is in force. Sent when it changes.
    Schedule(Option<String>),
}

/// What the session keeps besides the engine.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// The saved queue: restored at start and saved as it changes. `None`: nothing is saved
    /// (`dlm get`).
    pub store: Option<StateStore>,
    /// Where to listen for `dlm add`/`dlm ls` from other shells. `None`: no socket.
    pub socket: Option<PathBuf>,
    /// The `[[rule]]`s: matched when an item is added or restored (see `rules`).
    pub rules: Rules,
    /// The `[[schedule]]`, driven by the session (see `schedule`).
    pub schedule: Schedule,
    /// The clock and zone the schedule is read by (tests give a fixed one).
    pub clock: ScheduleClock,
}

impl SessionConfig {
    /// The terminal UI's session: the saved queue in `DLM_STATE_DIR` (or the platform data
    /// folder) and the control socket in its usual place. `save_credentials` is the config's
    /// choice to keep `user:password@` in the saved queue.
    pub fn saved(save_credentials: bool) -> Result<Self, StateError> {
        let store = StateStore::from_env()?.saving_credentials(save_credentials);
        Ok(Self { store: Some(store), socket: control::socket_path(), ..Self::default() })
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot start the download engine: {0}")]
    Engine(#[from] EngineError),
}

/// How the session ended.
#[derive(Debug)]
pub struct Closed {
    /// Every transfer stopped within the grace period given to `shutdown`.
    pub stopped_in_time: bool,
    /// Whether the last changes reached the saved queue.
    pub saved: Result<(), StateError>,
}

/// What a front end sends the session. Cheap to clone.
#[derive(Clone)]
pub struct SessionHandle {
    tx: mpsc::UnboundedSender<ToSession>,
}

// A front end sends a handful of these a second at most: boxing the command would cost more
// than the bytes it saves.
#[allow(clippy::large_enum_variant)]
enum ToSession {
    Add(Vec<AddRequest>),
    Command(Command),
    Refresh(ItemId, String),
}

impl SessionHandle {
    /// Queues downloads. Each shows up as `Added` (then, for a bad URL, `Failed`).
    pub fn add(&self, requests: Vec<AddRequest>) {
        let _ = self.tx.send(ToSession::Add(requests));
    }

    /// Tells the engine something (pause, limits, …), in order with the adds sent before.
    pub fn send(&self, command: Command) {
        let _ = self.tx.send(ToSession::Command(command));
    }

    /// Gives item `id` a new URL for the same file; it continues from its `.part` when the new
    /// URL serves the same version. A URL the engine refuses (not http(s), unparsable) comes
    /// back as a `SessionEvent::Notice` saying why; the item is not touched then.
    pub fn refresh(&self, id: ItemId, url: String) {
        let _ = self.tx.send(ToSession::Refresh(id, url));
    }
}

/// A running session. Dropping it leaves the task running; call `shutdown`.
pub struct Session {
    handle: SessionHandle,
    quit: oneshot::Sender<Duration>,
    task: JoinHandle<Closed>,
}

impl Session {
    /// Starts the engine and the session task on the current runtime, and returns the
    /// receiver of the session's events. With a store: takes the state lock first (refusing
    /// a second dlm on the same queue), restores the saved queue under its ids, then saves as
    /// it changes. A socket that cannot be opened is a notice, not an error: downloads matter
    /// more than `dlm add`.
    pub fn start(
        mut options: EngineOptions,
        config: SessionConfig,
    ) -> Result<(Session, mpsc::Receiver<SessionEvent>), SessionError> {
        let download_dir = options.download_dir.clone();
        let defaults = ItemLimits {
            rate_limit: options.item_rate_limit,
            connections: options.connections.min(crate::engine::MAX_CONNECTIONS),
        };
        let mut notices = Vec::new();
        let saved = match &config.store {
            Some(store) => {
                let lock = wait_off_the_runtime(|| store.lock(LOCK_WAIT))?;
                let mut loaded = wait_off_the_runtime(|| store.load())?;
                notices.extend(loaded.notice.take());
                let flagged = resolve_folders(&mut loaded.queue, &download_dir);
                if flagged > 0 {
                    notices.push(format!(
                        "{flagged} saved item{s} came from an older dlm that did not record {which} \
                         folder; marked failed rather than downloaded again elsewhere (r retries in {dir})",
                        s = if flagged == 1 { "" } else { "s" },
                        which = if flagged == 1 { "its" } else { "their" },
                        dir = download_dir.display()
                    ));
                }
                // The worker count and rate limit the person last set win over the config's.
                if let Some(settings) = loaded.queue.settings {
                    options.workers = settings.workers;
                    options.rate_limit = settings.rate_limit;
                }
                Some((lock, store.clone(), loaded))
            }
            None => None,
        };
        // As the engine reports them at start (clamped, 0 is unlimited).
        let settings = Settings {
            workers: options.workers.clamp(1, crate::engine::MAX_WORKERS),
            rate_limit: options.rate_limit.filter(|l| *l > 0),
        };
        let (rules, rule_notices) = rules::RuleBook::new(config.rules, &download_dir);
        notices.extend(rule_notices);
        let driver =
            schedule::Driver::new(config.schedule, options.rate_limit, options.workers, config.clock);
        let (engine, events) = Engine::start(options)?;
        let mut actor = actor::Actor::new(engine, events, defaults);
        actor.set_policy(rules, driver);
        if let Some((lock, store, loaded)) = saved {
            let plan = restore_plan(&loaded.queue);
            let kept = loaded.queue.settings.is_some();
            actor.restore(lock, store, loaded.journal_len, loaded.queue.next_id, plan, (settings, kept));
        }
        if let Some(path) = &config.socket {
            match ControlServer::start(path) {
                Ok((server, requests)) => actor.listen(server, requests),
                Err(e) => notices.push(format!("`dlm add` from other shells is unavailable: {e}")),
            }
        }
        for notice in notices {
            actor.notice(notice);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (quit, quit_rx) = oneshot::channel();
        let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL);
        let task = tokio::spawn(actor.run(rx, quit_rx, events_tx));
        Ok((Session { handle: SessionHandle { tx }, quit, task }, events_rx))
    }

    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }

    /// Stops every transfer (their `.part` files stay), closes the socket and writes the last
    /// changes to the saved queue. Waits at most `grace` for the transfers; the queue is
    /// written either way. Events stop flowing to the front end from here on.
    pub async fn shutdown(self, grace: Duration) -> Closed {
        let _ = self.quit.send(grace);
        self.task.await.unwrap_or_else(|e| Closed {
            stopped_in_time: false,
            saved: Err(StateError::Io {
                what: "the session stopped",
                path: PathBuf::new(),
                source: std::io::Error::other(e.to_string()),
            }),
        })
    }
}

/// Runs `wait` (which sleeps between tries) so that, on a multi-threaded runtime, the tasks
/// queued on this worker move to another thread meanwhile instead of waiting with it.
fn wait_off_the_runtime<T>(wait: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
        _ => wait(),
    }
}
