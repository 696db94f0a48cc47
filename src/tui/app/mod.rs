//! The UI's model: the transfers as the UI sees them, the selection, the open dialog, the
//! messages. `App::update` folds what the person meant (`Action`) into state and returns what
//! the session must be told (`Effect`); `App::apply` folds what the engine reported
//! (`EngineEvent`, through the session); `App::tick` samples rates. All three are pure: no
//! I/O, no clock of their own (time comes in as an argument), so they are unit-tested without
//! a terminal or an engine.
//!
//! This file holds the types, the reading side and the dispatch; `input_map` turns terminal
//! events into actions, `commands` is what the main view's keys do, `dialogs` what dialogs
//! and text boxes do, `view` the filter and the selection, `fold` what engine events and the
//! tick do, `desktop` the keys that open and copy, `intents` pause and resume until the
//! engine confirms them, `row` one transfer (the engine's snapshot plus rate samples).
//! Depends on the engine's message types and `format`; never on the terminal or rendering.

mod commands;
mod desktop;
mod dialogs;
mod fold;
mod input_map;
mod intents;
mod pasted;
mod row;
mod url_box;
mod view;

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use crate::engine::{
    AddRequest, Command, ItemId, ItemLimits, MAX_WORKERS, parse_download_url, redact_str, redact_url,
};

use super::input::TextInput;
use super::keys::{KeyAction, KeyMap};
use crate::session::ById;

pub use fold::Counts;
pub use intents::intent_label;
pub use row::{Intent, Row};
pub use view::SortKey;

/// Points kept for the rate graph: one a second for the last minute.
pub const HISTORY_LEN: usize = 60;
/// How long a message stays in the status line.
const MESSAGE_TTL: Duration = Duration::from_secs(10);

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
    /// control socket, a queue that cannot be saved).
    Notice(String),
}

/// What `update` asks the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Command),
    /// Queue a download. Its row appears when the engine reports it `Added`.
    Add(AddRequest),
    Suspend,
    Quit,
    /// Put this text on the terminal's clipboard (OSC 52).
    Copy(String),
    /// Open this file or folder with the system's opener.
    Open(PathBuf),
    /// Make this the folder for new downloads if it exists or can be created and is
    /// writable; the loop answers with `App::folder_checked`.
    SetFolder(String),
    /// The add box's Enter with a folder other than the current one: the loop checks the
    /// folder (as for `SetFolder`) and answers with `App::add_in_folder`.
    AddIn {
        folder: String,
        text: String,
    },
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
    /// `D`: remove these completed items from the list (the count asked about is the count
    /// removed, even if more complete while the question is open).
    ConfirmRemoveFinished(Vec<ItemId>),
    /// `r` on a completed item: download it again?
    ConfirmRedownload(ItemId),
    /// The download-folder box (`F`).
    Folder,
    /// The rate-limit box is open for all downloads or for one.
    Limit(LimitTarget),
    /// The URL box (`u`) is open for this item.
    UrlBox(ItemId),
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

pub struct App {
    pub keymap: KeyMap,
    /// Every item, in the order it was added (which is id order).
    rows: ById<Row>,
    /// The items the table shows (the filter applied), in order.
    view: Vec<ItemId>,
    view_stale: bool,
    /// Index into `view`.
    selected: usize,
    /// URLs (in the engine's form) asked for whose `Added` has not come yet, so a second
    /// paste of the same URL in the meantime is recognised as a duplicate.
    adding: HashSet<String>,
    /// First row of `view` on screen; kept by the renderer so the selection stays visible.
    pub offset: usize,
    /// The table body as last drawn, for mouse clicks and page moves.
    pub table_body: Rect,
    pub mode: Mode,
    pub add_input: TextInput,
    pub filter_input: TextInput,
    /// The rate-limit box (`Mode::Limit`).
    pub limit_input: TextInput,
    /// The URL box (`Mode::UrlBox`).
    pub url_input: TextInput,
    /// The add box's folder field, and whether it has the keyboard (Tab switches).
    pub add_folder: TextInput,
    pub add_on_folder: bool,
    /// The download-folder box (`Mode::Folder`).
    pub folder_input: TextInput,
    /// The folder chosen with `F` for new downloads from this screen; `None` until then (the
    /// engine's default folder, which `dlm add` from other shells keeps using).
    pub chosen_dir: Option<PathBuf>,
    /// The filter in force, lowercased; empty means none.
    filter: String,
    /// The table's order (`s` cycles).
    sort: SortKey,
    pub show_details: bool,
    pub cap: usize,
    /// The engine's global rate limit in bytes per second, if any.
    /// What the `[[schedule]]` holds now, as the header says it (see `SessionEvent::Schedule`).
    pub schedule: Option<String>,
    pub rate_limit: Option<u64>,
    /// The limits a new item starts with (the config's `item_rate_limit` and `connections`):
    /// the table marks items whose own limits differ.
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
            rows: ById::default(),
            view: Vec::new(),
            view_stale: false,
            selected: 0,
            adding: HashSet::new(),
            offset: 0,
            table_body: Rect::default(),
            mode: Mode::Normal,
            add_input: TextInput::new(true),
            filter_input: TextInput::new(false),
            limit_input: TextInput::new(false),
            url_input: TextInput::new(false),
            folder_input: TextInput::new(false),
            add_folder: TextInput::new(false),
            add_on_folder: false,
            chosen_dir: None,
            filter: String::new(),
            sort: SortKey::default(),
            show_details: false,
            cap: cap.clamp(1, MAX_WORKERS),
            schedule: None,
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
        self.rows.get(id)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Every item, in no particular order (the taskbar progress sums them).
    pub fn items(&self) -> impl Iterator<Item = &crate::engine::ItemSnapshot> {
        self.rows.iter().map(|r| &r.item)
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ids the table shows, in order. Call `refresh_view` first after changes.
    pub fn view(&self) -> &[ItemId] {
        &self.view
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    pub fn selected(&self) -> Option<&Row> {
        self.view.get(self.selected).and_then(|id| self.rows.get(*id))
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    // ----- messages -----

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), level, at: self.now });
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
            Action::Paste(text) => self.paste(&text),
            Action::Click { column, row } => {
                self.click(column, row);
                Vec::new()
            }
            Action::ScrollUp | Action::ScrollDown => {
                self.scroll(action == Action::ScrollUp);
                Vec::new()
            }
            Action::Key(key) => self.key_action(key),
            Action::Input(key) => self.input(key),
        };
        self.refresh_view();
        effects
    }
}

/// The form duplicates are compared in: the URL as the engine will report it.
fn dedup_key(url: &str) -> String {
    match parse_download_url(url) {
        Ok(parsed) => redact_url(&parsed),
        Err(_) => redact_str(url.trim()),
    }
}

#[cfg(test)]
mod tests;
