//! Drawing the URL box (`u`) and the signed link's expiry line of the details pane. Part of
//! drawing; depends on ratatui, the app model and `format`.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::engine::ItemId;
use crate::format;

use super::super::app::App;
use super::{Theme, centered, ellipsize_middle};

/// `expires in 4m30s`, or `expired`, for a signed link that ends at `at`.
pub(super) fn link_expiry(at: SystemTime, now: SystemTime) -> String {
    match at.duration_since(now) {
        Ok(left) if !left.is_zero() => format!("expires in {}", format::duration(left)),
        _ => "expired".to_string(),
    }
}

pub(super) fn draw_url_box(frame: &mut Frame, area: Rect, app: &App, id: ItemId, theme: &Theme) {
    let name = app.row(id).map_or("?", |r| r.label());
    let rect = centered(area, 100, 5);
    let block = Block::bordered()
        .title(format!(" New URL: {} ", ellipsize_middle(name, 50)))
        .title_bottom(Line::from(" Enter continues on it · Esc closes ").alignment(Alignment::Right))
        .border_style(theme.fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let [input, _, hint] = Layout::vertical([Constraint::Length(1); 3]).areas(inner);
    let width = usize::from(input.width).saturating_sub(1);
    let (col0, _) = app.url_input.scroll_for(width, 1);
    let text: String = app.url_input.text().chars().skip(col0).take(width).collect();
    frame.render_widget(Paragraph::new(Line::from(Span::raw(text))), input);
    let (_, col) = app.url_input.cursor();
    frame.set_cursor_position(Position::new(input.x + (col - col0) as u16, input.y));
    frame.render_widget(
        Paragraph::new(Span::styled("the same file from a fresh link; what is on disk is kept", theme.dim())),
        hint,
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_expiry_reads_as_time_left_or_expired() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(link_expiry(now + Duration::from_secs(270), now), "expires in 4m30s");
        assert_eq!(link_expiry(now, now), "expired");
        assert_eq!(link_expiry(now - Duration::from_secs(5), now), "expired");
    }
}
