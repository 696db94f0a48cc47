//! The transfers table: one line per visible item (state, name with its own limits and its
//! checksum mark, size, progress bar, rate, ETA; on a narrow screen whole columns go rather
//! than digits), the selection kept on screen, the sort marked, and a failure's or pending
//! retry's reason written after the name across the cells it leaves empty. Part of drawing;
//! depends on ratatui, the app model and `format`.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table};

use crate::engine::{ChecksumState, ItemId, ItemLimits, ItemState};
use crate::format;

use super::super::app::{App, Row, SortKey};
use super::super::keys::KeyAction;
use super::{Theme, ellipsize_middle};

/// A symbol and a word for a state, so it reads without colour; a pending retry counts down
/// and a download with no byte for a while says so instead of "downloading 0 B/s".
pub fn state_label(row: &Row, now: Instant) -> String {
    if let Some(pending) = super::super::app::intent_label(row) {
        return pending.into();
    }
    match row.state {
        ItemState::Queued => "· queued".into(),
        ItemState::Connecting => match (&row.retry, row.retry_in(now)) {
            (Some(r), Some(left)) if !left.is_zero() => {
                format!("↻ retry {} in {}", r.attempt, format::duration(left.max(Duration::from_secs(1))))
            }
            (Some(r), _) => format!("↻ retry {}", r.attempt),
            (None, _) => "⇄ connecting".into(),
        },
        ItemState::Downloading => match row.stalled_for(now) {
            Some(quiet) => format!("! stalled {}", format::duration(quiet)),
            None => "↓ downloading".into(),
        },
        ItemState::Paused => "‖ paused".into(),
        // "done" whether this session fetched the file or found it already there (the details
        // say which): a restored item is not "had it" just because an earlier session ran.
        ItemState::Done if row.missing => "? missing".into(),
        ItemState::Done => "✓ done".into(),
        ItemState::Failed => "✗ failed".into(),
        ItemState::Cancelled => "⊘ cancelled".into(),
    }
}

/// Widths of the size, rate and ETA columns: wide enough for any value `format` makes
/// (`1023 KiB`, `1023 KiB/s`, `23h59m`), so a number is never cut.
const SIZE_W: u16 = 9;
const RATE_W: u16 = 10;
const ETA_W: u16 = 7;
/// The progress column without a bar: `100%` or what arrived of an unknown size (`17.6 MiB`).
const PROGRESS_W: u16 = 8;
/// The bar's length range; the percentage after it takes 5 more cells.
const BAR_MIN: u16 = 4;
const BAR_MAX: u16 = 12;
/// The name keeps at least this much before a column is dropped.
const NAME_MIN: u16 = 12;
/// Room beyond the minimum goes to the name up to this, before the bar grows.
const NAME_COMFORT: u16 = 20;
/// Under a failure or a retry the name gives its room to the reason, down to this.
const NAME_BESIDE_REASON: usize = 24;

/// Which columns fit and how wide each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    state: u16,
    name: u16,
    /// Bar length; 0 when the bar was dropped (the percentage stays).
    bar: u16,
    rate: bool,
    eta: bool,
}

impl Columns {
    /// Fits the columns into `width` cells: when they do not fit, whole columns go, ETA first,
    /// then the rate, then the bar, and the name is shortened; a number is never cut.
    fn fit(width: u16, state: u16) -> Columns {
        for (rate, eta, bar) in
            [(true, true, true), (true, false, true), (false, false, true), (false, false, false)]
        {
            // Every column but the name, with the one-cell gap before each after the first.
            let mut fixed = state + 1 + SIZE_W + 1 + if bar { BAR_MIN + 5 } else { PROGRESS_W } + 1;
            fixed += if rate { RATE_W + 1 } else { 0 } + if eta { ETA_W + 1 } else { 0 };
            if width >= fixed + NAME_MIN {
                let spare = width - fixed - NAME_MIN;
                // The name grows first to a readable length, then the bar to its longest,
                // then the name takes the rest.
                let first = spare.min(NAME_COMFORT - NAME_MIN);
                let grow = if bar { (spare - first).min(BAR_MAX - BAR_MIN) } else { 0 };
                let bar = if bar { BAR_MIN + grow } else { 0 };
                return Columns { state, name: NAME_MIN + spare - grow, bar, rate, eta };
            }
        }
        let name = width.saturating_sub(state + SIZE_W + PROGRESS_W + 3);
        Columns { state, name, bar: 0, rate: false, eta: false }
    }

