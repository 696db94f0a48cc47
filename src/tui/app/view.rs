//! The table's view of the model: which rows the filter lets through, in which order (the
//! sort), and which one is selected, moved by keys, the wheel, clicks and the jumps to the
//! next failed or running item. Kept in step cheaply: appending a row in queue order appends
//! to the view, and a full rebuild (filter, then sort) happens only when something it depends
//! on changed, at most once per frame; a sort by progress or rate is redone once a second, on
//! the tick, not on every progress event. Part of `App`, pure like the rest of it.

use std::cmp::Ordering;

use crate::engine::{ItemId, ItemState};
use crate::tui::keys::KeyAction;

use super::{App, Level, LimitTarget, Mode, Row};

/// The orders `s` cycles through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// The order items were added in (id order): the order they start in.
    #[default]
    Queue,
    /// Running first, then what needs attention (failed), then paused, queued, done and
    /// cancelled; queue order within a state.
    State,
    /// Most complete first; items of unknown size last.
    Progress,
    /// Fastest first.
    Rate,
    /// By name (or URL before the name is known), ignoring case.
    Name,
}

impl SortKey {
    fn next(self) -> Self {
        match self {
            Self::Queue => Self::State,
            Self::State => Self::Progress,
            Self::Progress => Self::Rate,
            Self::Rate => Self::Name,
            Self::Name => Self::Queue,
        }
    }

    /// How the header names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Queue => "queue order",
            Self::State => "state",
            Self::Progress => "progress",
            Self::Rate => "rate",
            Self::Name => "name",
        }
    }

    /// Whether rows can change place as bytes arrive (re-sorted on the tick).
    fn moves_with_progress(self) -> bool {
        matches!(self, Self::Progress | Self::Rate)
    }
}

/// Where a state sorts under `SortKey::State`.
fn state_rank(state: ItemState) -> u8 {
    match state {
        ItemState::Downloading => 0,
        ItemState::Connecting => 1,
        ItemState::Failed => 2,
        ItemState::Paused => 3,
        ItemState::Queued => 4,
        ItemState::Done => 5,
        ItemState::Cancelled => 6,
    }
}

/// The words the filter matches a row's state by, besides its name and URL: `/running`,
/// `/failed`, `/retry`.
fn state_words(row: &Row) -> &'static [&'static str] {
    match row.state {
        ItemState::Queued => &["queued"],
        ItemState::Connecting if row.retry.is_some() => &["running", "retrying"],
        ItemState::Connecting => &["running", "connecting"],
        ItemState::Downloading => &["running", "downloading"],
        ItemState::Paused => &["paused"],
        ItemState::Done if row.missing => &["done", "finished", "missing"],
        ItemState::Done => &["done", "finished"],
        ItemState::Failed => &["failed"],
        ItemState::Cancelled => &["cancelled"],
    }
}

/// Fraction done for sorting; unknown sizes sort after every known one.
fn progress_key(row: &Row) -> f64 {
    match row.total {
        Some(0) => 1.0,
        Some(t) => row.bytes as f64 / t as f64,
        None => -1.0,
    }
}

/// Rows the mouse wheel moves.
const WHEEL_STEP: usize = 3;

impl App {
    /// Recomputes the filtered list if it is stale, keeping the same item selected.
    pub fn refresh_view(&mut self) {
        if !self.view_stale {
            return;
        }
        self.view_stale = false;
        let keep = self.view.get(self.selected).copied();
        self.view = self.rows.iter().filter(|r| self.matches(r)).map(|r| r.id).collect();
        self.sort_view();
        if let Some(pos) = keep.and_then(|id| self.view.iter().position(|v| *v == id)) {
            self.selected = pos;
        }
        self.clamp_selection();
    }

    /// Orders the view by the sort key. Stable, so equal rows keep queue order; the keys are
    /// read once per row, not once per comparison.
    fn sort_view(&mut self) {
        let rows = &self.rows;
        let row = |id: &ItemId| rows.get(*id);
        match self.sort {
            SortKey::Queue => {}
            SortKey::State => self.view.sort_by_key(|id| row(id).map_or(u8::MAX, |r| state_rank(r.state))),
            SortKey::Progress | SortKey::Rate => {
                let rate = self.sort == SortKey::Rate;
                let mut keyed: Vec<(f64, ItemId)> = self
                    .view
                    .iter()
                    .map(|id| {
                        let key = row(id).map_or(-2.0, |r| if rate { r.rate } else { progress_key(r) });
                        (key, *id)
                    })
                    .collect();
                // Descending: the most complete, or the fastest, first.
                keyed.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
                self.view = keyed.into_iter().map(|(_, id)| id).collect();
            }
            SortKey::Name => {
                self.view.sort_by_cached_key(|id| row(id).map(|r| r.label().to_lowercase()));
            }
        }
    }

