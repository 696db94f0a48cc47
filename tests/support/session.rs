//! Drives a real `Session` (engine, saved queue, control socket) in tests: starts it on a
//! temporary folder with fast retries, keeps every event it hands on, and waits on events
//! (never on the clock).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dlm::engine::{AddRequest, EngineEvent, EngineOptions};
use dlm::session::{Closed, Session, SessionConfig, SessionError, SessionEvent, SessionHandle};
use dlm::state::StateStore;
use tokio::sync::mpsc;

use super::harness::{PATIENCE, test_options};

pub struct Running {
    pub session: Session,
    pub handle: SessionHandle,
    pub events: mpsc::Receiver<SessionEvent>,
    /// Every event received so far.
    pub seen: Vec<SessionEvent>,
}

/// A session downloading into `dir`, saving to `store` and listening on `socket` when given.
pub fn start(
    dir: &Path,
    store: Option<StateStore>,
    socket: Option<PathBuf>,
) -> Result<Running, SessionError> {
    start_with(dir, SessionConfig { store, socket, ..SessionConfig::default() })
}

/// A session downloading into `dir` with `config` (rules, schedule, clock…).
pub fn start_with(dir: &Path, config: SessionConfig) -> Result<Running, SessionError> {
    start_configured(test_options(dir), config)
}

/// A session with these engine options and `config`.
pub fn start_configured(options: EngineOptions, config: SessionConfig) -> Result<Running, SessionError> {
    let (session, events) = Session::start(options, config)?;
    let handle = session.handle();
    Ok(Running { session, handle, events, seen: Vec::new() })
}

impl Running {
    pub fn add(&self, url: impl Into<String>) {
        self.handle.add(vec![AddRequest::new(url)]);
    }

    /// Receives events until `pred` accepts an engine event; returns it.
    pub async fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&EngineEvent) -> bool) -> EngineEvent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; events so far: {:#?}", self.seen))
                .unwrap_or_else(|| panic!("the session stopped while waiting for {what}"));
            self.seen.push(event.clone());
            if let SessionEvent::Engine(e) = event
                && pred(&e)
            {
                return e;
            }
        }
    }

    /// Waits until `cond` holds, receiving events meanwhile (the session stops taking the
    /// engine's events while too many wait for the front end, as a real front end would see).
    pub async fn until(&mut self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !cond() {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(5), self.events.recv()).await
            {
                self.seen.push(event);
            }
        }
    }

    /// The notices received so far.
    pub fn notices(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Notice(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// Stops the session as quitting does and returns how it ended.
    pub async fn close(self) -> Closed {
        drop(self.events);
        self.session.shutdown(Duration::from_secs(10)).await
    }
}

/// The length of a file, 0 when it does not exist.
pub fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
