//! What draws over or around the table: the help, the add box, the rate-limit box and the
//! confirmations; the status line (messages, the filter being typed) and the footer of keys;
//! and the help text and README key table generated from the key table. Part of drawing;
//! depends on ratatui, the app model, the key table and `format`.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::format;

use super::super::app::{App, Level, LimitTarget, Mode};
use super::super::keys::{ALL, KeyAction, KeyMap, Section};
use super::{Theme, centered, ellipsize_middle};

/// The dialog or overlay of the current mode, if any.
pub(super) fn draw_overlay(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    match app.mode.clone() {
        Mode::Normal | Mode::Filter => {}
        Mode::Help { scroll } => draw_help(frame, area, app, scroll, theme),
        Mode::Add => draw_add(frame, area, app, theme),
        Mode::Limit(target) => draw_limit(frame, area, app, target, theme),
        Mode::UrlBox(id) => super::url_box::draw_url_box(frame, area, app, id, theme),
        Mode::Folder => draw_folder(frame, area, app, theme),
        Mode::ConfirmCancel(id) => {
            let (label, bytes) =
                app.row(id).map(|r| (r.label().to_string(), r.bytes)).unwrap_or_else(|| ("?".into(), 0));
            let partial = if bytes > 0 {
                format!("{} already downloaded.", format::bytes(bytes))
            } else {
                "Nothing downloaded yet.".to_string()
            };
            let lines = vec![
                Line::from(format!("Cancel {label}?")),
                Line::from(Span::styled(partial, theme.dim())),
                Line::from(""),
                answer_line(theme, &[("y", "cancel, keep the partial file"), ("d", "cancel and delete it")]),
                answer_line(theme, &[("n/Esc", "keep downloading")]),
            ];
            draw_dialog(frame, area, " Cancel download ", lines, theme);
        }
        Mode::ConfirmRemoveFinished(ids) => {
            let n = ids.len();
            let what =
                if n == 1 { "1 completed transfer".to_string() } else { format!("{n} completed transfers") };
            let lines = vec![
                Line::from(format!("Remove {what} from the list?")),
                Line::from(Span::styled("The downloaded files stay on disk.", theme.dim())),
                Line::from(""),
                answer_line(theme, &[("y", "remove them"), ("n/Esc", "keep them listed")]),
            ];
            draw_dialog(frame, area, " Remove completed ", lines, theme);
        }
        Mode::ConfirmRedownload(id) => {
            let label = app.row(id).map_or_else(|| "?".to_string(), |r| r.label().to_string());
            let lines = vec![
                Line::from(format!("Download {label} again?")),
                Line::from(Span::styled(
                    "The finished file stays; the new copy gets a new name when complete.",
                    theme.dim(),
                )),
                Line::from(""),
                answer_line(theme, &[("y", "download again"), ("n/Esc", "keep the finished one")]),
            ];
            draw_dialog(frame, area, " Download again ", lines, theme);
        }
        Mode::ConfirmQuit => {
            let c = app.counts();
            let lines = vec![
                Line::from(format!("{} running and {} queued downloads will stop.", c.running, c.queued)),
                Line::from("They stay in the queue with their partial files and continue"),
                Line::from("the next time dlm starts."),
                Line::from(""),
                answer_line(theme, &[("y", "quit now"), ("n/Esc", "keep downloading")]),
            ];
            draw_dialog(frame, area, " Quit dlm? ", lines, theme);
        }
    }
}

fn answer_line<'a>(theme: &Theme, answers: &[(&'a str, &'a str)]) -> Line<'a> {
    let mut spans = Vec::new();
    for (key, what) in answers {
        spans.push(Span::styled(format!(" {key} "), theme.key()));
        if !what.is_empty() {
            spans.push(Span::raw(format!("{what}  ")));
        }
    }
    Line::from(spans)
}

