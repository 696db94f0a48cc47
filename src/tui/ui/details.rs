//! The detail pane of the selected transfer: URLs, file, bytes, the server's answer, limits,
//! the checksum (algorithm, expected digest, source, state), retries, the time spent and the
//! mean rate, and for a failure its reason and, by the kind of error, what to do about it. A
//! value too long for the screen wraps under its own start; the pane grows for what it holds.
//! Part of drawing; depends on ratatui, the app model, the key table and `format`.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::engine::{ChecksumState, ChecksumView, ErrorKind, ItemError, ItemState};
use crate::format;

use super::super::app::App;
use super::super::keys::KeyAction;
use super::Theme;

fn ago(app: &App, at: std::time::Instant) -> String {
    format!("{} ago", format::duration(app.now.saturating_duration_since(at)))
}

/// What the person can do about a failure, by its kind; `retry` is the retry key. `None`
/// when there is nothing to add to the message.
pub(super) fn hint(error: &ItemError, retry: &str) -> Option<String> {
    let text = match (error.kind, error.status) {
        (ErrorKind::DiskFull, _) => {
            format!("free space on the disk, then press {retry}: it continues from the .part")
        }
        (ErrorKind::Permission, _) => format!("make the folder writable, then press {retry}"),
        (ErrorKind::Disk, _) => format!("check the disk and the folder, then press {retry}"),
        (ErrorKind::Name, _) => format!("make room among the names in the folder, then press {retry}"),
        (ErrorKind::Network, _) => format!("the network or the server is down; {retry} tries again"),
        (ErrorKind::Tls, _) => "trust the server's CA with --ca-file (or ca_files in the config)".into(),
        (ErrorKind::Http, Some(401 | 403)) => {
            "the server wants credentials: add the URL again with them".into()
        }
        (ErrorKind::Http, Some(404 | 410)) => "the server has no such file: check the URL".into(),
        (ErrorKind::InvalidUrl, _) => "fix the URL and add it again".into(),
        (ErrorKind::Checksum, _) => {
            format!(
                "press {retry} to fetch the file again from its first byte (the .part is kept until then)"
            )
        }
        _ => return None,
    };
    Some(text)
}

/// The hint for the selected item, if it failed with one: the pane grows a line for it.
pub(super) fn selected_hint(app: &App) -> Option<String> {
    let row = app.selected().filter(|r| r.state == ItemState::Failed)?;
    hint(row.error.as_ref()?, &app.keymap.short(KeyAction::Retry).unwrap_or_else(|| "r".into()))
}

/// The checksum in the pane: algorithm, state and source on one line with the expected digest
/// (shortened), and after a mismatch a second line with what the file has instead.
fn checksum_text(c: &ChecksumView) -> Vec<(&'static str, String)> {
    let weak = if c.weak { " (weak: catches accidents, not tampering)" } else { "" };
    let state = match c.state {
        ChecksumState::Pending => "checked when complete",
        ChecksumState::Verified => "✓ verified",
        ChecksumState::Mismatch => "✗ mismatch",
        ChecksumState::Unverifiable => "? could not be checked",
    };
    let source = format::checksum_source(c.source);
    let expected = format::short_hex(&c.expected);
    match (&c.actual, c.state) {
        (Some(actual), ChecksumState::Mismatch) => vec![
            ("Checksum", format!("{} {state}  ·  from {source}{weak}", c.algo)),
            ("Hashes", format!("expected {expected}  ·  the file has {}", format::short_hex(actual))),
        ],
        _ => vec![("Checksum", format!("{} {expected}  ·  {state}  ·  from {source}{weak}", c.algo))],
    }
}

/// The pane's content for a screen `width` columns wide, drawn by `draw_details`; its
/// `height` is known before the screen is laid out.
pub(super) struct Pane {
    title: Span<'static>,
    lines: Vec<Line<'static>>,
}

impl Pane {
    /// Rows the pane takes: at least `min` (so the table does not jump as the selection moves
    /// between items with more or fewer lines), more when an item has more to say (advice, a
    /// checksum, a value that wraps).
    pub(super) fn height(&self, min: u16) -> u16 {
        min.max(u16::try_from(self.lines.len() + 1).unwrap_or(u16::MAX))
    }
}

pub(super) fn draw_details(frame: &mut Frame, area: Rect, pane: Pane, theme: &Theme) {
    let block = Block::default().borders(Borders::TOP).border_style(theme.dim()).title(pane.title);
    frame.render_widget(Paragraph::new(pane.lines).block(block), area);
}