    fn matches(&self, r: &Row) -> bool {
        self.filter.is_empty()
            || r.url.to_lowercase().contains(&self.filter)
            || r.name.as_ref().is_some_and(|n| n.to_lowercase().contains(&self.filter))
            // A prefix, so the list narrows while the word is typed (`/fail`).
            || state_words(r).iter().any(|w| w.starts_with(self.filter.as_str()))
    }

    /// A row's name changed: under a filter or a sort by name, it may move or (dis)appear.
    pub(super) fn name_changed(&mut self) {
        self.view_stale |= !self.filter.is_empty() || self.sort == SortKey::Name;
    }

    /// A row's state changed: under a filter (which matches states) or a sort, it may move.
    pub(super) fn state_changed(&mut self) {
        self.view_stale |= !self.filter.is_empty() || self.sort != SortKey::Queue;
    }

    /// The tick: a sort by progress or rate is redone once a second, so rows do not jump
    /// with every progress event (and 100,000 rows are not sorted per frame).
    pub(super) fn progress_moved(&mut self) {
        self.view_stale |= self.sort.moves_with_progress();
    }

    pub fn sort(&self) -> SortKey {
        self.sort
    }

    /// `s`, `f` and `n`: the next sort order, the next failed or running item.
    pub(super) fn view_key(&mut self, action: KeyAction) {
        match action {
            KeyAction::Sort => {
                self.sort = self.sort.next();
                self.view_stale = true;
                self.refresh_view();
                self.say(Level::Info, format!("sorted by {}", self.sort.label()));
            }
            KeyAction::NextFailed => self.jump(|r| r.state == ItemState::Failed, "failed"),
            KeyAction::NextRunning => self.jump(|r| r.state.is_running(), "running"),
            _ => {}
        }
    }

    /// Selects the next shown row after the selection that `wanted` accepts, wrapping round.
    fn jump(&mut self, wanted: impl Fn(&Row) -> bool, what: &str) {
        let n = self.view.len();
        let found = (1..=n)
            .map(|step| (self.selected + step) % n)
            .find(|&i| self.rows.get(self.view[i]).is_some_and(&wanted));
        match found {
            Some(i) => self.selected = i,
            None if self.filter.is_empty() => self.say(Level::Info, format!("no {what} transfers")),
            None => self.say(Level::Info, format!("no {what} transfers shown (Esc clears the filter)")),
        }
    }

    pub(super) fn set_filter_from_input(&mut self) {
        self.filter = self.filter_input.text().trim().to_lowercase();
        self.view_stale = true;
    }

    pub(super) fn insert_row(&mut self, row: Row) {
        let id = row.id;
        let last = self.rows.iter().next_back().map(|r| r.id);
        if !self.rows.insert(row) {
            return;
        }
        // Without a filter the view is the rows in order; appending keeps it right without an
        // O(n) rebuild per item, which matters when ten thousand URLs arrive in one paste.
        if self.filter.is_empty()
            && self.sort == SortKey::Queue
            && !self.view_stale
            && last.is_none_or(|last| last < id)
        {
            self.view.push(id);
        } else {
            self.view_stale = true;
        }
    }

    pub(super) fn remove_row(&mut self, id: ItemId) {
        if self.rows.remove(id).is_none() {
            return;
        }
        if let Some(pos) = self.view.iter().position(|x| *x == id) {
            self.view.remove(pos);
            if pos < self.selected {
                self.selected -= 1;
            }
        }
        self.clamp_selection();
        if matches!(self.mode, Mode::ConfirmCancel(x) | Mode::Limit(LimitTarget::Item(x)) if x == id) {
            self.mode = Mode::Normal;
        }
    }

    fn clamp_selection(&mut self) {
        self.selected = self.selected.min(self.view.len().saturating_sub(1));
    }

    pub(super) fn page(&self) -> usize {
        usize::from(self.table_body.height).max(1)
    }

    pub(super) fn move_by(&mut self, delta: isize) {
        let last = self.view.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    pub(super) fn select_first(&mut self) {
        self.selected = 0;
    }

    pub(super) fn select_last(&mut self) {
        self.selected = self.view.len().saturating_sub(1);
    }

    /// A left click on a table row selects it.
    pub(super) fn click(&mut self, column: u16, row: u16) {
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
    }

    pub(super) fn scroll(&mut self, up: bool) {
        if self.mode == Mode::Normal {
            let step = WHEEL_STEP as isize;
            self.move_by(if up { -step } else { step });
        }
    }
}