    fn progress(&self) -> u16 {
        if self.bar > 0 { self.bar + 5 } else { PROGRESS_W }
    }

    fn constraints(&self) -> Vec<Constraint> {
        let mut c = vec![
            Constraint::Length(self.state),
            Constraint::Length(self.name),
            Constraint::Length(SIZE_W),
            Constraint::Length(self.progress()),
        ];
        if self.rate {
            c.push(Constraint::Length(RATE_W));
        }
        if self.eta {
            c.push(Constraint::Length(ETA_W));
        }
        c
    }

    /// Where the reason of a failure starts, relative to the table: after the name.
    fn name_x(&self) -> u16 {
        self.state + 1
    }
}

pub(super) fn draw_table(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let shown = app.view().len();
    let mut title = vec![Span::styled(
        format!(
            " Transfers {}",
            if shown == app.len() { shown.to_string() } else { format!("{shown}/{}", app.len()) }
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if app.sort() != SortKey::Queue {
        title.push(Span::styled(format!("  sorted by {}", app.sort().label()), theme.fg(Color::Cyan)));
    }
    if !app.filter().is_empty() {
        title
            .push(Span::styled(format!("  filter: {} (Esc clears) ", app.filter()), theme.fg(Color::Yellow)));
    } else {
        title.push(Span::raw(" "));
    }
    let block = Block::default().borders(Borders::TOP).border_style(theme.dim()).title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    app.table_body = body;
    if app.is_empty() {
        let hint = vec![
            Line::from(""),
            Line::from("No downloads yet."),
            Line::from(""),
            Line::from(vec![
                Span::raw("Paste URLs anywhere, or press "),
                Span::styled(app.keymap.short(KeyAction::Add).unwrap_or_default(), theme.key()),
                Span::raw(" to type them. "),
                Span::styled(app.keymap.short(KeyAction::Help).unwrap_or_default(), theme.key()),
                Span::raw(" lists every key."),
            ]),
        ];
        frame.render_widget(Paragraph::new(hint).alignment(Alignment::Center), inner);
        return;
    }
    // Keep the selection on screen, moving the window as little as possible.
    let height = usize::from(body.height);
    let selected = app.selected_index();
    if selected < app.offset {
        app.offset = selected;
    } else if selected >= app.offset + height {
        app.offset = selected + 1 - height;
    }
    app.offset = app.offset.min(shown.saturating_sub(height));
    let end = (app.offset + height).min(shown);
    let now = app.now;
    let labels: Vec<(ItemId, String)> = app.view()[app.offset..end]
        .iter()
        .filter_map(|id| app.row(*id).map(|r| (*id, state_label(r, now))))
        .collect();
    // The state column is as wide as its longest visible label ("↻ retry 2 in 4s").
    let state_w = labels.iter().map(|(_, l)| l.chars().count()).max().unwrap_or(0).max(5) as u16;
    // After the two-cell selection marker.
    let cols = Columns::fit(inner.width.saturating_sub(2), state_w);
    let mut names = vec!["State", "Name", "Size", "Progress"];
    names.extend(cols.rate.then_some("Rate"));
    names.extend(cols.eta.then_some("ETA"));
    let marked = match app.sort() {
        SortKey::Queue => None,
        SortKey::State => Some(0),
        SortKey::Name => Some(1),
        SortKey::Progress => Some(3),
        SortKey::Rate => Some(4).filter(|_| cols.rate),
    };
    let names: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| if Some(i) == marked { format!("{n}▼") } else { (*n).to_string() })
        .collect();
    let header =
        TableRow::new(names).style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows: Vec<TableRow> = labels
        .into_iter()
        .filter_map(|(id, label)| app.row(id).map(|r| (r, label)))
        .map(|(row, label)| table_row(row, label, now, app.item_defaults, &cols, theme))
        .collect();
    let highlight = if theme.color {
        Style::default().bg(Color::Blue).fg(Color::White).add_modifier(Modifier::BOLD)
    } else {
        Style::default().add_modifier(Modifier::REVERSED)
    };
    let table = Table::new(rows, cols.constraints())
        .flex(Flex::Start)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(highlight)
        .highlight_symbol("▶ ")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = ratatui::widgets::TableState::default().with_selected(Some(selected - app.offset));
    frame.render_stateful_widget(table, inner, &mut state);
    // A failure or a pending retry says why right in the list, from just after the name
    // (shortened for it) across the cells it leaves empty: a table cell cannot span columns,
    // so it is drawn on top.
    for (i, id) in app.view()[app.offset..end].iter().enumerate() {
        let Some(row) = app.row(*id) else { continue };
        let Some(reason) = row.trouble() else { continue };
        let reason = without_url(reason, row);
        let mut style = theme.state(row.state);
        if app.offset + i == selected {
            style = style.patch(highlight);
        }
        let name_len = trouble_name(row, cols.name).chars().count() as u16;
        let x = inner.x + 2 + cols.name_x() + name_len + 2;
        let width = inner.right().saturating_sub(x);
        let rect = Rect::new(x, body.y + i as u16, width, 1);
        // Cut at the end: an error's first words ("server answered 404") matter most.
        // Padded to the edge: the cells it covers may hold a size or the bytes so far.
        let shown = if reason.chars().count() > usize::from(width) {
            let mut cut: String = reason.chars().take(usize::from(width).saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            format!("{reason:<0$}", usize::from(width))
        };
        frame.render_widget(Paragraph::new(Span::styled(shown, style)), rect);
    }
}

/// The reason without the item's own URL: the row already says which item it is, so
/// "404 Not Found for https://…/x.pdf" reads "404 Not Found".
fn without_url(reason: &str, row: &Row) -> String {
    let mut text = reason.to_string();
    for url in std::iter::once(&row.url).chain(row.final_url.as_ref()).filter(|u| !u.is_empty()) {
        text = text.replace(&format!(" for {url}"), "").replace(&format!(" {url}"), "");
    }
    text
}

/// The name of a row with a reason to show, shortened to leave the reason room. A checksum
/// mismatch adds only the mark's symbol (`✗`): the reason after it says "checksum mismatch".
fn trouble_name(row: &Row, name_w: u16) -> String {
    let mismatch = row.checksum.as_ref().is_some_and(|c| c.state == ChecksumState::Mismatch);
    let mark = if mismatch { " ✗" } else { "" };
    let room = usize::from(name_w).min(NAME_BESIDE_REASON).saturating_sub(mark.chars().count());
    format!("{}{mark}", ellipsize_middle(row.label(), room))
}

/// The name keeps at least this many cells before the checksum mark gets shorter.
const NAME_BESIDE_MARK: usize = 8;

/// What the name cell adds for an item's checksum (`format::checksum_mark`): the whole mark
/// (`✓ md5 weak`), else without `weak`, else only its symbol, whichever first leaves the name
/// `NAME_BESIDE_MARK` cells of `room`; `None` when no checksum was available. In the name
/// cell, like the limits badge, so the number columns never give up a cell for it.
fn checksum_badge(row: &Row, room: usize) -> Option<String> {
    let mark = format::checksum_mark(row.checksum.as_ref()?);
    let shorter = [mark.trim_end_matches(" weak"), mark.split(' ').next().unwrap_or_default()];
    let fits = |m: &str| room.saturating_sub(m.chars().count() + 1) >= NAME_BESIDE_MARK;
    let chosen = std::iter::once(mark.as_str()).chain(shorter).find(|m| fits(m)).unwrap_or(shorter[1]);
    Some(format!(" {chosen}"))
}

/// The mark's colour: green once verified, red for a mismatch, dim before the check.
fn checksum_style(row: &Row, theme: &Theme) -> Style {
    match row.checksum.as_ref().map(|c| (c.state, c.weak)) {
        Some((ChecksumState::Verified, false)) => theme.fg(Color::Green),
        Some((ChecksumState::Verified, true)) => theme.fg(Color::Yellow),
        Some((ChecksumState::Mismatch, _)) => theme.fg(Color::Red),
        _ => theme.dim(),
    }
}

/// What the name cell adds when an item's own limits differ from the defaults every item
/// starts with: `×4` connections, `≤1M` bytes a second.
fn limits_badge(row: &Row, defaults: ItemLimits) -> String {
    let mut badge = String::new();
    if row.limits.connections != defaults.connections {
        badge.push_str(&format!(" ×{}", row.limits.connections));
    }
    if row.limits.rate_limit != defaults.rate_limit {
        match row.limits.rate_limit {
            Some(l) => badge.push_str(&format!(" ≤{}", format::size_spec(l))),
            None => badge.push_str(" ≤∞"),
        }
    }
    badge
}

fn table_row<'a>(
    row: &'a Row,
    label: String,
    now: Instant,
    defaults: ItemLimits,
    cols: &Columns,
    theme: &Theme,
) -> TableRow<'a> {
    let size = match row.total {
        Some(t) => format::bytes(t),
        None if row.state == ItemState::Downloading => "unknown".into(),
        None => String::new(),
    };
    let bar_w = usize::from(cols.bar);
    let progress = match row.total {
        Some(t) => {
            let frac = if t > 0 { (row.bytes as f64 / t as f64).clamp(0.0, 1.0) } else { 1.0 };
            let percent = format!("{:>3}%", (frac * 100.0).floor() as u64);
            if bar_w > 0 { format!("{} {percent}", bar(frac, bar_w)) } else { percent }
        }
        // No size: show what has arrived and no made-up percentage ("so far" when it fits:
        // a right-aligned cell too narrow for its text would lose the number's first digits).
        None if row.bytes > 0 => {
            let so_far = format!("{} so far", format::bytes(row.bytes));
            if so_far.chars().count() <= usize::from(cols.progress()) {
                so_far
            } else {
                format::bytes(row.bytes)
            }
        }
        None => String::new(),
    };
    // A stalled download's rate is the slope of bytes that stopped coming: not shown.
    let stalled = row.stalled_for(now).is_some();
    let rate =
        if row.state == ItemState::Downloading && !stalled { format::rate(row.rate) } else { String::new() };
    let eta = row.eta().filter(|_| !stalled).map(format::duration).unwrap_or_default();
    let style = theme.state(row.state);
    let name = if row.trouble().is_some() {
        Line::from(trouble_name(row, cols.name))
    } else {
        let badge = limits_badge(row, defaults);
        let room = usize::from(cols.name).saturating_sub(badge.chars().count());
        let mark = checksum_badge(row, room).unwrap_or_default();
        let room = room.saturating_sub(mark.chars().count());
        Line::from(vec![
            Span::raw(ellipsize_middle(row.label(), room)),
            Span::styled(badge, theme.fg(Color::Yellow)),
            Span::styled(mark, checksum_style(row, theme)),
        ])
    };
    let mut cells = vec![
        Cell::from(label).style(style),
        Cell::from(name),
        Cell::from(Line::from(size).alignment(Alignment::Right)),
        Cell::from(Line::from(progress).alignment(Alignment::Right))
            .style(if row.state == ItemState::Failed { style } else { theme.fg(Color::Cyan) }),
    ];
    if cols.rate {
        cells.push(Cell::from(Line::from(rate).alignment(Alignment::Right)));
    }
    if cols.eta {
        cells.push(Cell::from(Line::from(eta).alignment(Alignment::Right)));
    }
    TableRow::new(cells)
}

/// A bar of `width` cells with eighth-cell resolution.
pub(super) fn bar(frac: f64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (frac * width as f64 * 8.0).round() as usize;
    let full = (eighths / 8).min(width);
    let mut s = "█".repeat(full);
    if full < width {
        let part = eighths % 8;
        s.push(if part == 0 { '░' } else { PARTS[part] });
        s.push_str(&"░".repeat(width - full - 1));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whole columns go as the width shrinks, ETA first, then the rate, then the bar; the
    /// widths always add up to the room, so ratatui never squeezes a number's cell.
    #[test]
    fn columns_drop_eta_then_rate_then_bar_and_always_fit() {
        let fits = |width: u16, state: u16| {
            let c = Columns::fit(width, state);
            let used: u16 =
                c.constraints().iter().map(|k| if let Constraint::Length(n) = k { *n } else { 0 }).sum();
            let gaps = c.constraints().len() as u16 - 1;
            assert!(used + gaps <= width, "{width}: {c:?}");
            (c.eta, c.rate, c.bar > 0, c.name)
        };
        assert_eq!(fits(118, 13), (true, true, true, 57));
        assert_eq!(fits(65, 13), (true, true, true, 12));
        assert_eq!(fits(64, 13), (false, true, true, 19));
        assert_eq!(fits(57, 13), (false, true, true, 12));
        assert_eq!(fits(56, 13), (false, false, true, 20));
        assert_eq!(fits(46, 13), (false, false, true, 12));
        assert_eq!(fits(45, 13), (false, false, false, 12));
        assert_eq!(fits(48, 17), (false, false, false, 11));
        assert_eq!(fits(40, 17), (false, false, false, 3));
    }

    #[test]
    fn bars_have_eighths() {
        assert_eq!(bar(0.0, 4), "░░░░");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██░░");
        assert_eq!(bar(0.53, 4), "██▏░");
    }
}
