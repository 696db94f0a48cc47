//! The session task: one loop that takes what the front end sends, the engine's events, the
//! control socket's requests and the saved queue's writes as they come, so none waits for
//! another (a slow frame never delays a save, a save never delays an event). Depends on the
//! engine, `state`, `control` and the rest of the session.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::control::{ControlRequest, ControlServer, Reply, Request};
use crate::engine::{
    AddRequest, Command, Engine, EngineEvent, EngineHandle, ItemId, ItemLimits, ItemState, RestoreAs,
};
use crate::state::{Edit, EditAnswer, ItemRecord, Restore, Settings, StateLock, StateStore};

use super::adds::{self, ChecksumFiles};
use super::model::Model;
use super::outbox::Outbox;
use super::rules::RuleBook;
use super::saver::Saver;
use super::schedule::Driver;
use super::{Closed, SessionEvent, ToSession};

/// Engine events folded per wake-up before the loop looks at its other inputs again.
const FOLD_BATCH: usize = 1024;

pub struct Actor {
    /// Taken when the session closes (stopping the engine consumes it).
    engine: Option<Engine>,
    handle: EngineHandle,
    events: mpsc::Receiver<EngineEvent>,
    model: Model,
    outbox: Outbox,
    /// The saved queue and its lock, when saving is on.
    saver: Option<(Saver, StateLock)>,
    control: Option<(ControlServer, mpsc::Receiver<ControlRequest>)>,
    defaults: ItemLimits,
    /// The last failure to save that was reported, so a full disk is said once, not per try.
    save_error: Option<String>,
    rules: RuleBook,
    /// Checksum files named by `dlm add --checksum-file`, each read or fetched once.
    checksum_files: ChecksumFiles,
    /// The schedule, when there is one, and when to look at it next.
    schedule: Option<Driver>,
    schedule_due: Option<Instant>,
    /// Restored items that come back paused or finished: a pause window leaves them alone.
    restored_inactive: std::collections::HashSet<ItemId>,
}

impl Actor {
    pub fn new(engine: Engine, events: mpsc::Receiver<EngineEvent>, defaults: ItemLimits) -> Self {
        let handle = engine.handle();
        Self {
            engine: Some(engine),
            handle,
            events,
            model: Model::default(),
            outbox: Outbox::default(),
            saver: None,
            control: None,
            defaults,
            save_error: None,
            rules: RuleBook::default(),
            checksum_files: ChecksumFiles::default(),
            schedule: None,
            schedule_due: None,
            restored_inactive: std::collections::HashSet::new(),
        }
    }

    /// The rules to apply to what is added, and the schedule to drive (ticked when `run` starts).
    pub fn set_policy(&mut self, rules: RuleBook, schedule: Option<Driver>) {
        self.rules = rules;
        self.schedule_due = schedule.as_ref().map(|_| Instant::now());
        self.schedule = schedule;
    }

    /// Gives the engine back the saved items, under their saved ids, and saves from now on.
    pub fn restore(
        &mut self,
        lock: StateLock,
        store: StateStore,
        journal_len: u64,
        next_id: u64,
        plan: Vec<Restore>,
        (settings, kept): (Settings, bool),
    ) {
        let mut saver = Saver::new(store, journal_len, self.defaults, settings, kept);
        self.model.reserve_ids(next_id);
        for mut r in plan {
            saver.restoring(r.id, &r.state, &r.request.url);
            if !matches!(r.state, RestoreAs::Queued) {
                self.restored_inactive.insert(r.id);
            }
            // Rules are matched again: their headers and cookies are never saved.
            self.rules.apply_restored(&mut r.request);
            self.handle.restore_as(r.id, r.request, r.state, r.limits);
        }
        self.saver = Some((saver, lock));
    }

    pub fn listen(&mut self, server: ControlServer, requests: mpsc::Receiver<ControlRequest>) {
        self.control = Some((server, requests));
    }

    pub fn notice(&mut self, text: String) {
        self.outbox.push(SessionEvent::Notice(text));
    }

