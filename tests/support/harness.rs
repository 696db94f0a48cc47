//! Drives a real `Engine` in tests: starts it on a temporary folder with fast retries, keeps
//! every event it reports, and waits on events (never on the clock).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dlm::engine::{AddRequest, Command, Engine, EngineEvent, EngineOptions, ItemId};
use tokio::sync::mpsc;

pub struct Harness {
    pub engine: Option<Engine>,
    pub events: Vec<EngineEvent>,
    rx: mpsc::Receiver<EngineEvent>,
    pub dir: tempfile::TempDir,
}

/// Options for tests: a fresh folder, quick retries, short stall timeout.
pub fn test_options(dir: &Path) -> EngineOptions {
    EngineOptions {
        download_dir: dir.to_path_buf(),
        retry_base_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(50),
        read_timeout: Duration::from_secs(5),
        progress_interval: Duration::from_millis(20),
        ..EngineOptions::default()
    }
}

/// Longest any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

impl Harness {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut EngineOptions)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut options = test_options(dir.path());
        adjust(&mut options);
        let (engine, rx) = Engine::start(options).unwrap();
        Self { engine: Some(engine), events: Vec::new(), rx, dir }
    }

    /// Stops this engine (as quitting would) and starts a new one on the same folder.
    pub async fn restart(mut self, adjust: impl FnOnce(&mut EngineOptions)) -> Self {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        let mut options = test_options(self.dir.path());
        adjust(&mut options);
        let (engine, rx) = Engine::start(options).unwrap();
        Self { engine: Some(engine), events: Vec::new(), rx, dir: self.dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn add(&self, url: impl Into<String>) -> ItemId {
        self.engine.as_ref().unwrap().handle().add(AddRequest::new(url))
    }

    pub fn add_request(&self, request: AddRequest) -> ItemId {
        self.engine.as_ref().unwrap().handle().add(request)
    }

    pub fn send(&self, cmd: Command) {
        self.engine.as_ref().unwrap().handle().send(cmd);
    }

    /// Receives events until `pred` accepts one; returns it.
    pub async fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&EngineEvent) -> bool) -> EngineEvent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; events so far: {:#?}", self.events))
                .unwrap_or_else(|| panic!("engine stopped while waiting for {what}"));
            self.events.push(event.clone());
            if pred(&event) {
                return event;
            }
        }
    }

    /// Waits until `id` completes, fails or is cancelled; returns that event.
    pub async fn finish(&mut self, id: ItemId) -> EngineEvent {
        if let Some(done) = self.terminal(id) {
            return done;
        }
        self.wait_for(&format!("{id} to finish"), |e| e.item() == Some(id) && is_terminal(e)).await
    }

    /// Waits for every item and returns their final events.
    pub async fn finish_all(&mut self, ids: &[ItemId]) -> HashMap<ItemId, EngineEvent> {
        let mut out = HashMap::new();
        for &id in ids {
            out.insert(id, self.finish(id).await);
        }
        out
    }

    /// The final event already received for `id`, if any.
    pub fn terminal(&self, id: ItemId) -> Option<EngineEvent> {
        self.events.iter().rev().find(|e| e.item() == Some(id) && is_terminal(e)).cloned()
    }

    pub fn events_for(&self, id: ItemId) -> Vec<&EngineEvent> {
        self.events.iter().filter(|e| e.item() == Some(id)).collect()
    }

    /// The reasons given for each retry of `id`, in order.
    pub fn retry_reasons(&self, id: ItemId) -> Vec<String> {
        self.events_for(id)
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Retrying { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// Collects whatever events are already queued, without waiting.
    pub fn drain(&mut self) {
        while let Ok(e) = self.rx.try_recv() {
            self.events.push(e);
        }
    }

    /// Shuts the engine down; returns every event and the folder (still on disk).
    pub async fn shutdown(mut self) -> (Vec<EngineEvent>, tempfile::TempDir) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        while let Some(e) = self.rx.recv().await {
            self.events.push(e);
        }
        (self.events, self.dir)
    }
}

pub fn is_terminal(e: &EngineEvent) -> bool {
    matches!(e, EngineEvent::Completed { .. } | EngineEvent::Failed { .. } | EngineEvent::Cancelled { .. })
}

/// The path of a completed item, or a panic describing what happened instead.
pub fn completed_path(e: &EngineEvent) -> PathBuf {
    match e {
        EngineEvent::Completed { path, .. } => path.clone(),
        other => panic!("expected completion, got {other:?}"),
    }
}

pub fn failure(e: &EngineEvent) -> String {
    match e {
        EngineEvent::Failed { error, .. } => error.message.clone(),
        other => panic!("expected failure, got {other:?}"),
    }
}

/// Names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
