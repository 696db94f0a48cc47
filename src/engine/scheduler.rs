//! The scheduler actor: owns every item, the queue order, the live worker cap and the running
//! transfers. It alone changes item state, so there is no shared mutable state to lock.
//! Depends on the engine's transfer, naming and message modules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::{self, JoinSet};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::disk;
use super::error::DownloadError;
use super::hosts::HostLimits;
use super::limiter::RateLimiter;
use super::messages::{AddRequest, Command, EngineEvent, ItemId, ItemLimits, RestoreAs};
use super::naming::NameReservations;
use super::options::{EngineOptions, MAX_CONNECTIONS, MAX_WORKERS};
use super::transfer::{self, Job, Outcome, PartState, Shared};
use super::urls::{parse_download_url, redact_str, redact_url};

/// Why a running transfer was told to stop; decides what its end means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Pause,
    Cancel {
        delete_partial: bool,
    },
    Remove,
    Shutdown,
    /// Stop and queue again at once (to apply a new connection count).
    Restart,
}

#[derive(Debug)]
enum Status {
    Queued,
    Running { token: CancellationToken, stop: Option<StopReason> },
    Paused,
    Done,
    Failed,
    Cancelled,
}

struct Item {
    /// `None` when the URL was invalid: the item exists only to show its error.
    url: Option<Url>,
    dir: PathBuf,
    part: Option<PartState>,
    status: Status,
    connections: usize,
    limiter: Arc<RateLimiter>,
}

pub struct Scheduler {
    shared: Arc<Shared>,
    items: BTreeMap<ItemId, Item>,
    /// Queued items in the order they were added; resumed items keep their place.
    queue: BTreeSet<ItemId>,
    tasks: JoinSet<Outcome>,
    task_items: HashMap<task::Id, ItemId>,
    cap: usize,
    running: usize,
    root: CancellationToken,
    shutting_down: bool,
}

impl Scheduler {
    pub fn new(options: EngineOptions, client: reqwest::Client, events: mpsc::Sender<EngineEvent>) -> Self {
        let cap = options.workers.clamp(1, MAX_WORKERS);
        Self {
            shared: Arc::new(Shared {
                client,
                hosts: HostLimits::new(options.max_connections_per_host),
                limiter: RateLimiter::new(options.rate_limit),
                options,
                names: Arc::new(NameReservations::default()),
                events,
            }),
            items: BTreeMap::new(),
            queue: BTreeSet::new(),
            tasks: JoinSet::new(),
            task_items: HashMap::new(),
            cap,
            running: 0,
            root: CancellationToken::new(),
            shutting_down: false,
        }
    }

