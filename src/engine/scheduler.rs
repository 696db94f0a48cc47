//! The scheduler actor: owns every item, the queue order, the live worker cap and the running
//! transfers. It alone changes item state, so there is no shared mutable state to lock.
//! Depends on the engine's transfer, naming and message modules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::{self, JoinSet};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::checksum::ExpectedChecksum;
use super::error::DownloadError;
use super::hosts::HostLimits;
use super::limiter::RateLimiter;
use super::messages::{
    AddRequest, Command, EngineEvent, ItemId, ItemLimits, ItemSnapshot, ItemState, RestoreAs,
};
use super::options::{AUTO_CONNECTIONS, EngineOptions, MAX_CONNECTIONS, MAX_WORKERS, connection_setting};
use super::reservations::NameReservations;
use super::scheduled::{Item, Task};
use super::sidecar;
use super::signed_url;
use super::stop::{Running, StopReason};
use super::transfer::{self, Finished, Job, Outcome, PartState, Shared};
use super::urls::{parse_download_url, redact_str, redact_url, without_credentials};

pub struct Scheduler {
    shared: Arc<Shared>,
    /// Shared by every item that goes to the default folder.
    default_dir: Arc<Path>,
    items: BTreeMap<ItemId, Item>,
    /// Queued items in the order they were added; resumed items keep their place.
    queue: BTreeSet<ItemId>,
    tasks: JoinSet<Finished>,
    task_items: HashMap<task::Id, ItemId>,
    /// `.part` files being deleted, each answering with its item.
    deletions: JoinSet<ItemId>,
    cap: usize,
    running: usize,
    root: CancellationToken,
    shutting_down: bool,
}

impl Scheduler {
    /// `clients`: the client for first requests and the HTTP/1.1 one for ranges.
    pub fn new(
        options: EngineOptions,
        (client, http1_client): (reqwest::Client, reqwest::Client),
        events: mpsc::Sender<EngineEvent>,
    ) -> Self {
        let cap = options.workers.clamp(1, MAX_WORKERS);
        Self {
            default_dir: Arc::from(options.download_dir.as_path()),
            shared: Arc::new(Shared {
                client,
                http1_client,
                proxied: std::sync::Mutex::default(),
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
            deletions: JoinSet::new(),
            cap,
            running: 0,
            root: CancellationToken::new(),
            shutting_down: false,
        }
    }

    /// Handles commands and finished transfers until `quit` fires (or `Command::Shutdown`
    /// arrives, or every handle is gone), then stops every transfer and waits for them.
    pub async fn run(mut self, mut cmd_rx: mpsc::UnboundedReceiver<Command>, quit: CancellationToken) {
        self.emit(EngineEvent::WorkersChanged { cap: self.cap }).await;
        self.emit(EngineEvent::RateLimitChanged { limit: self.shared.limiter.rate() }).await;
        loop {
            tokio::select! {
                // Quitting first; then finished transfers (at most `cap` at a time), so a flood
                // of commands cannot keep a worker slot from being refilled.
                biased;
                () = quit.cancelled(), if !self.shutting_down => {
                    self.apply_before_quitting(&mut cmd_rx).await;
                    self.begin_shutdown();
                }
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(done).await;
                }
                // Deleting a file cannot panic; a failed join only leaves its item deleting.
                Some(Ok(id)) = self.deletions.join_next(), if !self.deletions.is_empty() => {
                    self.deleted(id).await;
                }
                cmd = cmd_rx.recv(), if !self.shutting_down => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => self.begin_shutdown(),
                },
            }
            if self.shutting_down && self.tasks.is_empty() && self.deletions.is_empty() {
                break;
            }
            self.fill().await;
        }
        self.emit(EngineEvent::Stopped).await;
    }