    pub async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<ToSession>,
        mut quit: oneshot::Receiver<Duration>,
        front: mpsc::Sender<SessionEvent>,
    ) -> Closed {
        let mut engine_open = true;
        let mut front_open = true;
        let grace = loop {
            // A write that is due starts here, whatever else is ready: under a flood of events
            // a timer branch could wait behind them, and the queue must reach the disk.
            let now = Instant::now();
            if let Some((saver, _)) = &mut self.saver
                && saver.due().is_some_and(|due| due <= now)
            {
                saver.start_write(&self.model);
            }
            let due = self.saver.as_ref().and_then(|(s, _)| s.due());
            tokio::select! {
                // Quitting first: after a paste of 50,000 URLs it must not wait behind them.
                biased;
                grace = &mut quit => break grace.unwrap_or(Duration::ZERO),
                // Every end of a write goes round the loop: changes that came meanwhile, or a
                // compaction the write asked for, start at the top. (A `Some(error)` pattern
                // here skipped the loop after a successful write, and they waited for the
                // next event, which may never come.)
                result = written(&mut self.saver) => {
                    if let Some(error) = result {
                        self.save_failed(error);
                    }
                }
                Some(message) = inbox.recv() => match message {
                    ToSession::Add(requests) => self.add(requests),
                    ToSession::Command(command) => {
                        if let Some(driver) = &mut self.schedule {
                            driver.by_hand(&command);
                        }
                        self.handle.send(command);
                    }
                    ToSession::Refresh(id, url) => {
                        if let Err(e) = self.handle.refresh(id, &url) {
                            self.notice(format!("{id}: the new URL cannot be used: {}", e.message));
                        }
                    }
                },
                Some(request) = recv_opt(&mut self.control) => self.answer(request),
                permit = front.reserve(), if front_open && !self.outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.outbox.pop() {
                            permit.send(event);
                        }
                    }
                    // The front end is gone: keep saving, stop forwarding.
                    Err(_) => {
                        front_open = false;
                        self.outbox.clear();
                    }
                },
                event = self.events.recv(), if engine_open && !self.outbox.is_full() => match event {
                    Some(event) => self.fold(event, front_open),
                    None => engine_open = false,
                },
                // Wakes the loop when the next write is due; the write starts at the top.
                () = sleep_until_opt(due) => {}
                () = sleep_until_opt(self.schedule_due) => self.tick_schedule(),
            }
        };
        self.close(grace).await
    }

    /// Folds an event and whatever else is already waiting, so a burst costs one wake-up.
    fn fold(&mut self, event: EngineEvent, forward: bool) {
        let now = Instant::now();
        let mut next = Some(event);
        let mut folded = 0;
        while let Some(event) = next {
            let change = self.model.apply(&event);
            if let EngineEvent::Added { id, item } = &event {
                self.added_while_scheduled(*id, item.state);
            }
            if let Some((saver, _)) = &mut self.saver {
                saver.observe(&event, change, now);
            }
            if forward {
                self.outbox.push(SessionEvent::Engine(event));
            }
            folded += 1;
            next = if folded < FOLD_BATCH && !self.outbox.is_full() {
                self.events.try_recv().ok()
            } else {
                None
            };
        }
    }

    /// Looks at the schedule: sends what changed and plans the next look.
    fn tick_schedule(&mut self) {
        let Some(driver) = &mut self.schedule else { return };
        let tick = driver.tick(self.model.items());
        for command in tick.commands {
            self.handle.send(command);
        }
        if let Some(text) = tick.text {
            self.outbox.push(SessionEvent::Schedule(text));
        }
        self.schedule_due = tick.next.map(|d| Instant::now() + d);
    }

    /// An item that appeared while a pause window is in force is paused with the others.
    fn added_while_scheduled(&mut self, id: ItemId, state: ItemState) {
        if self.restored_inactive.remove(&id) || state != ItemState::Queued {
            return;
        }
        if let Some(command) = self.schedule.as_mut().and_then(|d| d.added(id)) {
            self.handle.send(command);
        }
    }

    fn add(&mut self, requests: Vec<AddRequest>) {
        self.add_in(requests, None);
    }

    /// Adds with `default` as the folder of those that have none after the rules (a `dlm add`
    /// without `-o` sends its shell's folder this way: a rule's `dir` wins over it).
    fn add_in(&mut self, requests: Vec<AddRequest>, default: Option<&PathBuf>) {
        for mut request in requests {
            let limits = self.rules.apply(&mut request, self.defaults);
            if request.dir.is_none() {
                request.dir = default.cloned();
            }
            let url = request.url.clone();
            let id = match limits {
                // Restoring as queued is adding with limits, applied before the item can start.
                Some(limits) => self.handle.restore_with_limits(request, RestoreAs::Queued, Some(limits)),
                None => self.handle.add(request),
            };
            if let Some((saver, _)) = &mut self.saver {
                saver.remember_url(id, &url);
            }
        }
    }

    /// Answers a request from another shell from the model; adds as a paste would, and changes
    /// items by id as their keys would.
    fn answer(&mut self, request: ControlRequest) {
        if let Some((edit, ids)) = request.request.as_edit() {
            let results = ids.into_iter().map(|id| self.edit(&edit, ItemId(id))).collect();
            request.answer(Reply::results(results));
            return;
        }
        let reply = match &request.request {
            Request::Add { urls, dir, dir_is_default, checksum_file, curl } => {
                let file = checksum_file.as_deref().map(|source| self.checksum_files.get(source));
                let chosen = if *dir_is_default { None } else { dir.as_ref() };
                match adds::requests(urls, chosen, file, curl.as_ref()) {
                    Ok((requests, notices)) => {
                        let count = requests.len();
                        self.add_in(requests, dir.as_ref().filter(|_| *dir_is_default));
                        for notice in notices {
                            self.outbox.push(SessionEvent::Notice(notice));
                        }
                        Reply::added(count)
                    }
                    Err(e) => Reply::error(format!("add: {e}")),
                }
            }
            Request::Ls {} => {
                Reply::items(self.model.items().map(|i| ItemRecord::of(i, self.defaults)).collect())
            }
            // Answered above.
            _ => Reply::error("unexpected request"),
        };
        request.answer(reply);
    }

    /// Applies a change by id from another shell, when it applies to the item as the model
    /// has it (the engine ignores one that no longer does by the time it arrives).
    fn edit(&mut self, edit: &Edit, id: ItemId) -> EditAnswer {
        let Some(item) = self.model.get(id) else { return EditAnswer::missing(id.0) };
        let mut answer = EditAnswer::of(id.0, edit, item.state);
        if answer.ok {
            match edit {
                Edit::Pause => self.handle.send(Command::Pause(id)),
                Edit::Resume => self.handle.send(Command::Resume(id)),
                Edit::Remove => self.handle.send(Command::Remove(id)),
                Edit::Retry => self.handle.send(Command::Retry(id)),
                Edit::Refresh(url) => {
                    if let Err(e) = self.handle.refresh(id, url) {
                        answer.ok = false;
                        answer.message = format!("the new URL cannot be used: {}", e.message);
                    }
                }
            }
        }
        answer
    }

    fn save_failed(&mut self, error: crate::state::StateError) {
        let text = error.to_string();
        if self.save_error.as_ref() != Some(&text) {
            self.outbox
                .push(SessionEvent::Notice(format!("could not save the queue ({text}); trying again")));
            self.save_error = Some(text);
        }
    }

    /// Stops the engine while still folding its last events (its state changes wait for room
    /// in the channel), then writes the queue.
    async fn close(mut self, grace: Duration) -> Closed {
        if let Some((server, _)) = self.control.take() {
            server.shutdown().await;
        }
        let engine = self.engine.take();
        let stop = async move {
            if let Some(engine) = engine {
                engine.shutdown().await;
            }
        };
        tokio::pin!(stop);
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        let mut stopped_in_time = true;
        loop {
            tokio::select! {
                () = &mut stop => break,
                event = self.events.recv() => match event {
                    Some(event) => self.fold(event, false),
                    None => {
                        (&mut stop).await;
                        break;
                    }
                },
                () = &mut deadline => {
                    stopped_in_time = false;
                    break;
                }
            }
        }
        while let Ok(event) = self.events.try_recv() {
            self.fold(event, false);
        }
        let saved = match self.saver.take() {
            Some((saver, _lock)) => saver.finish(&self.model).await,
            None => Ok(()),
        };
        Closed { stopped_in_time, saved }
    }
}

/// The next control request; never ready without a socket.
async fn recv_opt(
    control: &mut Option<(ControlServer, mpsc::Receiver<ControlRequest>)>,
) -> Option<ControlRequest> {
    match control {
        Some((_, requests)) => requests.recv().await,
        None => std::future::pending().await,
    }
}

/// The end of the write in progress (its error, if it failed); never ready without one.
async fn written(saver: &mut Option<(Saver, StateLock)>) -> Option<crate::state::StateError> {
    match saver {
        Some((saver, _)) => saver.written().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