    pub async fn run(mut self, mut cmd_rx: mpsc::UnboundedReceiver<Command>) {
        self.emit(EngineEvent::WorkersChanged { cap: self.cap }).await;
        self.emit(EngineEvent::RateLimitChanged { limit: self.shared.limiter.rate() }).await;
        loop {
            tokio::select! {
                cmd = cmd_rx.recv(), if !self.shutting_down => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => self.begin_shutdown(),
                },
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(done).await;
                }
            }
            if self.shutting_down && self.tasks.is_empty() {
                break;
            }
            self.fill().await;
        }
        self.emit(EngineEvent::Stopped).await;
    }

    async fn emit(&self, event: EngineEvent) {
        self.shared.emit(event).await;
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Add { id, request } => self.add(id, request).await,
            Command::Pause(id) => self.pause(id).await,
            Command::Resume(id) => self.resume(id).await,
            Command::PauseAll => {
                let ids: Vec<_> = self.items.keys().copied().collect();
                for id in ids {
                    self.pause(id).await;
                }
            }
            Command::ResumeAll => {
                let ids: Vec<_> = self.items.keys().copied().collect();
                for id in ids {
                    self.resume(id).await;
                }
            }
            Command::Cancel { id, delete_partial } => {
                self.stop(id, StopReason::Cancel { delete_partial }).await
            }
            Command::Remove(id) => self.stop(id, StopReason::Remove).await,
            Command::Retry(id) => {
                if let Some(item) = self.items.get_mut(&id)
                    && matches!(item.status, Status::Failed | Status::Cancelled)
                    && item.url.is_some()
                {
                    item.status = Status::Queued;
                    self.queue.insert(id);
                    self.emit(EngineEvent::Queued { id }).await;
                }
            }
            Command::SetWorkers(n) => {
                self.cap = n.clamp(1, MAX_WORKERS);
                self.emit(EngineEvent::WorkersChanged { cap: self.cap }).await;
            }
            Command::SetRateLimit(limit) => {
                let limit = limit.filter(|l| *l > 0);
                self.shared.limiter.set_rate(limit);
                self.emit(EngineEvent::RateLimitChanged { limit }).await;
            }
            Command::SetItemRateLimit { id, limit } => {
                if let Some(item) = self.items.get(&id) {
                    item.limiter.set_rate(limit.filter(|l| *l > 0));
                    let (rate_limit, connections) = (item.limiter.rate(), item.connections);
                    self.emit(EngineEvent::ItemLimitsChanged { id, rate_limit, connections }).await;
                }
            }
            Command::SetItemConnections { id, connections } => {
                if let Some(item) = self.items.get_mut(&id) {
                    item.connections = connections.clamp(1, MAX_CONNECTIONS);
                    let (rate_limit, connections) = (item.limiter.rate(), item.connections);
                    // A running item picks the new count up by continuing from its `.part`.
                    if let Status::Running { token, stop } = &mut item.status
                        && stop.is_none()
                    {
                        *stop = Some(StopReason::Restart);
                        token.cancel();
                    }
                    self.emit(EngineEvent::ItemLimitsChanged { id, rate_limit, connections }).await;
                }
            }
            Command::Shutdown => self.begin_shutdown(),
            Command::Restore { id, request, state, limits } => self.restore(id, request, state, limits).await,
        }
    }

    /// Adds an item, then moves it out of the queue into its saved state before `fill` can
    /// start it (commands are handled one at a time, `fill` runs after).
    async fn restore(
        &mut self,
        id: ItemId,
        request: AddRequest,
        state: RestoreAs,
        limits: Option<ItemLimits>,
    ) {
        self.add(id, request).await;
        let Some(item) = self.items.get_mut(&id) else { return };
        if let Some(limits) = limits {
            item.connections = limits.connections.clamp(1, MAX_CONNECTIONS);
            item.limiter.set_rate(limits.rate_limit.filter(|l| *l > 0));
            let (rate_limit, connections) = (item.limiter.rate(), item.connections);
            self.emit(EngineEvent::ItemLimitsChanged { id, rate_limit, connections }).await;
        }
        let Some(item) = self.items.get_mut(&id) else { return };
        if item.url.is_none() || matches!(state, RestoreAs::Queued) {
            return;
        }
        self.queue.remove(&id);
        match state {
            RestoreAs::Queued => {}
            RestoreAs::Paused => {
                item.status = Status::Paused;
                let bytes = item.part.as_ref().and_then(|p| disk::part_progress(&p.part_path())).unwrap_or(0);
                self.emit(EngineEvent::Paused { id, bytes }).await;
            }
            RestoreAs::Done { path, bytes } => {
                item.status = Status::Done;
                if let Some(part) = item.part.take() {
                    self.shared.names.release(&part.final_path);
                }
                self.emit(EngineEvent::Completed { id, path, bytes, skipped: true }).await;
            }
            RestoreAs::Failed { error } => {
                item.status = Status::Failed;
                self.emit(EngineEvent::Failed { id, error }).await;
            }
            RestoreAs::Cancelled => {
                item.status = Status::Cancelled;
                self.emit(EngineEvent::Cancelled { id }).await;
            }
        }
    }

    async fn add(&mut self, id: ItemId, request: AddRequest) {
        let dir = request.dir.unwrap_or_else(|| self.shared.options.download_dir.clone());
        let parsed = parse_download_url(&request.url);
        let shown = match &parsed {
            Ok(url) => redact_url(url),
            Err(_) => redact_str(request.url.trim()),
        };
        self.emit(EngineEvent::Added { id, url: shown }).await;
        let url = match parsed {
            Ok(url) => url,
            Err(error) => {
                let limiter = Arc::new(RateLimiter::new(None));
                let item =
                    Item { url: None, dir, part: None, status: Status::Failed, connections: 1, limiter };
                self.items.insert(id, item);
                self.emit(EngineEvent::Failed { id, error: error.to_string() }).await;
                return;
            }
        };
        let part = request.resume.and_then(|hint| {
            let final_path = dir.join(super::naming::sanitize(&hint.file_name)?);
            // A segmented `.part` is preallocated: only its sidecar says which bytes are real.
            let missing = disk::read_meta(&super::naming::part_path(&final_path)).and_then(|m| m.missing);
            self.shared.names.reserve_exact(&final_path).then_some(PartState {
                final_path,
                validator: hint.validator,
                total: hint.total,
                resumable: true,
                missing,
                ranges_unreliable: false,
            })
        });
        let options = &self.shared.options;
        let item = Item {
            url: Some(url),
            dir,
            part,
            status: Status::Queued,
            connections: options.connections.clamp(1, MAX_CONNECTIONS),
            limiter: Arc::new(RateLimiter::new(options.item_rate_limit)),
        };
        self.items.insert(id, item);
        self.queue.insert(id);
    }

    async fn pause(&mut self, id: ItemId) {
        let Some(item) = self.items.get_mut(&id) else { return };
        match &mut item.status {
            Status::Queued => {
                item.status = Status::Paused;
                self.queue.remove(&id);
                let bytes = item.part.as_ref().and_then(|p| disk::part_progress(&p.part_path())).unwrap_or(0);
                self.emit(EngineEvent::Paused { id, bytes }).await;
            }
            Status::Running { token, stop } if stop.is_none() => {
                *stop = Some(StopReason::Pause);
                token.cancel();
            }
            _ => {}
        }
    }

    async fn resume(&mut self, id: ItemId) {
        let Some(item) = self.items.get_mut(&id) else { return };
        if matches!(item.status, Status::Paused) {
            item.status = Status::Queued;
            self.queue.insert(id);
            self.emit(EngineEvent::Queued { id }).await;
        }
    }

    /// Cancel or remove: running transfers are stopped first and finished in `finished`.
    async fn stop(&mut self, id: ItemId, reason: StopReason) {
        let Some(item) = self.items.get_mut(&id) else { return };
        match &mut item.status {
            Status::Running { token, stop } => {
                // A later, stronger request (remove after pause) wins.
                *stop = Some(reason);
                token.cancel();
            }
            Status::Done if reason != StopReason::Remove => {}
            Status::Cancelled if reason != StopReason::Remove => {}
            _ => {
                self.queue.remove(&id);
                self.conclude_stop(id, reason).await;
            }
        }
    }

    /// Applies a cancel or remove to an item that is not running.
    async fn conclude_stop(&mut self, id: ItemId, reason: StopReason) {
        match reason {
            StopReason::Cancel { delete_partial } => {
                if let Some(item) = self.items.get_mut(&id) {
                    item.status = Status::Cancelled;
                    if delete_partial && let Some(part) = item.part.take() {
                        remove_partial(&part);
                        self.shared.names.release(&part.final_path);
                    }
                }
                self.emit(EngineEvent::Cancelled { id }).await;
            }
            StopReason::Remove => {
                if let Some(part) = self.items.remove(&id).and_then(|item| item.part) {
                    self.shared.names.release(&part.final_path);
                }
                self.emit(EngineEvent::Removed { id }).await;
            }
            StopReason::Pause | StopReason::Shutdown | StopReason::Restart => {}
        }
    }

    fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        for item in self.items.values_mut() {
            if let Status::Running { token, stop } = &mut item.status {
                stop.get_or_insert(StopReason::Shutdown);
                token.cancel();
            }
        }
        self.root.cancel();
    }

    /// Starts queued items while fewer than `cap` run. Lowering the cap stops nothing; it only
    /// holds back new starts until enough running transfers have finished.
    async fn fill(&mut self) {
        while !self.shutting_down && self.running < self.cap {
            let Some(id) = self.queue.pop_first() else { break };
            let Some(item) = self.items.get_mut(&id) else { continue };
            let Some(url) = item.url.clone() else { continue };
            let token = self.root.child_token();
            let job = Job {
                id,
                url,
                dir: item.dir.clone(),
                part: item.part.clone(),
                connections: item.connections,
                limiter: Arc::clone(&item.limiter),
            };
            item.status = Status::Running { token: token.clone(), stop: None };
            self.running += 1;
            let handle = self.tasks.spawn(transfer::run(Arc::clone(&self.shared), job, token));
            self.task_items.insert(handle.id(), id);
        }
    }

    async fn finished(&mut self, done: Result<(task::Id, Outcome), task::JoinError>) {
        let (task_id, outcome) = match done {
            Ok((task_id, outcome)) => (task_id, outcome),
            Err(e) => {
                let error = if e.is_panic() {
                    DownloadError::Internal("the download task panicked".into())
                } else {
                    DownloadError::Internal("the download task was aborted".into())
                };
                (e.id(), Outcome::Failed { error, part: None })
            }
        };
        self.running -= 1;
        let Some(id) = self.task_items.remove(&task_id) else { return };
        let Some(item) = self.items.get_mut(&id) else { return };
        let stop = match &item.status {
            Status::Running { stop, .. } => *stop,
            _ => None,
        };
        match outcome {
            Outcome::Completed { path, bytes, skipped, part } => {
                if let Some(part) = part.or(item.part.take()) {
                    self.shared.names.release(&part.final_path);
                }
                self.shared.names.release(&path);
                item.part = None;
                item.status = Status::Done;
                self.emit(EngineEvent::Completed { id, path, bytes, skipped }).await;
                if stop == Some(StopReason::Remove) {
                    self.conclude_stop(id, StopReason::Remove).await;
                }
            }
            Outcome::Failed { error, part } => {
                if part.is_some() {
                    item.part = part;
                }
                item.status = Status::Failed;
                match stop {
                    Some(reason @ (StopReason::Cancel { .. } | StopReason::Remove)) => {
                        self.conclude_stop(id, reason).await
                    }
                    _ => self.emit(EngineEvent::Failed { id, error: error.to_string() }).await,
                }
            }
            Outcome::Stopped { part, bytes } => {
                if part.is_some() {
                    item.part = part;
                }
                match stop.unwrap_or(StopReason::Pause) {
                    StopReason::Pause => {
                        item.status = Status::Paused;
                        self.emit(EngineEvent::Paused { id, bytes }).await;
                    }
                    // Left as queued so a restored queue would start it again.
                    StopReason::Shutdown => item.status = Status::Queued,
                    StopReason::Restart => {
                        item.status = Status::Queued;
                        self.queue.insert(id);
                    }
                    reason => self.conclude_stop(id, reason).await,
                }
            }
        }
    }
}

fn remove_partial(part: &PartState) {
    let path = part.part_path();
    let _ = std::fs::remove_file(&path);
    disk::remove_meta(&path);
}
