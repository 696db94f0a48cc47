//! The UI's model: the transfers as the UI sees them, the selection, the open dialog, the
//! messages. `App::update` folds what the person meant (`Action`) into state and returns what
//! the engine must be told (`Effect`); `App::apply` folds what the engine reported
//! (`EngineEvent`); `App::tick` samples rates. All three are pure: no I/O, no clock of their
//! own (time comes in as an argument), so they are unit-tested without a terminal or an engine.
//! This file holds the types, the reading side and the dispatch; `commands` is what keys and
//! text boxes do, `fold` what engine events and the tick do. Depends on the engine's message
//! types and `format`; never on the terminal or rendering.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind};
use ratatui::layout::Rect;

use crate::engine::{
    AddRequest, Command, ItemId, ItemLimits, ItemState, MAX_WORKERS, StartInfo, parse_download_url,
    redact_str, redact_url,
};

use super::input::TextInput;
use super::keys::{KeyAction, KeyMap};

mod commands;
mod fold;

/// Points kept for the rate graph: one a second for the last minute.
pub const HISTORY_LEN: usize = 60;
/// How long a message stays in the status line.
const MESSAGE_TTL: Duration = Duration::from_secs(10);
/// Rate samples kept per transfer; the rate is the slope over them (about three seconds).
const RATE_SAMPLES: usize = 4;
/// Rows the mouse wheel moves.
const WHEEL_STEP: usize = 3;

/// What the person meant: a named key action, a raw key for a dialog or text box, a paste, a
/// mouse gesture, a resize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Key(KeyAction),
    /// A key with no binding in the current mode: editing keys for text boxes, answers to
    /// dialogs, Esc.
    Input(KeyEvent),
    Paste(String),
    Click {
        column: u16,
        row: u16,
    },
    ScrollUp,
    ScrollDown,
    Resize {
        width: u16,
        height: u16,
    },
    /// Something the person should read once (from the session: a damaged queue file, no
    /// control socket).
    Notice(String),
}

/// What `update` asks the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Command),
    /// Queue a download. The engine handle assigns the id, so the loop adds and then calls
    /// `App::track_add` with it.
    Add(AddRequest),
    Suspend,
    Quit,
}

/// Which screen has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help {
        scroll: usize,
    },
    Add,
    Filter,
    ConfirmCancel(ItemId),
    ConfirmQuit,
    /// The rate-limit box is open for all downloads or for one.
    Limit(LimitTarget),
}

/// What a rate limit typed into the limit box applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitTarget {
    All,
    Item(ItemId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub level: Level,
    pub at: Instant,
}

/// The last retry the engine announced for an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryNote {
    pub attempt: u32,
    pub delay: Duration,
    pub at: Instant,
}

/// One transfer as the UI shows it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: ItemId,
    /// The URL as shown (credentials removed).
    pub url: String,
    /// What duplicates are recognised by: the URL as the engine normalises it.
    key: String,
    pub state: ItemState,
    pub name: Option<String>,
    pub bytes: u64,
    pub total: Option<u64>,
    pub info: Option<StartInfo>,
    /// Where the finished file is.
    pub path: Option<PathBuf>,
    pub skipped: bool,
    /// The last error or retry reason, and when it came.
    pub error: Option<(String, Instant)>,
    pub retry: Option<RetryNote>,
    /// Retries the engine has made so far.
    pub retries: u32,
    /// The item's own rate limit (bytes/s, `None` unlimited) and connection count: the
    /// engine's defaults until it reports or the person sets others.
    pub rate_limit: Option<u64>,
    pub connections: usize,
    /// Bytes per second, the slope over the recent samples.
    pub rate: f64,
    samples: VecDeque<(Instant, u64)>,
    /// Bytes at the previous tick, for the total-rate graph.
    tick_bytes: u64,
}

impl Row {
    fn new(id: ItemId, url: String, key: String) -> Self {
        Self {
            id,
            url,
            key,
            state: ItemState::Queued,
            name: None,
            bytes: 0,
            total: None,
            info: None,
            path: None,
            skipped: false,
            error: None,
            retry: None,
            retries: 0,
            rate_limit: None,
            connections: 1,
            rate: 0.0,
            samples: VecDeque::new(),
            tick_bytes: 0,
        }
    }