    /// Applies the commands sent before the engine was told to quit, except the ones that
    /// only add items: nothing new starts now, and after a paste of 50,000 URLs handling each
    /// `Add` would hold quitting up. A pause, cancel or remove the person asked for just
    /// before quitting still counts (a paused item must stay paused in a saved queue).
    async fn apply_before_quitting(&mut self, cmd_rx: &mut mpsc::UnboundedReceiver<Command>) {
        while let Ok(cmd) = cmd_rx.try_recv() {
            if !matches!(cmd, Command::Add { .. } | Command::Restore { .. }) {
                self.handle(cmd).await;
            }
        }
    }

    async fn emit(&self, event: EngineEvent) {
        self.shared.emit(event).await;
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Add { id, request } => self.add(id, request, None, false).await,
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
            Command::Remove(id) => self.stop(id, StopReason::Remove { delete_partial: false }).await,
            Command::Retry(id) => {
                if let Some(item) = self.items.get_mut(&id)
                    && item.task.is_none()
                    && matches!(item.state, ItemState::Failed | ItemState::Cancelled)
                    && item.url.is_some()
                {
                    item.state = ItemState::Queued;
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
                let default = self.shared.options.item_rate_limit;
                if let Some(item) = self.items.get_mut(&id) {
                    item.limiter(default).set_rate(limit.filter(|l| *l > 0));
                    let (rate_limit, connections) = item.limits(default);
                    self.emit(EngineEvent::ItemLimitsChanged { id, rate_limit, connections }).await;
                }
            }
            Command::SetItemConnections { id, connections } => {
                if let Some(item) = self.items.get_mut(&id) {
                    item.connections = connection_setting(connections);
                    let (rate_limit, connections) = item.limits(self.shared.options.item_rate_limit);
                    // A running item picks the new count up by continuing from its `.part`.
                    if let Some(running) = item.transfer() {
                        running.request_stop(StopReason::Restart);
                    }
                    self.emit(EngineEvent::ItemLimitsChanged { id, rate_limit, connections }).await;
                }
            }
            Command::Refresh { id, url } => self.refresh(id, &url).await,
            Command::Shutdown => self.begin_shutdown(),
            Command::Restore { id, request, state, limits } => self.restore(id, request, state, limits).await,
        }
    }

    /// Adds an item (with its saved limits, so its first snapshot shows them), then moves it
    /// out of the queue into its saved state before `fill` can start it (commands are handled
    /// one at a time, `fill` runs after).
    async fn restore(
        &mut self,
        id: ItemId,
        request: AddRequest,
        state: RestoreAs,
        limits: Option<ItemLimits>,
    ) {
        let missing = matches!(state, RestoreAs::Done { missing: true, .. });
        self.add(id, request, limits, missing).await;
        let Some(item) = self.items.get_mut(&id) else { return };
        if item.url.is_none() || matches!(state, RestoreAs::Queued) {
            return;
        }
        self.queue.remove(&id);
        match state {
            RestoreAs::Queued => {}
            RestoreAs::Paused => {
                item.state = ItemState::Paused;
                let bytes = item.bytes_on_disk();
                self.emit(EngineEvent::Paused { id, bytes }).await;
            }
            RestoreAs::Done { path, bytes, .. } => {
                item.state = ItemState::Done;
                if let Some(part) = item.part.take() {
                    self.shared.names.release(&part.final_path);
                }
                self.emit(EngineEvent::Completed { id, path, bytes, skipped: true }).await;
            }
            RestoreAs::Failed { error } => {
                item.state = ItemState::Failed;
                self.emit(EngineEvent::Failed { id, error }).await;
            }
            RestoreAs::Cancelled => {
                item.state = ItemState::Cancelled;
                self.emit(EngineEvent::Cancelled { id }).await;
            }
        }
    }

