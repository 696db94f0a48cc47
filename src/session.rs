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
    Debounce, PROGRESS_SAVE_EVERY, Persister, STATE_SAVE_DELAY, SavedItem, StateError, StateLock, StateStore,
    resolve_folders, restore_plan,
};

/// How long `open` waits for the lock: a `dlm add` writing the saved queue holds it briefly.
const LOCK_WAIT: Duration = Duration::from_secs(2);

pub struct Session {
    _lock: StateLock,
    persist: Persister,
    control: Option<ControlServer>,
    /// Requests from `dlm add` in other shells; `select!` on it next to the engine events.
    pub control_rx: mpsc::Receiver<ControlRequest>,
    /// Something the person should see once (a damaged queue file moved aside, items whose
    /// folder an older dlm did not record, or no control socket).
    pub notices: Vec<String>,
    /// The restored items under their new ids, in saved order, as restored (folder absolute,
    /// bytes as on disk), so a front end can show their names and sizes before the engine
    /// says anything about them.
    pub restored: Vec<(ItemId, SavedItem)>,
}

impl Session {
    /// Takes the state lock (refusing a second dlm), restores the saved queue into the engine,
    /// starts saving, and opens the control socket. A socket that cannot be opened is a
    /// notice, not an error: downloads matter more than `dlm add`. `default_dir` is the
    /// engine's download folder; it is made absolute here.
    pub fn open(
        store: StateStore,
        socket: Option<PathBuf>,
        handle: &EngineHandle,
        default_dir: &Path,
    ) -> Result<Session, StateError> {
        let default_dir = std::path::absolute(default_dir).unwrap_or_else(|_| default_dir.to_path_buf());
        let lock = wait_off_the_runtime(|| store.lock(LOCK_WAIT))?;
        let mut loaded = store.load()?;
        let mut notices: Vec<String> = loaded.notice.into_iter().collect();
        let flagged = resolve_folders(&mut loaded.queue, &default_dir);
        if flagged > 0 {
            notices.push(format!(
                "{flagged} saved item{s} came from an older dlm that did not record {which} folder; \
                 marked failed rather than downloaded again elsewhere (r retries in {dir})",
                s = if flagged == 1 { "" } else { "s" },
                which = if flagged == 1 { "its" } else { "their" },
                dir = default_dir.display()
            ));
        }
        let restored: Vec<(ItemId, SavedItem)> = restore_plan(&loaded.queue)
            .into_iter()
            .map(|r| (handle.restore_with_limits(r.request, r.state, r.limits), r.saved))
            .collect();
        let debounce = Debounce::new(STATE_SAVE_DELAY, PROGRESS_SAVE_EVERY);
        let persist = Persister::spawn(store, &default_dir, debounce, restored.clone());
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

    /// Adds a download and records it for saving. Use instead of `EngineHandle::add`. Waits
    /// only while the saver is far behind (see `Persister::track`).
    pub async fn add(&self, handle: &EngineHandle, request: AddRequest) -> ItemId {
        let id = handle.add(request.clone());
        self.persist.track(id, &request).await;
        id
    }

    /// Forward every engine event here (as well as to the view).
    pub async fn on_event(&self, event: &EngineEvent) {
        self.persist.event(event).await;
    }

    /// Acts on a request from the control socket; returns the new ids for the view.
    pub async fn on_control(&self, handle: &EngineHandle, request: ControlRequest) -> Vec<ItemId> {
        match request {
            ControlRequest::Add { urls, dir } => {
                let mut ids = Vec::with_capacity(urls.len());
                for url in urls {
                    ids.push(
                        self.add(handle, AddRequest { url, dir: dir.clone(), resume: None, checksum: None })
                            .await,
                    );
                }
                ids
            }
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