    /// The name if the server gave one yet, else the URL's last path segment (what the name
    /// will most likely be; the whole URL is in the detail pane), else the URL.
    pub fn label(&self) -> &str {
        if let Some(name) = &self.name {
            return name;
        }
        let no_query = self.url.split(['?', '#']).next().unwrap_or(&self.url);
        let after_scheme = no_query.split_once("://").map_or(no_query, |(_, rest)| rest);
        match after_scheme.split_once('/') {
            Some((_, path)) => path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(after_scheme),
            None => after_scheme,
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self.state, ItemState::Connecting | ItemState::Downloading)
    }

    /// Not finished: a new add of the same URL would be a duplicate.
    fn is_pending(&self) -> bool {
        !self.state.is_terminal()
    }

    pub fn eta(&self) -> Option<Duration> {
        let total = self.total?;
        (self.state == ItemState::Downloading).then_some(())?;
        crate::format::eta(total.saturating_sub(self.bytes), self.rate)
    }

    fn stop_rate(&mut self) {
        self.rate = 0.0;
        self.samples.clear();
        self.tick_bytes = self.bytes;
    }
}

/// Totals for the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub queued: usize,
    pub running: usize,
    pub paused: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub bytes: u64,
    pub total: u64,
    /// Items whose size is not known yet, so `total` is a lower bound.
    pub unknown_sizes: usize,
}

pub struct App {
    pub keymap: KeyMap,
    rows: HashMap<ItemId, Row>,
    /// Every item, in the order it was added.
    order: Vec<ItemId>,
    /// The items the table shows (the filter applied), in order.
    view: Vec<ItemId>,
    view_stale: bool,
    /// Index into `view`.
    selected: usize,
    /// First row of `view` on screen; kept by the renderer so the selection stays visible.
    pub offset: usize,
    /// The table body as last drawn, for mouse clicks and page moves.
    pub table_body: Rect,
    pub mode: Mode,
    pub add_input: TextInput,
    pub filter_input: TextInput,
    /// The rate-limit box (`Mode::Limit`).
    pub limit_input: TextInput,
    /// The filter in force, lowercased; empty means none.
    filter: String,
    pub show_details: bool,
    pub cap: usize,
    /// The engine's global rate limit in bytes per second, if any.
    pub rate_limit: Option<u64>,
    /// The limits a new item starts with (the config's `item_rate_limit` and `connections`),
    /// so rows show them before the engine reports anything and `x` counts from them.
    pub item_defaults: ItemLimits,
    pub message: Option<Message>,
    /// Total bytes per second, one point a second, oldest first.
    pub history: VecDeque<u64>,
    pub free_space: Option<u64>,
    pub download_dir: PathBuf,
    pub size: (u16, u16),
    pub now: Instant,
    last_tick: Option<Instant>,
    pub color: bool,
    pub engine_stopped: bool,
}

impl App {
    pub fn new(keymap: KeyMap, download_dir: PathBuf, cap: usize, now: Instant) -> Self {
        Self {
            keymap,
            rows: HashMap::new(),
            order: Vec::new(),
            view: Vec::new(),
            view_stale: false,
            selected: 0,
            offset: 0,
            table_body: Rect::default(),
            mode: Mode::Normal,
            add_input: TextInput::new(true),
            filter_input: TextInput::new(false),
            limit_input: TextInput::new(false),
            filter: String::new(),
            show_details: false,
            cap: cap.clamp(1, MAX_WORKERS),
            rate_limit: None,
            item_defaults: ItemLimits { rate_limit: None, connections: 1 },
            message: None,
            history: VecDeque::from(vec![0; HISTORY_LEN]),
            free_space: None,
            download_dir,
            size: (80, 24),
            now,
            last_tick: None,
            color: true,
            engine_stopped: false,
        }
    }

    // ----- reading the model (for rendering and tests) -----