    /// `missing`: a restored finished item whose file is gone (see `ItemSnapshot::missing`).
    async fn add(&mut self, id: ItemId, request: AddRequest, limits: Option<ItemLimits>, missing: bool) {
        let dir = request.dir.map_or_else(|| Arc::clone(&self.default_dir), Arc::from);
        let options = &self.shared.options;
        let mut item = Item {
            url: None,
            dir,
            part: None,
            state: ItemState::Queued,
            task: None,
            connections: connection_setting(options.connections),
            limiter: None,
            refresh: options.refresh_command.clone(),
            checksum: None,
            name: request.name.as_deref().and_then(super::naming::sanitize).map(Box::from),
            settings: None,
        };
        if let Some(limits) = limits {
            item.connections = connection_setting(limits.connections);
            item.limiter(options.item_rate_limit).set_rate(limits.rate_limit.filter(|l| *l > 0));
        }
        let (rate_limit, connections) = item.limits(options.item_rate_limit);
        let parsed = parse_download_url(&request.url);
        let shown = match &parsed {
            Ok(url) => redact_url(url),
            Err(_) => redact_str(request.url.trim()),
        };
        let mut snapshot =
            ItemSnapshot::new(id, shown, item.dir.to_path_buf(), ItemLimits { rate_limit, connections });
        let url = match parsed {
            Ok(url) => url,
            Err(error) => {
                item.state = ItemState::Failed;
                self.items.insert(id, item);
                self.emit(EngineEvent::Added { id, item: Box::new(snapshot) }).await;
                self.emit(EngineEvent::Failed { id, error: error.to_item_error() }).await;
                return;
            }
        };
        item.url = Some(url.as_str().into());
        snapshot.link_expires = signed_url::expiry(&url);
        snapshot.missing = missing;
        let checksum = request.checksum.or_else(|| options.checksums.for_url(&request.url).cloned());
        snapshot.checksum = checksum.as_ref().map(ExpectedChecksum::pending);
        item.checksum = checksum.map(Box::new);
        let hosts = &self.shared.hosts;
        item.settings = request.settings.map(|s| s.admit(hosts, &url, &mut item.refresh, &mut snapshot.rule));
        let start_over = request.resume.as_ref().is_some_and(|h| h.start_over);
        item.part = request.resume.and_then(|hint| {
            let final_path = item.dir.join(super::naming::sanitize(&hint.file_name)?);
            // A segmented `.part` is preallocated: only its sidecar says which bytes are real.
            let missing = sidecar::read_meta(&super::naming::part_path(&final_path)).and_then(|m| m.missing);
            self.shared.names.reserve_exact(&final_path).then(|| {
                // Ranges found unreliable before the restart: one stream, over in place.
                // Bytes that failed their checksum: over in place, from the first byte.
                Box::new(PartState {
                    final_path,
                    validator: hint.validator.filter(|_| !hint.start_over),
                    total: hint.total,
                    resumable: !hint.ranges_unreliable && !hint.start_over,
                    missing,
                    ranges_unreliable: hint.ranges_unreliable,
                    checksum: None,
                })
            })
        });
        if let Some(part) = &item.part {
            // A restored item shows its name, size and the bytes it has from the start.
            snapshot.name = part.final_path.file_name().map(|n| n.to_string_lossy().into_owned());
            snapshot.path = Some(part.final_path.clone());
            snapshot.total = part.total;
            snapshot.validator.clone_from(&part.validator);
            snapshot.resumable = part.resumable;
            snapshot.ranges_unreliable = part.ranges_unreliable;
            snapshot.start_over = start_over;
            snapshot.bytes = item.bytes_on_disk();
            snapshot.attempt_from = snapshot.bytes;
        }
        self.items.insert(id, item);
        self.queue.insert(id);
        let limits_given = limits.is_some();
        let ItemLimits { rate_limit, connections } = snapshot.limits;
        self.emit(EngineEvent::Added { id, item: Box::new(snapshot) }).await;
        if limits_given {
            // Said again for front ends folding events, as `restore_with_limits` promises.
            self.emit(EngineEvent::ItemLimitsChanged { id, rate_limit, connections }).await;
        }
    }

