//! The transfers table: one line per visible item (state, name with its own limits, size,
//! progress bar, rate, ETA), the selection kept on screen, and a failure's or pending retry's
//! reason written across the cells it leaves empty. Part of drawing; depends on ratatui, the
//! app model and `format`.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table};

use crate::engine::{ItemLimits, ItemState};
use crate::format;

use super::super::app::{App, Row};
use super::super::keys::KeyAction;
use super::{Theme, ellipsize_middle};

/// A symbol and a word for a state, so it reads without colour.
pub fn state_label(row: &Row) -> String {
    if let Some(pending) = super::super::app::intent_label(row) {
        return pending.into();
    }
    match row.state {
        ItemState::Queued => "· queued".into(),
        ItemState::Connecting => match &row.retry {
            Some(r) => format!("↻ retry {}", r.attempt),
            None => "⇄ connecting".into(),
        },
        ItemState::Downloading => "↓ downloading".into(),
        ItemState::Paused => "‖ paused".into(),
        ItemState::Done if row.skipped => "✓ had it".into(),
        ItemState::Done => "✓ done".into(),
        ItemState::Failed => "✗ failed".into(),
        ItemState::Cancelled => "⊘ cancelled".into(),
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
    let widths = [
        Constraint::Length(13),
        Constraint::Min(12),
        Constraint::Length(9),
        Constraint::Length(17),
        Constraint::Length(10),
        Constraint::Length(7),
    ];
    let header = TableRow::new(["State", "Name", "Size", "Progress", "Rate", "ETA"])
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    // Column widths decide the bar's length and where names are shortened; computed the way
    // the table lays them out (after the two-cell selection marker).
    let columns = Layout::horizontal(widths).flex(Flex::Start).spacing(1).split(Rect::new(
        0,
        0,
        inner.width.saturating_sub(2),
        1,
    ));
    let name_w = usize::from(columns[1].width);
    let bar_w = usize::from(columns[3].width).saturating_sub(5);
    let end = (app.offset + height).min(shown);
    let rows: Vec<TableRow> = app.view()[app.offset..end]
        .iter()
        .filter_map(|id| app.row(*id))
        .map(|row| table_row(row, app.item_defaults, name_w, bar_w, theme))
        .collect();
    let highlight = if theme.color {
        Style::default().bg(Color::Blue).fg(Color::White).add_modifier(Modifier::BOLD)
    } else {
        Style::default().add_modifier(Modifier::REVERSED)
    };
    let table = Table::new(rows, widths)
        .flex(Flex::Start)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(highlight)
        .highlight_symbol("▶ ")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = ratatui::widgets::TableState::default().with_selected(Some(selected - app.offset));
    frame.render_stateful_widget(table, inner, &mut state);
    // A failure or a pending retry says why right in the list, across the progress, rate and
    // ETA cells it leaves empty (a table cell cannot span columns, so it is drawn on top).
    let x = inner.x + 2 + columns[3].x;
    let width = inner.right().saturating_sub(x);
    for (i, id) in app.view()[app.offset..end].iter().enumerate() {
        let Some(row) = app.row(*id) else { continue };
        let Some(reason) = row.trouble().map(str::to_string) else { continue };
        let mut style = theme.state(row.state);
        if app.offset + i == selected {
            style = style.patch(highlight);
        }
        let rect = Rect::new(x, body.y + i as u16, width, 1);
        // Cut at the end: an error's first words ("server answered 404") matter most.
        let shown = if reason.chars().count() > usize::from(width) {
            let mut cut: String = reason.chars().take(usize::from(width).saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            reason
        };
        frame.render_widget(Paragraph::new(Span::styled(shown, style)), rect);
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
    defaults: ItemLimits,
    name_w: usize,
    bar_w: usize,
    theme: &Theme,
) -> TableRow<'a> {
    let size = match row.total {
        Some(t) => format::bytes(t),
        None if row.state == ItemState::Downloading => "unknown".into(),
        None => String::new(),
    };
    let progress = match row.total {
        Some(t) if t > 0 => {
            let frac = (row.bytes as f64 / t as f64).clamp(0.0, 1.0);
            format!("{} {:>3}%", bar(frac, bar_w), (frac * 100.0).floor() as u64)
        }
        Some(_) => format!("{} 100%", bar(1.0, bar_w)),
        // No size: show what has arrived and no made-up percentage.
        None if row.bytes > 0 => format!("{} so far", format::bytes(row.bytes)),
        None => String::new(),
    };
    let rate = if row.state == ItemState::Downloading { format::rate(row.rate) } else { String::new() };
    let eta = row.eta().map(format::duration).unwrap_or_default();
    let style = theme.state(row.state);
    let badge = limits_badge(row, defaults);
    let room = name_w.saturating_sub(badge.chars().count());
    let name = Line::from(vec![
        Span::raw(ellipsize_middle(row.label(), room)),
        Span::styled(badge, theme.fg(Color::Yellow)),
    ]);
    TableRow::new(vec![
        Cell::from(state_label(row)).style(style),
        Cell::from(name),
        Cell::from(Line::from(size).alignment(Alignment::Right)),
        Cell::from(progress).style(if row.state == ItemState::Failed {
            style
        } else {
            theme.fg(Color::Cyan)
        }),
        Cell::from(Line::from(rate).alignment(Alignment::Right)),
        Cell::from(Line::from(eta).alignment(Alignment::Right)),
    ])
}

/// A bar of `width` cells with eighth-cell resolution.
fn bar(frac: f64, width: usize) -> String {
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

    #[test]
    fn bars_have_eighths() {
        assert_eq!(bar(0.0, 4), "░░░░");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██░░");
        assert_eq!(bar(0.53, 4), "██▏░");
    }
}
