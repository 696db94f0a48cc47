//! The header: workers and total rate, counts by state, bytes of the whole queue and the free
//! space, and the last minute of total rate as a graph. Part of drawing; depends on ratatui,
//! the app model and `format`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

use crate::format;

use super::super::app::App;
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
    if c.paused > 0 {
        spans.extend(count(c.paused, "paused", theme.fg(Color::Magenta)));
    }
    spans.extend(count(c.done, "done", theme.fg(Color::Green)));
    spans.extend(count(c.failed, "failed", theme.fg(Color::Red).add_modifier(Modifier::BOLD)));
    let line2 = Line::from(spans);
    let total = if c.unknown_sizes > 0 {
        format!("{} of {}+", format::bytes(c.bytes), format::bytes(c.total))
    } else {
        format!("{} of {}", format::bytes(c.bytes), format::bytes(c.total))
    };
    let dir = app.download_dir.display().to_string();
    let free = match app.free_space {
        Some(f) => format!("{} free in ", format::bytes(f)),
        None => "saving to ".to_string(),
    };
    let room = usize::from(text_area.width).saturating_sub(total.chars().count() + free.chars().count() + 4);
    let free = format!("{free}{}", ellipsize_left(&dir, room));
    let line3 = Line::from(vec![Span::raw(" "), Span::raw(total), sep, Span::styled(free, theme.dim())]);
    frame.render_widget(Paragraph::new(vec![line1, line2, line3]), text_area);
    if graph_w >= 8 {
        let data = squeeze(&app.history.iter().copied().collect::<Vec<_>>(), usize::from(graph_w));
        let graph = Sparkline::default()
            .data(&data)
            .style(theme.fg(Color::Cyan))
            .bar_set(symbols::bar::NINE_LEVELS)
            .block(Block::default().borders(Borders::LEFT).border_style(theme.dim()));
        frame.render_widget(graph, graph_area);
    }
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