    /// Gives an item a new URL (see `Command::Refresh`).
    async fn refresh(&mut self, id: ItemId, url: &str) {
        let Ok(url) = parse_download_url(url) else { return };
        let Some(item) = self.items.get_mut(&id) else { return };
        if item.state == ItemState::Done || matches!(item.task, Some(Task::DeletePart { .. })) {
            return;
        }
        item.url = Some(url.as_str().into());
        let requeue = match &mut item.task {
            // The attempt starts again on the new URL, from the `.part`; a pause or cancel
            // asked for meanwhile still wins (see `StopReason`).
            Some(Task::Transfer(running)) => {
                running.url_replaced = true;
                running.request_stop(StopReason::Restart);
                false
            }
            _ => matches!(item.state, ItemState::Failed | ItemState::Cancelled),
        };
        if requeue {
            item.state = ItemState::Queued;
            self.queue.insert(id);
        }
        let expires = signed_url::expiry(&url);
        self.emit(EngineEvent::UrlChanged { id, url: without_credentials(&url), expires }).await;
        if requeue {
            self.emit(EngineEvent::Queued { id }).await;
        }
    }

    async fn pause(&mut self, id: ItemId) {
        let Some(item) = self.items.get_mut(&id) else { return };
        match (item.state, &mut item.task) {
            (ItemState::Queued, None) => {
                item.state = ItemState::Paused;
                self.queue.remove(&id);
                let bytes = item.bytes_on_disk();
                self.emit(EngineEvent::Paused { id, bytes }).await;
            }
            (_, Some(Task::Transfer(running))) => running.request_stop(StopReason::Pause),
            _ => {}
        }
    }

    async fn resume(&mut self, id: ItemId) {
        let Some(item) = self.items.get_mut(&id) else { return };
        match (item.state, &mut item.task) {
            (ItemState::Paused, None) => {
                item.state = ItemState::Queued;
                self.queue.insert(id);
                self.emit(EngineEvent::Queued { id }).await;
            }
            (_, Some(Task::Transfer(running))) => running.withdraw_pause(),
            _ => {}
        }
    }

    /// Cancel or remove: running transfers are stopped first and finished in `finished`.
    async fn stop(&mut self, id: ItemId, reason: StopReason) {
        let Some(item) = self.items.get_mut(&id) else { return };
        let remove = matches!(reason, StopReason::Remove { .. });
        match (item.state, &mut item.task) {
            (_, Some(Task::Transfer(running))) => running.request_stop(reason),
            (_, Some(Task::DeletePart { then_remove })) => *then_remove |= remove,
            (ItemState::Done | ItemState::Cancelled, None) if !remove => {}
            _ => {
                self.queue.remove(&id);
                self.conclude_stop(id, reason).await;
            }
        }
    }

    /// Applies a cancel or remove to an item that is not running.
    async fn conclude_stop(&mut self, id: ItemId, reason: StopReason) {
        let (remove, delete_partial) = match reason {
            StopReason::Cancel { delete_partial } => (false, delete_partial),
            StopReason::Remove { delete_partial } => (true, delete_partial),
            StopReason::Pause | StopReason::Shutdown | StopReason::Restart => return,
        };
        let Some(item) = self.items.get_mut(&id) else { return };
        if delete_partial && let Some(part) = item.part.take() {
            // Deleting a large file can take seconds: not on this task. The name stays
            // reserved until the files are gone, so no other item starts writing there.
            item.task = Some(Task::DeletePart { then_remove: remove });
            let names = Arc::clone(&self.shared.names);
            self.deletions.spawn_blocking(move || {
                part.remove_files();
                names.release(&part.final_path);
                id
            });
        } else if remove {
            if let Some(part) = self.items.remove(&id).and_then(|item| item.part) {
                self.shared.names.release(&part.final_path);
            }
            self.emit(EngineEvent::Removed { id }).await;
        } else {
            item.state = ItemState::Cancelled;
            self.emit(EngineEvent::Cancelled { id }).await;
        }
    }

    /// A cancelled or removed item's `.part` is gone: report it cancelled, or removed.
    async fn deleted(&mut self, id: ItemId) {
        let Some(item) = self.items.get_mut(&id) else { return };
        let Some(Task::DeletePart { then_remove }) = item.task.take() else { return };
        if then_remove {
            self.conclude_stop(id, StopReason::Remove { delete_partial: false }).await;
        } else {
            item.state = ItemState::Cancelled;
            self.emit(EngineEvent::Cancelled { id }).await;
        }
    }

    fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        for item in self.items.values_mut() {
            if let Some(running) = item.transfer() {
                running.request_stop(StopReason::Shutdown);
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
            // Checked when it was added; parsing normalised text gives the same URL again.
            let Some(Ok(url)) = item.url.as_deref().map(Url::parse) else { continue };
            let token = self.root.child_token();
            let job = Job {
                id,
                url,
                dir: item.dir.to_path_buf(),
                part: item.part.as_deref().cloned(),
                connections: match item.connections {
                    AUTO_CONNECTIONS => self.shared.options.max_connections_auto.clamp(1, MAX_CONNECTIONS),
                    n => n,
                },
                auto: item.connections == AUTO_CONNECTIONS,
                limiter: Arc::clone(item.limiter(self.shared.options.item_rate_limit)),
                refresh: item.refresh.clone(),
                checksum: item.checksum.as_deref().cloned(),
                name: item.name.as_deref().map(String::from),
                settings: item.settings.clone(),
            };
            item.state = ItemState::Connecting;
            item.task = Some(Task::Transfer(Running::new(token.clone())));
            self.running += 1;
            let handle = self.tasks.spawn(transfer::run(Arc::clone(&self.shared), job, token));
            self.task_items.insert(handle.id(), id);
        }
    }

    async fn finished(&mut self, done: Result<(task::Id, Finished), task::JoinError>) {
        let (task_id, Finished { outcome, refreshed }) = match done {
            Ok((task_id, finished)) => (task_id, finished),
            Err(e) => {
                let error = if e.is_panic() {
                    DownloadError::Internal("the download task panicked".into())
                } else {
                    DownloadError::Internal("the download task was aborted".into())
                };
                (e.id(), Finished { outcome: Outcome::Failed { error, part: None }, refreshed: None })
            }
        };
        self.running -= 1;
        let Some(id) = self.task_items.remove(&task_id) else { return };
        let Some(item) = self.items.get_mut(&id) else { return };
        let stop = match item.task.take() {
            Some(Task::Transfer(running)) => {
                // The refresh command's link, unless the person gave another since.
                if let Some(url) = refreshed.filter(|_| !running.url_replaced) {
                    item.url = Some(url.as_str().into());
                }
                running.stop
            }
            _ => None,
        };
        match outcome {
            Outcome::Completed { path, bytes, skipped, part } => {
                if let Some(part) = part.or(item.part.take().map(|p| *p)) {
                    self.shared.names.release(&part.final_path);
                }
                self.shared.names.release(&path);
                item.part = None;
                item.state = ItemState::Done;
                self.emit(EngineEvent::Completed { id, path, bytes, skipped }).await;
                if let Some(reason @ StopReason::Remove { .. }) = stop {
                    self.conclude_stop(id, reason).await;
                }
            }
            Outcome::Failed { error, part } => {
                if let Some(part) = part {
                    item.part = Some(Box::new(part));
                }
                item.state = ItemState::Failed;
                match stop {
                    Some(reason @ (StopReason::Cancel { .. } | StopReason::Remove { .. })) => {
                        self.conclude_stop(id, reason).await
                    }
                    _ => self.emit(EngineEvent::Failed { id, error: error.to_item_error() }).await,
                }
            }
            Outcome::Stopped { part, bytes } => {
                if let Some(part) = part {
                    item.part = Some(Box::new(part));
                }
                match stop.unwrap_or(StopReason::Pause) {
                    StopReason::Pause => {
                        item.state = ItemState::Paused;
                        self.emit(EngineEvent::Paused { id, bytes }).await;
                    }
                    // Left as queued so a restored queue would start it again.
                    StopReason::Shutdown => item.state = ItemState::Queued,
                    StopReason::Restart => {
                        item.state = ItemState::Queued;
                        self.queue.insert(id);
                    }
                    reason => self.conclude_stop(id, reason).await,
                }
            }
        }
    }
}
