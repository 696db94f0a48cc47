//! A ratatui buffer as an SVG picture: each cell's symbol on a fixed grid, with its foreground
//! and background colours, bold, italic, underline, dim and reverse. Written from the cells,
//! not from a screen grab, so the picture of a given buffer is always the same bytes.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// Cell size in pixels, and the font size that fits it.
const CELL_W: f64 = 9.0;
const CELL_H: f64 = 19.0;
const FONT_PX: f64 = 15.0;
const PAD: f64 = 10.0;
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

/// A terminal palette (VS Code's dark theme) for the 16 named colours.
fn named(color: Color) -> Option<&'static str> {
    Some(match color {
        Color::Black => "#000000",
        Color::Red => "#cd3131",
        Color::Green => "#0dbc79",
        Color::Yellow => "#e5e510",
        Color::Blue => "#2472c8",
        Color::Magenta => "#bc3fbc",
        Color::Cyan => "#11a8cd",
        Color::Gray => "#e5e5e5",
        Color::DarkGray => "#666666",
        Color::LightRed => "#f14c4c",
        Color::LightGreen => "#23d18b",
        Color::LightYellow => "#f5f543",
        Color::LightBlue => "#3b8eea",
        Color::LightMagenta => "#d670d6",
        Color::LightCyan => "#29b8db",
        Color::White => "#ffffff",
        _ => return None,
    })
}

/// `None` for the terminal's default colour.
fn hex(color: Color) -> Option<String> {
    match color {
        Color::Reset => None,
        Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) => Some(indexed(i)),
        other => named(other).map(str::to_string),
    }
}

/// xterm's 256 colours: 16 named, a 6×6×6 cube, 24 greys.
fn indexed(i: u8) -> String {
    const BASE: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match i {
        0..16 => named(BASE[usize::from(i)]).unwrap_or(DEFAULT_FG).to_string(),
        16..232 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            let v = i - 16;
            format!("#{:02x}{:02x}{:02x}", level(v / 36), level(v / 6 % 6), level(v % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            format!("#{g:02x}{g:02x}{g:02x}")
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// What a run of cells shares: colours and text attributes.
#[derive(Clone, PartialEq)]
struct Style {
    fg: String,
    bg: Option<String>,
    modifier: Modifier,
}

fn style_of(cell: &ratatui::buffer::Cell) -> Style {
    let (mut fg, mut bg) = (hex(cell.fg), hex(cell.bg));
    if cell.modifier.contains(Modifier::REVERSED) {
        (fg, bg) = (bg.or(Some(DEFAULT_BG.to_string())), fg.or(Some(DEFAULT_FG.to_string())));
    }
    Style { fg: fg.unwrap_or(DEFAULT_FG.to_string()), bg, modifier: cell.modifier }
}

/// The picture of `buffer`, with `title` for screen readers.
pub fn render(buffer: &Buffer, title: &str) -> String {
    let area = buffer.area;
    let (width, height) =
        (f64::from(area.width) * CELL_W + 2.0 * PAD, f64::from(area.height) * CELL_H + 2.0 * PAD);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(
        out,
        "<style>text{{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,\"Liberation Mono\",monospace;font-size:{FONT_PX}px;white-space:pre}}</style>"
    );
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" rx=\"6\" fill=\"{DEFAULT_BG}\"/>");
    for y in 0..area.height {
        // Runs of cells with one style: (first column, width in cells, text, style).
        let mut runs: Vec<(u16, u16, String, Style)> = Vec::new();
        for x in 0..area.width {
            let cell = &buffer[(area.x + x, area.y + y)];
            // The cell after a wide character is empty: the character already covers it.
            if cell.symbol().is_empty() {
                if let Some(run) = runs.last_mut() {
                    run.1 += 1;
                }
                continue;
            }
            let style = style_of(cell);
            match runs.last_mut() {
                Some(run) if run.3 == style => {
                    run.1 += 1;
                    run.2.push_str(cell.symbol());
                }
                _ => runs.push((x, 1, cell.symbol().to_string(), style)),
            }
        }
        let top = PAD + f64::from(y) * CELL_H;
        for (x, w, _, style) in &runs {
            if let Some(bg) = &style.bg {
                let left = PAD + f64::from(*x) * CELL_W;
                let _ = writeln!(
                    out,
                    "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{CELL_H}\" fill=\"{bg}\"/>",
                    f64::from(*w) * CELL_W
                );
            }
        }
        for (x, w, text, style) in &runs {
            if text.trim().is_empty() {
                continue;
            }
            let left = PAD + f64::from(*x) * CELL_W;
            let baseline = top + CELL_H * 0.78;
            let mut attrs = format!("fill=\"{}\"", style.fg);
            let m = style.modifier;
            if m.contains(Modifier::BOLD) {
                attrs.push_str(" font-weight=\"bold\"");
            }
            if m.contains(Modifier::ITALIC) {
                attrs.push_str(" font-style=\"italic\"");
            }
            if m.contains(Modifier::UNDERLINED) {
                attrs.push_str(" text-decoration=\"underline\"");
            }
            if m.contains(Modifier::DIM) {
                attrs.push_str(" fill-opacity=\"0.6\"");
            }
            // `textLength` pins the run to its cells whatever font the viewer has.
            let _ = writeln!(
                out,
                "<text x=\"{left}\" y=\"{baseline:.2}\" textLength=\"{}\" lengthAdjust=\"spacingAndGlyphs\" {attrs}>{}</text>",
                f64::from(*w) * CELL_W,
                escape(text)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}