pub(super) fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.mode == Mode::Filter {
        let prefix = " filter: ";
        let width = usize::from(area.width).saturating_sub(prefix.len() + 20);
        let (col0, _) = app.filter_input.scroll_for(width, 1);
        let text: String = app.filter_input.text().chars().skip(col0).take(width).collect();
        let style = selected_style(&app.filter_input);
        let line = Line::from(vec![
            Span::styled(prefix, theme.key()),
            Span::styled(text, style),
            Span::styled("  Enter keeps · Esc clears", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        let (_, col) = app.filter_input.cursor();
        let x = area.x + (prefix.len() + col - col0) as u16;
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
        return;
    }
    if let Some(msg) = &app.message {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {}", msg.text), theme.level(msg.level))),
            area,
        );
    } else if app.engine_stopped {
        frame.render_widget(
            Paragraph::new(Line::styled(" the engine has stopped", theme.level(Level::Error))),
            area,
        );
    }
}

/// Footer entries in the order they give way when the screen is narrow: the last ones drop
/// first, and help and quit never do, so every other key stays one keystroke away.
const FOOTER_PRIORITY: [KeyAction; 10] = [
    KeyAction::Help,
    KeyAction::Quit,
    KeyAction::Add,
    KeyAction::TogglePause,
    KeyAction::Cancel,
    KeyAction::WorkersUp,
    KeyAction::Retry,
    KeyAction::Filter,
    KeyAction::Details,
    KeyAction::RateLimit,
];

/// The most useful keys, from the key table, as many as fit, in the table's order.
pub(super) fn draw_footer(frame: &mut Frame, area: Rect, keymap: &KeyMap, theme: &Theme) {
    let width = usize::from(area.width);
    let mut chosen: Vec<(usize, String, &str)> = Vec::new();
    let mut used = 0usize;
    for action in FOOTER_PRIORITY {
        let Some((pos, info)) = ALL.iter().enumerate().find(|(_, i)| i.action == action) else { continue };
        let Some(label) = info.footer else { continue };
        let key = match action {
            // `+`/`-` read better as one entry.
            KeyAction::WorkersUp => {
                match (keymap.short(KeyAction::WorkersUp), keymap.short(KeyAction::WorkersDown)) {
                    (Some(up), Some(down)) => format!("{up}/{down}"),
                    (Some(k), None) | (None, Some(k)) => k,
                    (None, None) => continue,
                }
            }
            a => match keymap.short(a) {
                Some(k) => k,
                None => continue,
            },
        };
        let cost = key.chars().count() + label.len() + 3;
        if used + cost > width {
            continue;
        }
        used += cost;
        chosen.push((pos, key, label));
    }
    chosen.sort_by_key(|(pos, _, _)| *pos);
    let mut spans = Vec::new();
    for (_, key, label) in chosen {
        spans.push(Span::styled(format!(" {key}"), theme.key()));
        spans.push(Span::raw(format!(" {label} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.fg(Color::Gray)), area);
}

/// The help text: every row of the key table as bound now, then what is not a key binding.
pub fn help_lines(keymap: &KeyMap) -> Vec<(String, String, Option<Section>)> {
    let mut out = Vec::new();
    for section in
        [Section::Move, Section::Transfers, Section::Limits, Section::Files, Section::View, Section::App]
    {
        for info in ALL.iter().filter(|i| i.section == section) {
            out.push((keymap.describe(info.action), info.help.to_string(), Some(section)));
        }
    }
    let extra = [
        ("paste", "add every http(s) URL in the pasted text; other words are reported"),
        ("mouse", "click selects a row, the wheel scrolls"),
        ("Esc", "clears the filter and the message; closes dialogs"),
        ("in the add box", "Enter adds · Alt-Enter or Ctrl-J new line · arrows, Home, End move"),
        ("", "Backspace, Del, Ctrl-U, Ctrl-K, Ctrl-W delete · Esc closes and keeps the text"),
        ("in the table", "×4: own connections, ≤1M: own rate limit (when not default)"),
    ];
    out.extend(extra.iter().map(|(k, h)| (k.to_string(), h.to_string(), None)));
    out
}

/// The key table as Markdown, for the README: generated so the docs match the code.
pub fn markdown_key_table(keymap: &KeyMap) -> String {
    let mut s = String::from("| Keys | Action | Config name |\n| --- | --- | --- |\n");
    for info in ALL {
        s.push_str(&format!("| {} | {} | `{}` |\n", keymap.describe(info.action), info.help, info.name));
    }
    s
}

fn draw_help(frame: &mut Frame, area: Rect, app: &App, scroll: usize, theme: &Theme) {
    let rect = centered(area, 78, area.height.saturating_sub(2));
    let mut lines = Vec::new();
    let mut last = None;
    for (keys, help, section) in help_lines(&app.keymap) {
        if section != last {
            let title = section.map(Section::title).unwrap_or("Also");
            lines.push(Line::styled(
                title,
                Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ));
            last = section;
        }
        // Long help texts wrap under their own column, so nothing is cut at any width.
        let width = usize::from(rect.width.saturating_sub(2)).saturating_sub(KEY_COLUMN).max(10);
        for (i, part) in wrap_words(&help, width).into_iter().enumerate() {
            let keys =
                if i == 0 { format!("  {keys:<w$}", w = KEY_COLUMN - 2) } else { " ".repeat(KEY_COLUMN) };
            lines.push(Line::from(vec![Span::styled(keys, theme.key()), Span::raw(part)]));
        }
    }
    let visible = usize::from(rect.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    let block = Block::bordered()
        .title(" Keys ")
        .title_bottom(Line::from(" Esc closes · ↑↓ PgUp PgDn scroll ").alignment(Alignment::Right))
        .border_style(theme.fg(Color::Cyan));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll as u16, 0)), rect);
}

/// Width of the help's key column, its two-space indent included.
const KEY_COLUMN: usize = 18;

/// Splits `text` into lines of at most `width` characters at spaces; a longer word is cut
/// into pieces of `width`.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let words = text.split(' ').flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        chars.chunks(width.max(1)).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>()
    });
    for word in words {
        let used = line.chars().count();
        if used > 0 && used + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

fn draw_add(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rect = centered(area, 100, 14.min(area.height.saturating_sub(2)));
    // At 50 columns the long key hint would be cut: the short one leaves Alt-Enter to the help.
    let keys = match rect.width {
        0..50 => " Enter adds · Esc closes ",
        _ => " Enter adds · Tab folder · Alt-Enter new line · Esc closes ",
    };
    let block = Block::bordered()
        .title(" Add downloads ")
        .title_bottom(Line::from(keys).alignment(Alignment::Right))
        .border_style(theme.fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let about = "URLs, one per line or separated by spaces; paste works here.";
    // Wrapped onto a second line rather than cut on a narrow screen.
    let about_h = if about.chars().count() > usize::from(inner.width) { 2 } else { 1 };
    let [hint, input, folder, summary] = Layout::vertical([
        Constraint::Length(about_h),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let prompt = "into: ";
    let width = usize::from(folder.width).saturating_sub(prompt.len() + 1);
    let (fcol0, _) = app.add_folder.scroll_for(width, 1);
    let text: String = app.add_folder.text().chars().skip(fcol0).take(width).collect();
    let prompt_style = if app.add_on_folder { theme.key() } else { theme.dim() };
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::styled(prompt, prompt_style), Span::raw(text)])),
        folder,
    );
    frame.render_widget(
        Paragraph::new(Span::styled(about, theme.dim())).wrap(ratatui::widgets::Wrap { trim: true }),
        hint,
    );
    let (col0, row0) = app.add_input.scroll_for(usize::from(input.width), usize::from(input.height));
    let lines: Vec<Line> = app
        .add_input
        .lines()
        .skip(row0)
        .take(usize::from(input.height))
        .map(|l| Line::from(l.chars().skip(col0).collect::<String>()))
        .collect();
    frame.render_widget(Paragraph::new(Text::from(lines)), input);
    let (row, col) = app.add_input.cursor();
    if app.add_on_folder {
        let (_, fcol) = app.add_folder.cursor();
        frame.set_cursor_position(Position::new(folder.x + (prompt.len() + fcol - fcol0) as u16, folder.y));
    } else {
        frame
            .set_cursor_position(Position::new(input.x + (col - col0) as u16, input.y + (row - row0) as u16));
    }
    let input = app.add_input.text();
    let (text, style) = match App::add_preview(&input) {
        Ok(text) if text.starts_with("0 URLs") => (text, theme.dim()),
        Ok(text) => (text, theme.fg(Color::Green)),
        Err(e) => (e, theme.fg(Color::Red)),
    };
    frame.render_widget(Paragraph::new(Span::styled(text, style)), summary);
}

fn draw_limit(frame: &mut Frame, area: Rect, app: &App, target: LimitTarget, theme: &Theme) {
    let (title, now) = match target {
        LimitTarget::All => (" Rate limit: all downloads together ".to_string(), app.rate_limit),
        LimitTarget::Item(id) => {
            let row = app.row(id);
            let name = row.map_or("?", |r| r.label());
            (format!(" Rate limit: {} ", ellipsize_middle(name, 40)), row.and_then(|r| r.limits.rate_limit))
        }
    };
    let rect = centered(area, 64, 6);
    let block = Block::bordered()
        .title(title)
        .title_bottom(Line::from(" Enter sets · Esc closes ").alignment(Alignment::Right))
        .border_style(theme.fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let [now_line, input, _, hint] = Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" now: ", theme.dim()),
            Span::raw(App::limit_text(now)),
        ])),
        now_line,
    );
    let prompt = " bytes/s: ";
    let width = usize::from(input.width).saturating_sub(prompt.len() + 1);
    let (col0, _) = app.limit_input.scroll_for(width, 1);
    let text: String = app.limit_input.text().chars().skip(col0).take(width).collect();
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::styled(prompt, theme.key()), Span::raw(text)])),
        input,
    );
    let (_, col) = app.limit_input.cursor();
    frame.set_cursor_position(Position::new(input.x + (prompt.len() + col - col0) as u16, input.y));
    frame.render_widget(
        Paragraph::new(Span::styled(" 2M, 512K, 1.5G or bytes · 0 or empty: no limit", theme.dim())),
        hint,
    );
}

