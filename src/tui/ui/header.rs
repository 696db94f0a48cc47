//! The header: workers and total rate, counts by state (every state that has items), the
//! whole queue's progress bar, bytes and ETA, where files are saved and the free space there,
//! and the last minute of total rate as a graph with its scale. Part of drawing; depends on ratatui,
//! the app model and `format`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

use crate::format;

use super::super::app::{App, Counts};
use super::{Theme, ellipsize_left};

pub(super) fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let c = app.counts();
    // The graph takes what the text leaves, up to one column a second.
    let graph_w = area.width.saturating_sub(54).min(60);
    let [text_area, graph_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(graph_w)]).areas(area);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let sep = Span::styled("  ", theme.dim());
    let line1 = Line::from(vec![
        Span::styled(
            " dlm ",
            theme.fg(Color::Black).bg_if(theme.color, Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        sep.clone(),
        Span::raw("workers "),
        Span::styled(format!("{}/{}", c.running, app.cap), bold),
        sep.clone(),
        Span::styled(
            format!("↓ {}", format::rate(app.total_rate())),
            theme.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        // The global rate limit sits next to the rate it caps.
        Span::styled(
            match app.rate_limit {
                Some(limit) => format!(" (limit {})", format::rate(limit as f64)),
                None => String::new(),
            },
            theme.fg(Color::Yellow),
        ),
        Span::styled(
            app.schedule.as_ref().map(|s| format!("  {s}")).unwrap_or_default(),
            theme.fg(Color::Yellow),
        ),
    ]);
    let count = |n: usize, what: &'static str, style: Style| {
        vec![
            Span::styled(n.to_string(), if n > 0 { style } else { Style::default() }),
            Span::raw(format!(" {what}  ")),
        ]
    };
    let mut spans = vec![Span::raw(" ")];
    spans.extend(count(c.queued, "queued", bold));
    spans.extend(count(c.running, "running", theme.fg(Color::Cyan)));
    // Paused and cancelled only when there are some, so the line fits 50 columns.
    if c.paused > 0 {
        spans.extend(count(c.paused, "paused", theme.fg(Color::Magenta)));
    }
    spans.extend(count(c.done, "done", theme.fg(Color::Green)));
    spans.extend(count(c.failed, "failed", theme.fg(Color::Red).add_modifier(Modifier::BOLD)));
    if c.cancelled > 0 {
        spans.extend(count(c.cancelled, "cancelled", theme.dim()));
    }
    let line2 = Line::from(spans);
    let line3 = Line::from(totals_line(app, &c, usize::from(text_area.width), theme));
    // Said on the first screen, so nobody has to guess where the first download went.
    let dir = app.download_dir.display().to_string();
    let free = match app.free_space {
        Some(f) => format!(" ({} free)", format::bytes(f)),
        None => String::new(),
    };
    let room = usize::from(text_area.width).saturating_sub(" saving to ".len() + free.chars().count());
    let line4 = Line::from(vec![
        Span::styled(" saving to ", theme.dim()),
        Span::raw(ellipsize_left(&dir, room)),
        Span::styled(free, theme.dim()),
    ]);
    frame.render_widget(Paragraph::new(vec![line1, line2, line3, line4]), text_area);
    if graph_w >= 8 {
        let data = squeeze(&app.history.iter().copied().collect::<Vec<_>>(), usize::from(graph_w));
        // The scale: the top of the graph is its highest point.
        let top = data.iter().copied().max().unwrap_or(0);
        // Shortened as a whole, never cut: "max 16.0 MiB/s", "16.0 MiB/s", or nothing.
        let top_rate = format::rate(top as f64);
        let room = usize::from(graph_w).saturating_sub(1);
        let scale = [format!("max {top_rate}"), top_rate, String::new()]
            .into_iter()
            .find(|s| s.chars().count() <= room)
            .unwrap_or_default();
        let scale = Line::from(scale).right_aligned();
        let graph = Sparkline::default()
            .data(&data)
            .max(top.max(1))
            .style(theme.fg(Color::Cyan))
            .bar_set(symbols::bar::NINE_LEVELS)
            .block(Block::default().borders(Borders::LEFT).border_style(theme.dim()).title(scale));
        frame.render_widget(graph, graph_area);
    }
}

/// The whole queue (cancelled items aside): a bar and a percentage when every size is known,
/// the bytes, and the time left at the current total rate.
fn totals_line(app: &App, c: &Counts, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    let known = c.unknown_sizes == 0 && c.total > 0;
    let bytes = format!(
        "{} of {}{}",
        format::bytes(c.bytes),
        format::bytes(c.total),
        if c.unknown_sizes > 0 { "+" } else { "" }
    );
    let left = c.total.saturating_sub(c.bytes);
    let eta = format::eta(left, app.total_rate())
        .filter(|_| left > 0)
        .map(|d| format!("  {} left", format::duration(d)))
        .unwrap_or_default();
    let mut spans = vec![Span::raw(" ")];
    if known {
        let frac = (c.bytes as f64 / c.total as f64).clamp(0.0, 1.0);
        let percent = format!(" {:>3}%  ", (frac * 100.0).floor() as u64);
        // The bar takes what the numbers leave, within reason; it goes before a number does.
        // One cell for the margin before and one before the graph's border.
        let used = 2 + percent.len() + bytes.chars().count() + eta.chars().count();
        let bar_w = width.saturating_sub(used).min(20);
        if bar_w >= 4 {
            spans.push(Span::styled(super::table::bar(frac, bar_w), theme.fg(Color::Cyan)));
        }
        spans.push(Span::raw(percent));
    }
    spans.push(Span::raw(bytes));
    spans.push(Span::styled(eta, theme.fg(Color::Cyan)));
    spans
}

/// Fits a minute of points into the graph's columns (one less than its width: the border) by
/// averaging neighbours, so the graph always shows the whole minute however narrow it is.
fn squeeze(points: &[u64], width: usize) -> Vec<u64> {
    let cols = width.saturating_sub(1).max(1);
    if points.len() <= cols {
        return points.to_vec();
    }
    (0..cols)
        .map(|i| {
            let (a, b) =
                (i * points.len() / cols, ((i + 1) * points.len() / cols).max(i * points.len() / cols + 1));
            let chunk = &points[a..b.min(points.len())];
            chunk.iter().sum::<u64>() / chunk.len().max(1) as u64
        })
        .collect()
}

trait StyleExt {
    fn bg_if(self, cond: bool, c: Color) -> Self;
}

impl StyleExt for Style {
    fn bg_if(self, cond: bool, c: Color) -> Self {
        if cond { self.bg(c) } else { self.add_modifier(Modifier::REVERSED) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeeze_keeps_a_whole_minute() {
        let pts: Vec<u64> = (0..60).collect();
        assert_eq!(squeeze(&pts, 80).len(), 60);
        for w in [8, 26, 31, 45, 60] {
            let s = squeeze(&pts, w);
            assert_eq!(s.len(), w - 1);
            assert!(s[0] < 5 && *s.last().unwrap() >= 55, "{w}: {s:?}");
        }
    }
}