/// What the pane shows of the selected item, its long values wrapped to `width`.
pub(super) fn pane(app: &App, theme: &Theme, width: u16) -> Pane {
    let Some(row) = app.selected() else {
        return Pane { title: Span::raw(" Details "), lines: vec![Line::raw(" Nothing selected.")] };
    };
    let title = Span::styled(format!(" Details {} ", row.id), Style::default().add_modifier(Modifier::BOLD));
    let label = |s: &'static str| Span::styled(format!(" {s:<w$}", w = LABEL_WIDTH - 1), theme.dim());
    let mut lines = vec![Line::from(vec![label("URL"), Span::raw(row.url.clone())])];
    if let Some(at) = row.link_expires {
        lines.push(Line::from(vec![
            label("Link"),
            Span::raw(super::url_box::link_expiry(at, SystemTime::now())),
        ]));
    }
    if let Some(final_url) = row.final_url.as_ref().filter(|u| **u != row.url) {
        lines.push(Line::from(vec![label("Final URL"), Span::raw(final_url.clone())]));
    }
    lines.push(Line::from(vec![
        label("File"),
        Span::raw(
            row.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(not named yet)".into()),
        ),
    ]));
    let bytes = match row.total {
        Some(t) if t > 0 => format!(
            "{} of {} ({:.1}%)",
            format::bytes(row.bytes),
            format::bytes(t),
            row.bytes as f64 * 100.0 / t as f64
        ),
        Some(t) => format!("{} of {}", format::bytes(row.bytes), format::bytes(t)),
        None => format!("{} of unknown size", format::bytes(row.bytes)),
    };
    lines.push(Line::from(vec![label("Bytes"), Span::raw(format!("{bytes} ({} bytes)", row.bytes))]));
    let server = match row.status {
        Some(status) => format!(
            "HTTP {status}  ·  resume {}",
            if row.resumable { "supported" } else { "not supported (restarts from zero)" }
        ),
        None => "no answer yet".into(),
    };
    lines.push(Line::from(vec![label("Server"), Span::raw(server)]));
    let limit = row
        .limits
        .rate_limit
        .map_or_else(|| "no rate limit".to_string(), |l| format!("at most {}", format::rate(l as f64)));
    let conns = match (row.limits.connections, &row.connections) {
        // The autopilot's own words for where it stands ("4 conns — +2 gave +95 %").
        (crate::engine::AUTO_CONNECTIONS, Some(note)) => format!("auto: {}", note.reason),
        (crate::engine::AUTO_CONNECTIONS, None) => "connections chosen automatically".to_string(),
        (1, _) => "1 connection".to_string(),
        (n, Some(note)) => format!("{} of {n} connections", note.active),
        (n, None) => format!("up to {n} connections"),
    };
    let keys = [KeyAction::ItemRateLimit, KeyAction::ConnectionsUp, KeyAction::ConnectionsDown]
        .map(|a| app.keymap.short(a).unwrap_or_default());
    lines.push(Line::from(vec![
        label("Limits"),
        Span::raw(format!("{limit}  ·  {conns}")),
        Span::styled(format!("  ({} limit, {}/{} connections)", keys[0], keys[1], keys[2]), theme.dim()),
    ]));
    if let Some(rule) = &row.rule {
        lines.push(Line::from(vec![label("Rule"), Span::raw(rule.clone())]));
    }
    if let Some(c) = &row.checksum {
        let style = match c.state {
            ChecksumState::Verified => theme.fg(Color::Green),
            ChecksumState::Mismatch => theme.fg(Color::Red),
            _ => Style::default(),
        };
        for (name, text) in checksum_text(c) {
            lines.push(Line::from(vec![label(name), Span::styled(text, style)]));
        }
    }
    let retries = match (&row.retry, row.error_at) {
        (Some(r), Some(at)) => {
            let left = r.delay.saturating_sub(app.now.saturating_duration_since(at));
            format!("{} so far; next attempt in {}", row.retries, format::duration(left))
        }
        _ => format!("{} so far", row.retries),
    };
    lines.push(Line::from(vec![label("Retries"), Span::raw(retries)]));
    let time = match row.elapsed(app.now) {
        Some((spent, mean)) => {
            format!("{} elapsed  ·  mean {}", format::duration(spent), format::rate(mean))
        }
        None if row.state == ItemState::Done && row.skipped => "already on disk; nothing fetched".into(),
        None => "not started in this session".into(),
    };
    lines.push(Line::from(vec![label("Time"), Span::raw(time)]));
    // Said before the error, whose message may wrap: what to do matters most.
    if let Some(hint) = selected_hint(app) {
        lines.push(Line::from(vec![label("What now"), Span::styled(hint, theme.fg(Color::Yellow))]));
    }
    if let (Some(trouble), Some(at)) = (row.trouble(), row.error_at) {
        let what = if row.state == ItemState::Failed { "Error" } else { "Last error" };
        lines.push(Line::from(vec![
            label(what),
            Span::styled(format!("{}: ", ago(app, at)), theme.dim()),
            Span::styled(trouble.to_string(), theme.fg(Color::Red)),
        ]));
    }
    // A long value (an error naming two digests, a long URL) goes on under its own start, not
    // under the labels.
    let lines = lines.into_iter().flat_map(|line| hang(line, usize::from(width), LABEL_WIDTH)).collect();
    Pane { title, lines }
}