    pub fn row(&self, id: ItemId) -> Option<&Row> {
        self.rows.get(&id)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The ids the table shows, in order. Call `refresh_view` first after changes.
    pub fn view(&self) -> &[ItemId] {
        &self.view
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    pub fn selected(&self) -> Option<&Row> {
        self.view.get(self.selected).and_then(|id| self.rows.get(id))
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for row in self.rows.values() {
            match row.state {
                ItemState::Queued => c.queued += 1,
                ItemState::Connecting | ItemState::Downloading => c.running += 1,
                ItemState::Paused => c.paused += 1,
                ItemState::Done => c.done += 1,
                ItemState::Failed => c.failed += 1,
                ItemState::Cancelled => c.cancelled += 1,
            }
            if row.state == ItemState::Cancelled {
                continue;
            }
            // Saturating: a server may announce any size up to 2^64-1, and two such items
            // must not overflow the header's totals.
            c.bytes = c.bytes.saturating_add(row.bytes);
            match row.total {
                Some(t) => c.total = c.total.saturating_add(t),
                None => {
                    c.unknown_sizes += 1;
                    c.total = c.total.saturating_add(row.bytes);
                }
            }
        }
        c
    }

    /// Sum of the per-transfer rates.
    pub fn total_rate(&self) -> f64 {
        self.rows.values().filter(|r| r.is_active()).map(|r| r.rate).sum()
    }

    /// Whether time passing changes the screen: something transfers, the graph still shows
    /// recent traffic, or a message waits to expire. The loop ticks slowly otherwise.
    pub fn busy(&self) -> bool {
        self.message.is_some()
            || self.history.iter().any(|&v| v > 0)
            || self.rows.values().any(|r| r.is_active() || r.retry.is_some())
    }

    // ----- the view (filter and selection) -----

    /// Recomputes the filtered list if it is stale, keeping the same item selected.
    pub fn refresh_view(&mut self) {
        if !self.view_stale {
            return;
        }
        self.view_stale = false;
        let keep = self.view.get(self.selected).copied();
        self.view = if self.filter.is_empty() {
            self.order.clone()
        } else {
            self.order.iter().copied().filter(|id| self.matches(*id)).collect()
        };
        if let Some(pos) = keep.and_then(|id| self.view.iter().position(|v| *v == id)) {
            self.selected = pos;
        }
        self.clamp_selection();
    }

    fn matches(&self, id: ItemId) -> bool {
        self.rows.get(&id).is_some_and(|r| {
            r.url.to_lowercase().contains(&self.filter)
                || r.name.as_ref().is_some_and(|n| n.to_lowercase().contains(&self.filter))
        })
    }

    fn clamp_selection(&mut self) {
        self.selected = self.selected.min(self.view.len().saturating_sub(1));
    }

    fn page(&self) -> usize {
        usize::from(self.table_body.height).max(1)
    }

    fn move_by(&mut self, delta: isize) {
        let last = self.view.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    // ----- messages -----

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), level, at: self.now });
    }

    // ----- input -----

    /// Translates a terminal event into an action, using the key table in the main view and
    /// passing keys through raw to dialogs and text boxes.
    pub fn action_for(&self, event: &Event) -> Option<Action> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                let bound = self.keymap.action_for(key);
                let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                    && matches!(key.code, KeyCode::Char('c' | 'C'));
                match (&self.mode, bound) {
                    (Mode::Normal, Some(action)) => Some(Action::Key(action)),
                    // Ctrl-C must always get out, whatever has the keyboard.
                    (_, _) if ctrl_c => Some(Action::Key(KeyAction::Quit)),
                    (Mode::Help { .. }, Some(a @ (KeyAction::Help | KeyAction::Quit))) => {
                        Some(Action::Key(a))
                    }
                    _ => Some(Action::Input(*key)),
                }
            }
            Event::Paste(text) => Some(Action::Paste(text.clone())),
            Event::Mouse(m) => match m.kind {
                MouseEventKind::Down(MouseButton::Left) => {
                    Some(Action::Click { column: m.column, row: m.row })
                }
                MouseEventKind::ScrollUp => Some(Action::ScrollUp),
                MouseEventKind::ScrollDown => Some(Action::ScrollDown),
                _ => None,
            },
            Event::Resize(width, height) => Some(Action::Resize { width: *width, height: *height }),
            _ => None,
        }
    }

    /// Folds what the person meant into the model; returns what the loop must do.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        self.refresh_view();
        let effects = match action {
            Action::Resize { width, height } => {
                self.size = (width, height);
                Vec::new()
            }
            Action::Notice(text) => {
                self.say(Level::Warn, text);
                Vec::new()
            }
            Action::Paste(text) => match self.mode {
                Mode::Add => {
                    self.add_input.insert_str(&text);
                    Vec::new()
                }
                Mode::Filter => {
                    self.filter_input.insert_str(&text);
                    self.set_filter_from_input();
                    Vec::new()
                }
                Mode::Limit(_) => {
                    self.limit_input.insert_str(&text);
                    Vec::new()
                }
                // A paste is the main way in, so it works from the main view and from
                // harmless overlays alike.
                Mode::Normal | Mode::Help { .. } => {
                    self.mode = Mode::Normal;
                    self.add_text(&text)
                }
                Mode::ConfirmCancel(_) | Mode::ConfirmQuit => Vec::new(),
            },
            Action::Click { column, row } => {
                let body = self.table_body;
                if self.mode == Mode::Normal
                    && column >= body.x
                    && column < body.x + body.width
                    && row >= body.y
                    && row < body.y + body.height
                {
                    let index = self.offset + usize::from(row - body.y);
                    if index < self.view.len() {
                        self.selected = index;
                    }
                }
                Vec::new()
            }
            Action::ScrollUp | Action::ScrollDown if self.mode == Mode::Normal => {
                let step = WHEEL_STEP as isize;
                self.move_by(if action == Action::ScrollUp { -step } else { step });
                Vec::new()
            }
            Action::ScrollUp | Action::ScrollDown => Vec::new(),
            Action::Key(key) => self.key_action(key),
            Action::Input(key) => self.input(key),
        };
        self.refresh_view();
        effects
    }
}

