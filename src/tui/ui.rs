//! Drawing: turns the `App` model into widgets on a ratatui `Frame`. Only the visible rows of
//! the table are built, so drawing costs the same with ten items or ten thousand. Depends on
//! ratatui, the app model and `format`; never on the engine's internals or the real terminal.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row as TableRow, Sparkline, Table, Wrap};

use crate::engine::{ItemLimits, ItemState};
use crate::format;

use super::app::{App, Level, LimitTarget, Mode, Row};
use super::keys::{ALL, KeyAction, KeyMap, Section};

/// Below this the screen says so instead of drawing a mangled table.
pub const MIN_WIDTH: u16 = 50;
pub const MIN_HEIGHT: u16 = 12;
/// Lines of the detail pane, borders included.
const DETAIL_HEIGHT: u16 = 9;
const HEADER_HEIGHT: u16 = 3;

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

/// A symbol and a word for a state, so it reads without colour.
pub fn state_label(row: &Row) -> String {
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

/// Where everything goes for a given screen size.
struct Areas {
    header: Rect,
    table: Rect,
    details: Option<Rect>,
    status: Rect,
    footer: Rect,
}

fn layout(area: Rect, details: bool) -> Areas {
    let detail_h = if details && area.height >= MIN_HEIGHT + DETAIL_HEIGHT - 3 { DETAIL_HEIGHT } else { 0 };
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
    let areas = layout(area, app.show_details);
    draw_header(frame, areas.header, app, &theme);
    draw_table(frame, areas.table, app, &theme);
    if let Some(rect) = areas.details {
        draw_details(frame, rect, app, &theme);
    }
    draw_status(frame, areas.status, app, &theme);
    draw_footer(frame, areas.footer, &app.keymap, &theme);
    match app.mode.clone() {
        Mode::Normal | Mode::Filter => {}
        Mode::Help { scroll } => draw_help(frame, area, app, scroll, &theme),
        Mode::Add => draw_add(frame, area, app, &theme),
        Mode::Limit(target) => draw_limit(frame, area, app, target, &theme),
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
                answer_line(&theme, &[("y", "cancel, keep the partial file"), ("d", "cancel and delete it")]),
                answer_line(&theme, &[("n/Esc", "keep downloading")]),
            ];
            draw_dialog(frame, area, " Cancel download ", lines, &theme);
        }
        Mode::ConfirmQuit => {
            let c = app.counts();
            let lines = vec![
                Line::from(format!("{} running and {} queued downloads will stop.", c.running, c.queued)),
                Line::from("They stay in the queue with their partial files and continue"),
                Line::from("the next time dlm starts."),
                Line::from(""),
                answer_line(&theme, &[("y", "quit now"), ("n/Esc", "keep downloading")]),
            ];
            draw_dialog(frame, area, " Quit dlm? ", lines, &theme);
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

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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

trait StyleExt {
    fn bg_if(self, cond: bool, c: Color) -> Self;
}

impl StyleExt for Style {
    fn bg_if(self, cond: bool, c: Color) -> Self {
        if cond { self.bg(c) } else { self.add_modifier(Modifier::REVERSED) }
    }
}

fn draw_table(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
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
        let reason = match (&row.error, row.state) {
            (Some((error, _)), ItemState::Failed) => error.clone(),
            (Some((error, _)), ItemState::Connecting) if row.retry.is_some() => error.clone(),
            _ => continue,
        };
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
    if row.connections != defaults.connections {
        badge.push_str(&format!(" ×{}", row.connections));
    }
    if row.rate_limit != defaults.rate_limit {
        match row.rate_limit {
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

fn ago(app: &App, at: std::time::Instant) -> String {
    format!("{} ago", format::duration(app.now.saturating_duration_since(at)))
}

fn draw_details(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = Block::default().borders(Borders::TOP).border_style(theme.dim());
    let Some(row) = app.selected() else {
        frame.render_widget(Paragraph::new(" Nothing selected.").block(block.title(" Details ")), area);
        return;
    };
    let block = block
        .title(Span::styled(format!(" Details {} ", row.id), Style::default().add_modifier(Modifier::BOLD)));
    let label = |s: &'static str| Span::styled(format!(" {s:<10}"), theme.dim());
    let mut lines = vec![Line::from(vec![label("URL"), Span::raw(row.url.clone())])];
    let info = row.info.as_ref();
    if let Some(info) = info.filter(|i| i.final_url != row.url) {
        lines.push(Line::from(vec![label("Final URL"), Span::raw(info.final_url.clone())]));
    }
    let path = row.path.as_ref().or(info.map(|i| &i.path));
    lines.push(Line::from(vec![
        label("File"),
        Span::raw(path.map(|p| p.display().to_string()).unwrap_or_else(|| "(not named yet)".into())),
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
    let server = match info {
        Some(i) => format!(
            "HTTP {}  ·  resume {}",
            i.status,
            if i.resumable { "supported" } else { "not supported (restarts from zero)" }
        ),
        None => "no answer yet".into(),
    };
    lines.push(Line::from(vec![label("Server"), Span::raw(server)]));
    let limit = row
        .rate_limit
        .map_or_else(|| "no rate limit".to_string(), |l| format!("at most {}", format::rate(l as f64)));
    let conns = match row.connections {
        crate::engine::AUTO_CONNECTIONS => "connections chosen automatically".to_string(),
        1 => "1 connection".to_string(),
        n => format!("up to {n} connections"),
    };
    let keys = [KeyAction::ItemRateLimit, KeyAction::ConnectionsUp, KeyAction::ConnectionsDown]
        .map(|a| app.keymap.short(a).unwrap_or_default());
    lines.push(Line::from(vec![
        label("Limits"),
        Span::raw(format!("{limit}  ·  {conns}")),
        Span::styled(format!("  ({} limit, {}/{} connections)", keys[0], keys[1], keys[2]), theme.dim()),
    ]));
    let retries = match &row.retry {
        Some(r) => {
            let left = r.delay.saturating_sub(app.now.saturating_duration_since(r.at));
            format!("{} so far; next attempt in {}", row.retries, format::duration(left))
        }
        None => format!("{} so far", row.retries),
    };
    lines.push(Line::from(vec![label("Retries"), Span::raw(retries)]));
    if let Some((error, at)) = &row.error {
        let what = if row.state == ItemState::Failed { "Error" } else { "Last error" };
        lines.push(Line::from(vec![
            label(what),
            Span::styled(format!("{}: ", ago(app, *at)), theme.dim()),
            Span::styled(error.clone(), theme.fg(Color::Red)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.mode == Mode::Filter {
        let prefix = " filter: ";
        let width = usize::from(area.width).saturating_sub(prefix.len() + 20);
        let (col0, _) = app.filter_input.scroll_for(width, 1);
        let text: String = app.filter_input.text().chars().skip(col0).take(width).collect();
        let line = Line::from(vec![
            Span::styled(prefix, theme.key()),
            Span::raw(text),
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
fn draw_footer(frame: &mut Frame, area: Rect, keymap: &KeyMap, theme: &Theme) {
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
    for section in [Section::Move, Section::Transfers, Section::Limits, Section::View, Section::App] {
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
        lines.push(Line::from(vec![Span::styled(format!("  {keys:<16}"), theme.key()), Span::raw(help)]));
    }
    let visible = usize::from(rect.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    let block = Block::bordered()
        .title(" Keys ")
        .title_bottom(Line::from(" Esc closes · ↑↓ scroll ").alignment(Alignment::Right))
        .border_style(theme.fg(Color::Cyan));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll as u16, 0)), rect);
}

fn draw_add(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rect = centered(area, 100, 14.min(area.height.saturating_sub(2)));
    let block = Block::bordered()
        .title(" Add downloads ")
        .title_bottom(
            Line::from(" Enter adds · Alt-Enter new line · Esc closes ").alignment(Alignment::Right),
        )
        .border_style(theme.fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let [hint, input, summary] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(
            "URLs, one per line or separated by spaces; paste works here.",
            theme.dim(),
        )),
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
    frame.set_cursor_position(Position::new(input.x + (col - col0) as u16, input.y + (row - row0) as u16));
    let (urls, others) = crate::inputs::split_pasted(&app.add_input.text());
    let mut text = match urls.len() {
        1 => "1 URL".to_string(),
        n => format!("{n} URLs"),
    };
    if !others.is_empty() {
        text.push_str(&format!(" · {} other words will be ignored", others.len()));
    }
    let style = if urls.is_empty() { theme.dim() } else { theme.fg(Color::Green) };
    frame.render_widget(Paragraph::new(Span::styled(text, style)), summary);
}

fn draw_limit(frame: &mut Frame, area: Rect, app: &App, target: LimitTarget, theme: &Theme) {
    let (title, now) = match target {
        LimitTarget::All => (" Rate limit: all downloads together ".to_string(), app.rate_limit),
        LimitTarget::Item(id) => {
            let row = app.row(id);
            let name = row.map_or("?", Row::label);
            (format!(" Rate limit: {} ", ellipsize_middle(name, 40)), row.and_then(|r| r.rate_limit))
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

fn draw_dialog(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, theme: &Theme) {
    let rect = centered(area, 70, lines.len() as u16 + 2);
    let block = Block::bordered().title(title.to_string()).border_style(theme.fg(Color::Yellow));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(4)).max(1);
    let h = height.min(area.height).max(1);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
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

    #[test]
    fn ellipsis() {
        assert_eq!(ellipsize_middle("debian-13.1.0-amd64-netinst.iso", 17), "debian-1…inst.iso");
        assert_eq!(ellipsize_middle("short", 17), "short");
        assert_eq!(ellipsize_left("/home/me/Downloads", 12), "…e/Downloads");
    }
}