/// Columns a label takes (`" Label     "`).
const LABEL_WIDTH: usize = 11;

/// Breaks `line` into lines of at most `width` columns at spaces (a word longer than a line is
/// cut where the line ends), each after the first indented by `indent` columns, so that what
/// wraps reads under the value it continues rather than under the labels.
fn hang(line: Line<'static>, width: usize, indent: usize) -> Vec<Line<'static>> {
    if line.width() <= width || width <= indent + 1 {
        return vec![line];
    }
    let mut out = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in line.spans {
        let style = span.style;
        for token in words_and_spaces(&span.content) {
            let mut token = token.to_string();
            while !token.is_empty() {
                let w = Span::raw(token.as_str()).width();
                if used + w <= width {
                    current.push(Span::styled(std::mem::take(&mut token), style));
                    used += w;
                } else if token.trim().is_empty() {
                    // Spaces where a line breaks are dropped.
                    token.clear();
                } else {
                    if (used <= indent || w > width - indent) && used < width {
                        // A word no line can hold: what fits stays here.
                        let (head, tail) = split_at_width(&token, width - used);
                        current.push(Span::styled(head, style));
                        token = tail;
                    }
                    out.push(Line::from(std::mem::take(&mut current)));
                    current.push(Span::raw(" ".repeat(indent)));
                    used = indent;
                }
            }
        }
    }
    out.push(Line::from(current));
    out
}

/// `text` cut into runs of spaces and runs of anything else, in order.
fn words_and_spaces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices().skip(1) {
        let before = text[..i].chars().next_back().is_some_and(char::is_whitespace);
        if before != c.is_whitespace() {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The longest start of `text` at most `room` columns wide (at least one character), and the rest.
fn split_at_width(text: &str, room: usize) -> (String, String) {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let w = Span::raw(c.to_string()).width();
        if used + w > room && i > 0 {
            return (text[..i].to_string(), text[i..].to_string());
        }
        used += w;
    }
    (text.to_string(), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn a_long_value_wraps_at_spaces_under_its_own_start() {
        let line = Line::from(vec![
            Span::raw(" Error     "),
            Span::raw("1s ago: "),
            Span::styled(
                "checksum mismatch: the file has sha256 9f1c, not 3a7b",
                Style::default().fg(Color::Red),
            ),
        ]);
        let lines = hang(line, 40, LABEL_WIDTH);
        assert_eq!(
            text(&lines),
            [
                " Error     1s ago: checksum mismatch: ",
                "           the file has sha256 9f1c, not",
                "           3a7b"
            ]
        );
        assert!(lines.iter().all(|l| l.width() <= 40));
        assert_eq!(lines[2].spans[1].style.fg, Some(Color::Red), "each piece keeps its style");
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_and_a_short_line_is_left_alone() {
        let url =
            Line::from(vec![Span::raw(" URL       "), Span::raw("https://example.org/a/very/long/path.iso")]);
        assert_eq!(
            text(&hang(url, 30, LABEL_WIDTH)),
            [" URL       https://example.org", "           /a/very/long/path.i", "           so"]
        );
        // A line already full when a long word comes: the word starts the next line.
        let full = Line::from(vec![
            Span::raw(" Bytes     "),
            Span::raw("0123456789012345678 "),
            Span::raw("x".repeat(25)),
        ]);
        let lines = hang(full, 30, LABEL_WIDTH);
        assert!(lines.iter().all(|l| l.width() <= 30), "{:?}", text(&lines));
        let short = Line::from(vec![Span::raw(" File      "), Span::raw("x.iso")]);
        assert_eq!(text(&hang(short, 30, LABEL_WIDTH)), [" File      x.iso"]);
    }

    #[test]
    fn a_full_disk_says_to_free_space_and_retry() {
        let full = ItemError::new(ErrorKind::DiskFull, "disk full writing /dl/x.part");
        let said = hint(&full, "r").unwrap();
        assert!(said.starts_with("free space") && said.contains("press r"), "{said}");
        let missing = ItemError { kind: ErrorKind::Http, status: Some(404), message: "404".into() };
        assert!(hint(&missing, "r").unwrap().contains("no such file"));
        let other = ItemError { kind: ErrorKind::Http, status: Some(500), message: "500".into() };
        assert_eq!(hint(&other, "r"), None, "nothing to add to the message");
    }
}
