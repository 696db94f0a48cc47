//! Drawing: turns the `App` model into widgets on a ratatui `Frame`. This file lays the screen
//! out and holds what every part shares (the theme, shortening text); `header` draws the
//! totals and the rate graph, `table` the transfers (only the visible rows are built, so
//! drawing costs the same with ten items or ten thousand), `details` the selected item's pane,
//! `dialogs` the overlays, the status line and the footer. Depends on ratatui, the app model,
//! the key table and `format`; never on the engine's internals or the real terminal.

mod details;
mod dialogs;
mod header;
mod table;
mod url_box;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Paragraph, Wrap};

use crate::engine::ItemState;

use super::app::{App, Level};

pub use dialogs::{help_lines, markdown_key_table};
pub use table::state_label;

/// Below this the screen says so instead of drawing a mangled table.
pub const MIN_WIDTH: u16 = 50;
pub const MIN_HEIGHT: u16 = 12;
/// Lines of the detail pane, borders included.
const DETAIL_HEIGHT: u16 = 10;
const HEADER_HEIGHT: u16 = 4;

/// Colours when allowed, plain text attributes when `NO_COLOR` is set.
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color { Style::default().fg(c) } else { Style::default() }
    }

    fn dim(&self) -> Style {
        if self.color { Style::default().fg(Color::DarkGray) } else { Style::default() }
    }

    fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    fn level(&self, level: Level) -> Style {
        match level {
            Level::Info => self.fg(Color::Green),
            Level::Warn => self.fg(Color::Yellow),
            Level::Error => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    fn state(&self, state: ItemState) -> Style {
        match state {
            ItemState::Queued => self.dim(),
            ItemState::Connecting => self.fg(Color::Yellow),
            ItemState::Downloading => self.fg(Color::Cyan),
            ItemState::Paused => self.fg(Color::Magenta),
            ItemState::Done => self.fg(Color::Green),
            // Bold so a failure stands out without colour too.
            ItemState::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            ItemState::Cancelled => self.dim(),
        }
    }
}

/// Where everything goes for a given screen size.
struct Areas {
    header: Rect,
    table: Rect,
    details: Option<Rect>,
    status: Rect,
    footer: Rect,
}

/// `details` is the detail pane's height, 0 for none; it is left out when the screen is short.
fn layout(area: Rect, details: u16) -> Areas {
    let detail_h = if details > 0 && area.height >= MIN_HEIGHT + details - 3 { details } else { 0 };
    let [header, table, detail, status, footer] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT),
        Constraint::Min(3),
        Constraint::Length(detail_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas { header, table, details: (detail_h > 0).then_some(detail), status, footer }
}

/// Draws the whole screen. Takes the app mutably only to remember the scroll offset and where
/// the table body landed (for mouse clicks and page sizes).
pub fn draw(frame: &mut Frame, app: &mut App) {
    app.refresh_view();
    let area = frame.area();
    let theme = Theme { color: app.color };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, &theme);
        app.table_body = Rect::default();
        return;
    }
    // A failure with advice about its kind, a checksum and a value that wraps get lines.
    let pane = app.show_details.then(|| details::pane(app, &theme, area.width));
    let areas = layout(area, pane.as_ref().map_or(0, |p| p.height(DETAIL_HEIGHT)));
    header::draw_header(frame, areas.header, app, &theme);
    table::draw_table(frame, areas.table, app, &theme);
    if let (Some(rect), Some(pane)) = (areas.details, pane) {
        details::draw_details(frame, rect, pane, &theme);
    }
    dialogs::draw_status(frame, areas.status, app, &theme);
    dialogs::draw_footer(frame, areas.footer, &app.keymap, &theme);
    dialogs::draw_overlay(frame, area, app, &theme);
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = format!(
        "The terminal is too small ({}×{}).\nNeed at least {MIN_WIDTH}×{MIN_HEIGHT}.\nEnlarge it, or press q to quit.",
        area.width, area.height
    );
    let lines = text.lines().count() as u16;
    let y = area.y + area.height.saturating_sub(lines) / 2;
    let rect = Rect::new(area.x, y, area.width, lines.min(area.height));
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .style(theme.fg(Color::Yellow)),
        rect,
    );
}

/// Shortens text to `width` characters by cutting out its middle, so a file name keeps both
/// its start and its extension: `debian-13…netinst.iso`.
pub fn ellipsize_middle(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width {
        return text.to_string();
    }
    if width <= 1 {
        return "…".chars().take(width).collect();
    }
    let keep = width - 1;
    let tail = keep / 2;
    let head = keep - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(len - tail).collect();
    format!("{start}…{end}")
}

/// Shortens a path from the left: `…/me/Downloads`.
fn ellipsize_left(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width {
        return text.to_string();
    }
    let tail: String = text.chars().skip(len + 1 - width.max(1)).collect();
    format!("…{tail}")
}

/// A box of at most `width` × `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(4)).max(1);
    let h = height.min(area.height).max(1);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis() {
        assert_eq!(ellipsize_middle("debian-13.1.0-amd64-netinst.iso", 17), "debian-1…inst.iso");
        assert_eq!(ellipsize_middle("short", 17), "short");
        assert_eq!(ellipsize_left("/home/me/Downloads", 12), "…e/Downloads");
    }
}
