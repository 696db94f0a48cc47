//! The table's view of the model: which rows the filter lets through, in order, and which one
//! is selected, moved by keys, the wheel and clicks. Kept in step cheaply: appending a row
//! appends to the view, and a full rebuild happens only when the filter or a name it may match
//! changes. Part of `App`, pure like the rest of it.

use crate::engine::ItemId;

use super::{App, LimitTarget, Mode, Row};

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
        if let Some(pos) = keep.and_then(|id| self.view.iter().position(|v| *v == id)) {
            self.selected = pos;
        }
        self.clamp_selection();
    }

    fn matches(&self, r: &Row) -> bool {
        self.filter.is_empty()
            || r.url.to_lowercase().contains(&self.filter)
            || r.name.as_ref().is_some_and(|n| n.to_lowercase().contains(&self.filter))
    }

    /// A row's name changed: under a filter, it may now match or stop matching.
    pub(super) fn name_changed(&mut self) {
        self.view_stale |= !self.filter.is_empty();
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
        if self.filter.is_empty() && !self.view_stale && last.is_none_or(|last| last < id) {
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