/// The form duplicates are compared in: what the engine will show for the URL.
fn dedup_key(url: &str) -> String {
    match parse_download_url(url) {
        Ok(parsed) => redact_url(&parsed),
        Err(_) => redact_str(url.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineEvent, ItemError};
    use crossterm::event::KeyEventState;

    fn app() -> (App, Instant) {
        let now = Instant::now();
        (App::new(KeyMap::default(), PathBuf::from("/dl"), 4, now), now)
    }

    /// Runs an action and performs `Add` effects the way the loop does, with ids from 1.
    fn run(app: &mut App, action: Action) -> Vec<Effect> {
        let effects = app.update(action);
        for e in &effects {
            if let Effect::Add(req) = e {
                let id = ItemId(app.len() as u64 + 1);
                app.track_add(id, &req.url);
            }
        }
        effects
    }

    fn key(c: char) -> Action {
        Action::Input(KeyEvent {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    fn started(id: u64, total: Option<u64>) -> EngineEvent {
        EngineEvent::Started {
            id: ItemId(id),
            info: StartInfo {
                name: format!("file{id}.bin"),
                path: PathBuf::from(format!("/dl/file{id}.bin")),
                total,
                offset: 0,
                final_url: format!("http://h/file{id}.bin"),
                status: 200,
                resumable: true,
                validator: None,
                ranges_unreliable: false,
            },
        }
    }

    #[test]
    fn paste_adds_urls_reports_other_words_and_skips_duplicates() {
        let (mut a, _) = app();
        let fx = run(&mut a, Action::Paste("see http://h/a\nhttp://h/b http://h/a and".into()));
        assert_eq!(fx.len(), 2);
        assert_eq!(a.len(), 2);
        let msg = a.message.clone().unwrap();
        assert!(msg.text.contains("added 2 URLs"), "{}", msg.text);
        assert!(msg.text.contains("skipped 1"), "{}", msg.text);
        assert!(msg.text.contains("\"see\""), "{}", msg.text);
        // Pasting again while they are queued adds nothing.
        assert!(run(&mut a, Action::Paste("http://h/a".into())).is_empty());
        // Once done, the same URL may be fetched again.
        a.apply(
            EngineEvent::Completed { id: ItemId(1), path: "/dl/a".into(), bytes: 1, skipped: false },
            a.now,
        );
        assert_eq!(run(&mut a, Action::Paste("http://h/a".into())).len(), 1);
    }

    #[test]
    fn labels_fall_back_to_the_url_tail() {
        let row = |url: &str| Row::new(ItemId(1), url.into(), url.into());
        assert_eq!(row("http://h/a/b.iso?x=1").label(), "b.iso");
        assert_eq!(row("http://h/a/dir/").label(), "dir");
        assert_eq!(row("http://h.example/").label(), "h.example/");
        assert_eq!(row("not a url").label(), "not a url");
    }

    #[test]
    fn worker_cap_changes_at_once_and_clamps() {
        let (mut a, _) = app();
        assert_eq!(a.update(Action::Key(KeyAction::WorkersUp)), vec![Effect::Send(Command::SetWorkers(5))]);
        assert_eq!(a.cap, 5);
        for _ in 0..10 {
            a.update(Action::Key(KeyAction::WorkersDown));
        }
        assert_eq!(a.cap, 1);
        assert!(a.update(Action::Key(KeyAction::WorkersDown)).is_empty());
        a.apply(EngineEvent::WorkersChanged { cap: 64 }, a.now);
        assert!(a.update(Action::Key(KeyAction::WorkersUp)).is_empty());
        assert_eq!(a.cap, 64);
    }

    fn enter() -> Action {
        Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
    }

    fn type_text(a: &mut App, text: &str) {
        for c in text.chars() {
            a.update(key(c));
        }
    }

    #[test]
    fn global_rate_limit_box_sets_clears_and_rejects_nonsense() {
        let (mut a, now) = app();
        a.update(Action::Key(KeyAction::RateLimit));
        assert_eq!(a.mode, Mode::Limit(LimitTarget::All));
        assert!(a.limit_input.is_empty());
        type_text(&mut a, "2M");
        assert_eq!(a.update(enter()), vec![Effect::Send(Command::SetRateLimit(Some(2 << 20)))]);
        assert_eq!((a.mode.clone(), a.rate_limit), (Mode::Normal, Some(2 << 20)), "shown at once");
        // The box opens on the limit in force; a bad entry keeps it open and says why.
        a.update(Action::Key(KeyAction::RateLimit));
        assert_eq!(a.limit_input.text(), "2M");
        a.update(Action::Paste("fast".into()));
        assert!(a.update(enter()).is_empty());
        assert_eq!(a.mode, Mode::Limit(LimitTarget::All));
        assert!(a.message.as_ref().unwrap().text.contains("invalid size"), "{:?}", a.message);
        // Ctrl-U then 0: no limit.
        a.update(Action::Input(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
        type_text(&mut a, "0");
        assert_eq!(a.update(enter()), vec![Effect::Send(Command::SetRateLimit(None))]);
        assert_eq!(a.rate_limit, None);
        // Esc closes without sending; the engine's word wins over what was shown.
        a.update(Action::Key(KeyAction::RateLimit));
        type_text(&mut a, "1M");
        assert!(a.update(Action::Input(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE))).is_empty());
        assert_eq!((a.mode.clone(), a.rate_limit), (Mode::Normal, None));
        a.apply(EngineEvent::RateLimitChanged { limit: Some(500) }, now);
        assert_eq!(a.rate_limit, Some(500));
    }

    #[test]
    fn item_rate_limit_applies_to_the_selected_unfinished_item() {
        let (mut a, now) = app();
        run(&mut a, Action::Paste("http://h/a http://h/b".into()));
        a.update(Action::Key(KeyAction::Down));
        a.update(Action::Key(KeyAction::ItemRateLimit));
        assert_eq!(a.mode, Mode::Limit(LimitTarget::Item(ItemId(2))));
        type_text(&mut a, "512K");
        let id = ItemId(2);
        assert_eq!(
            a.update(enter()),
            vec![Effect::Send(Command::SetItemRateLimit { id, limit: Some(512 << 10) })]
        );
        assert_eq!(a.row(id).unwrap().rate_limit, Some(512 << 10));
        assert_eq!(a.row(ItemId(1)).unwrap().rate_limit, None);
        // The item going away closes its box.
        a.update(Action::Key(KeyAction::ItemRateLimit));
        a.apply(EngineEvent::Removed { id }, now);
        assert_eq!(a.mode, Mode::Normal);
        // A finished item gets a word, not a box.
        a.apply(
            EngineEvent::Completed { id: ItemId(1), path: "/dl/a".into(), bytes: 1, skipped: false },
            now,
        );
        assert!(a.update(Action::Key(KeyAction::ItemRateLimit)).is_empty());
        assert_eq!(a.mode, Mode::Normal);
        assert!(a.message.as_ref().unwrap().text.contains("finished"));
    }

    #[test]
    fn connections_keys_count_from_the_defaults_and_clamp() {
        let (mut a, now) = app();
        a.item_defaults = ItemLimits { rate_limit: Some(1000), connections: 4 };
        run(&mut a, Action::Paste("http://h/a".into()));
        let id = ItemId(1);
        let row = a.row(id).unwrap();
        assert_eq!((row.connections, row.rate_limit), (4, Some(1000)), "new rows start at the defaults");
        let set = |n| vec![Effect::Send(Command::SetItemConnections { id, connections: n })];
        assert_eq!(a.update(Action::Key(KeyAction::ConnectionsUp)), set(5));
        assert_eq!(a.update(Action::Key(KeyAction::ConnectionsUp)), set(6), "counts from what it showed");
        a.apply(EngineEvent::ItemLimitsChanged { id, rate_limit: None, connections: 32 }, now);
        assert!(a.update(Action::Key(KeyAction::ConnectionsUp)).is_empty());
        assert!(a.message.as_ref().unwrap().text.contains("already uses 32"));
        a.apply(EngineEvent::ItemLimitsChanged { id, rate_limit: None, connections: 2 }, now);
        assert_eq!(a.update(Action::Key(KeyAction::ConnectionsDown)), set(1));
        assert!(a.update(Action::Key(KeyAction::ConnectionsDown)).is_empty());
        assert_eq!(a.row(id).unwrap().connections, 1);
        a.apply(EngineEvent::Failed { id, error: ItemError::other("x") }, now);
        assert!(a.update(Action::Key(KeyAction::ConnectionsUp)).is_empty());
        // Nothing selected: nothing happens.
        let (mut empty, _) = app();
        assert!(empty.update(Action::Key(KeyAction::ConnectionsUp)).is_empty());
        assert!(empty.update(Action::Key(KeyAction::ItemRateLimit)).is_empty());
        assert_eq!(empty.mode, Mode::Normal);
    }

    #[test]
    fn cancel_asks_then_sends_with_the_chosen_partial_policy() {
        let (mut a, _) = app();
        run(&mut a, Action::Paste("http://h/a".into()));
        assert!(a.update(Action::Key(KeyAction::Cancel)).is_empty());
        assert_eq!(a.mode, Mode::ConfirmCancel(ItemId(1)));
        assert!(a.update(key('n')).is_empty());
        assert_eq!(a.mode, Mode::Normal);
        a.update(Action::Key(KeyAction::Cancel));
        assert_eq!(
            a.update(key('d')),
            vec![Effect::Send(Command::Cancel { id: ItemId(1), delete_partial: true })]
        );
    }

    #[test]
    fn quit_asks_only_while_something_runs() {
        let (mut a, _) = app();
        assert_eq!(a.update(Action::Key(KeyAction::Quit)), vec![Effect::Quit]);
        run(&mut a, Action::Paste("http://h/a".into()));
        assert!(a.update(Action::Key(KeyAction::Quit)).is_empty());
        assert_eq!(a.mode, Mode::ConfirmQuit);
        assert_eq!(a.update(key('y')), vec![Effect::Quit]);
    }

    #[test]
    fn pause_resume_retry_remove_follow_the_state() {
        let (mut a, now) = app();
        run(&mut a, Action::Paste("http://h/a".into()));
        let id = ItemId(1);
        assert_eq!(a.update(Action::Key(KeyAction::TogglePause)), vec![Effect::Send(Command::Pause(id))]);
        a.apply(EngineEvent::Paused { id, bytes: 10 }, now);
        assert_eq!(a.update(Action::Key(KeyAction::TogglePause)), vec![Effect::Send(Command::Resume(id))]);
        assert!(a.update(Action::Key(KeyAction::Retry)).is_empty());
        assert!(a.update(Action::Key(KeyAction::Remove)).is_empty());
        a.apply(EngineEvent::Failed { id, error: ItemError::other("server answered 404") }, now);
        assert_eq!(a.update(Action::Key(KeyAction::Retry)), vec![Effect::Send(Command::Retry(id))]);
        assert_eq!(a.update(Action::Key(KeyAction::Remove)), vec![Effect::Send(Command::Remove(id))]);
        a.apply(EngineEvent::Removed { id }, now);
        assert!(a.is_empty());
        assert!(a.selected().is_none());
    }

    #[test]
    fn rates_come_from_ticks_and_progress() {
        let (mut a, t0) = app();
        run(&mut a, Action::Paste("http://h/a".into()));
        a.apply(started(1, Some(1000)), t0);
        a.tick(t0);
        a.apply(EngineEvent::Progress { id: ItemId(1), bytes: 100 }, t0 + Duration::from_millis(500));
        assert!(a.tick(t0 + Duration::from_secs(1)));
        assert_eq!(a.row(ItemId(1)).unwrap().rate, 100.0);
        assert_eq!(a.history.back(), Some(&100));
        assert_eq!(a.row(ItemId(1)).unwrap().eta(), Some(Duration::from_secs(9)));
        a.apply(
            EngineEvent::Completed { id: ItemId(1), path: "/dl/a".into(), bytes: 1000, skipped: false },
            t0,
        );
        assert_eq!(a.total_rate(), 0.0);
        let c = a.counts();
        assert_eq!((c.done, c.bytes, c.total), (1, 1000, 1000));
    }

    #[test]
    fn restored_rows_keep_their_name_size_and_bytes_through_the_engine_events() {
        let (mut a, now) = app();
        let id = ItemId(7);
        a.track_restored(
            id,
            "http://u:pw@h/x?y=1",
            Some("big.iso".into()),
            Some("/dl/big.iso".into()),
            Some(1000),
            120,
        );
        a.apply(EngineEvent::added(id, "http://***@h/x?y=1", "/dl"), now);
        a.apply(EngineEvent::Paused { id, bytes: 120 }, now);
        let row = a.row(id).unwrap();
        assert_eq!((row.label(), row.total, row.bytes), ("big.iso", Some(1000), 120));
        assert_eq!(row.path.as_deref(), Some(std::path::Path::new("/dl/big.iso")));
        assert_eq!(row.url, "http://***@h/x?y=1", "never the credentials");
        let c = a.counts();
        assert_eq!((c.bytes, c.total, c.unknown_sizes), (120, 1000, 0), "the header is not 1000 of 1000+");
        // Nothing was received in this session: the graph's first point is not the 120 bytes.
        a.tick(now);
        a.tick(now + Duration::from_secs(1));
        assert_eq!(a.history.back(), Some(&0));
    }

    #[test]
    fn filter_narrows_the_view_and_keeps_the_selection() {
        let (mut a, now) = app();
        run(&mut a, Action::Paste("http://h/alpha http://h/beta http://h/alphabet".into()));
        a.update(Action::Key(KeyAction::Bottom));
        a.update(Action::Key(KeyAction::Filter));
        type_text(&mut a, "ALPHA");
        assert_eq!(a.view(), &[ItemId(1), ItemId(3)]);
        assert_eq!(a.selected().unwrap().id, ItemId(3));
        a.apply(started(2, None), now);
        a.update(Action::Input(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        assert_eq!(a.view().len(), 3);
        assert_eq!(a.selected().unwrap().id, ItemId(3));
    }

    #[test]
    fn add_dialog_takes_keys_and_pastes_and_submits_on_enter() {
        let (mut a, _) = app();
        a.update(Action::Key(KeyAction::Add));
        assert_eq!(a.mode, Mode::Add);
        // Keys bound in the main view are plain text here.
        let typed = a.action_for(&Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)));
        assert_eq!(typed, Some(key('q')));
        run(&mut a, Action::Paste("http://h/1\nhttp://h/2\n".into()));
        assert_eq!(a.add_input.line_count(), 3);
        let fx = run(&mut a, Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
        assert_eq!(fx.len(), 2);
        assert_eq!(a.mode, Mode::Normal);
        assert!(a.add_input.is_empty());
    }

    #[test]
    fn navigation_and_mouse() {
        let (mut a, _) = app();
        let urls: Vec<String> = (0..50).map(|i| format!("http://h/{i}")).collect();
        run(&mut a, Action::Paste(urls.join(" ")));
        a.table_body = Rect::new(0, 5, 80, 10);
        a.update(Action::Key(KeyAction::PageDown));
        assert_eq!(a.selected_index(), 10);
        a.update(Action::Key(KeyAction::Bottom));
        assert_eq!(a.selected_index(), 49);
        a.update(Action::Key(KeyAction::Down));
        assert_eq!(a.selected_index(), 49);
        a.update(Action::Key(KeyAction::Top));
        a.update(Action::ScrollDown);
        assert_eq!(a.selected_index(), 3);
        a.offset = 20;
        a.update(Action::Click { column: 3, row: 7 });
        assert_eq!(a.selected_index(), 22);
        a.update(Action::Click { column: 3, row: 2 });
        assert_eq!(a.selected_index(), 22);
    }
}