fn draw_folder(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rect = centered(area, 72, 5);
    let block = Block::bordered()
        .title(" Folder for new downloads ")
        .title_bottom(Line::from(" Enter sets · Esc closes ").alignment(Alignment::Right))
        .border_style(theme.fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let [input, _, hint] = Layout::vertical([Constraint::Length(1); 3]).areas(inner);
    let prompt = " folder: ";
    let width = usize::from(input.width).saturating_sub(prompt.len() + 1);
    let (col0, _) = app.folder_input.scroll_for(width, 1);
    let text: String = app.folder_input.text().chars().skip(col0).take(width).collect();
    let style = selected_style(&app.folder_input);
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::styled(prompt, theme.key()), Span::styled(text, style)])),
        input,
    );
    let (_, col) = app.folder_input.cursor();
    frame.set_cursor_position(Position::new(input.x + (prompt.len() + col - col0) as u16, input.y));
    frame.render_widget(
        Paragraph::new(Span::styled(
            " created if missing · ~/ is home · items added keep theirs",
            theme.dim(),
        )),
        hint,
    );
}

/// A text box whose text is selected (just reopened) shows it reversed: typing replaces it.
fn selected_style(input: &crate::tui::input::TextInput) -> Style {
    if input.is_selected() { Style::default().add_modifier(Modifier::REVERSED) } else { Style::default() }
}

fn draw_dialog(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, theme: &Theme) {
    let rect = centered(area, 70, lines.len() as u16 + 2);
    let block = Block::bordered().title(title.to_string()).border_style(theme.fg(Color::Yellow));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}
