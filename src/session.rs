//! A front end's persistent session in one value: the state lock, the restored queue, the
//! debounced saver and the control socket, wired to an engine handle. The TUI calls `open`
//! once, forwards engine events and control requests, and `close`s on exit. Depends on the
//! engine handle, `state` and `control`; never on the TUI.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::control::{self, ControlRequest, ControlServer};
use crate::engine::{AddRequest, EngineEvent, EngineHandle, ItemId};
use crate::state::{
    Debounce, PROGRESS_SAVE_EVERY, Persister, STATE_SAVE_DELAY, StateError, StateLock, StateStore,
    restore_plan,
};

/// How long `open` waits for the lock: a `dlm add` writing the saved queue holds it briefly.
const LOCK_WAIT: Duration = Duration::from_secs(2);

pub struct Session {
    _lock: StateLock,
    persist: Persister,
    control: Option<ControlServer>,
    /// Requests from `dlm add` in other shells; `select!` on it next to the engine events.
    pub control_rx: mpsc::Receiver<ControlRequest>,
    /// Something the person should see once (a damaged queue file moved aside, or no control
    /// socket).
    pub notices: Vec<String>,
    /// Ids of the restored items, in saved order.
    pub restored: Vec<ItemId>,
}

impl Session {
    /// Takes the state lock (refusing a second dlm), restores the saved queue into the engine,
    /// starts saving, and opens the control socket. A socket that cannot be opened is a
    /// notice, not an error: downloads matter more than `dlm add`.
    pub fn open(
        store: StateStore,
        socket: Option<PathBuf>,
        handle: &EngineHandle,
        default_dir: &Path,
    ) -> Result<Session, StateError> {
        let lock = wait_off_the_runtime(|| store.lock(LOCK_WAIT))?;
        let loaded = store.load()?;
        let mut notices: Vec<String> = loaded.notice.into_iter().collect();
        let persist =
            Persister::spawn(store, default_dir, Debounce::new(STATE_SAVE_DELAY, PROGRESS_SAVE_EVERY));
        let restored = restore_plan(&loaded.queue)
            .into_iter()
            .map(|r| {
                let id = handle.restore_with_limits(r.request, r.state, r.limits);
                persist.track_saved(id, r.saved);
                id
            })
            .collect();
        let (control, control_rx) = match socket.map(|path| ControlServer::start(&path, persist.listing())) {
            Some(Ok((server, rx))) => (Some(server), rx),
            Some(Err(e)) => {
                notices.push(format!("`dlm add` from other shells is unavailable: {e}"));
                (None, mpsc::channel(1).1)
            }
            None => (None, mpsc::channel(1).1),
        };
        Ok(Session { _lock: lock, persist, control, control_rx, notices, restored })
    }

    /// `open` with the usual locations (`DLM_STATE_DIR`/platform data dir, runtime dir).
    /// `save_credentials` is the config's choice to keep `user:password@` in the saved queue.
    pub fn open_default(
        handle: &EngineHandle,
        default_dir: &Path,
        save_credentials: bool,
    ) -> Result<Session, StateError> {
        let store = StateStore::from_env()?.saving_credentials(save_credentials);
        Session::open(store, control::socket_path(), handle, default_dir)
    }

    /// Adds a download and records it for saving. Use instead of `EngineHandle::add`.
    pub fn add(&self, handle: &EngineHandle, request: AddRequest) -> ItemId {
        let id = handle.add(request.clone());
        self.persist.track(id, &request);
        id
    }

    /// Forward every engine event here (as well as to the view).
    pub fn on_event(&self, event: &EngineEvent) {
        self.persist.event(event);
    }

    /// Acts on a request from the control socket; returns the new ids for the view.
    pub fn on_control(&self, handle: &EngineHandle, request: ControlRequest) -> Vec<ItemId> {
        match request {
            ControlRequest::Add { urls, dir } => urls
                .into_iter()
                .map(|url| self.add(handle, AddRequest { url, dir: dir.clone(), resume: None }))
                .collect(),
        }
    }

    /// Closes the socket and writes the final queue. Call after `Engine::shutdown` (so the
    /// last events are folded in) and before the process exits; the lock goes with `self`.
    pub async fn close(self) -> Result<(), StateError> {
        if let Some(control) = self.control {
            control.shutdown().await;
        }
        self.persist.shutdown().await
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
