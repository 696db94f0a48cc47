//! Key-to-frame time with 10,000 transfers: a key goes through `App::update` and a full frame
//! is drawn into a `TestBackend`, timed over many presses. Ignored by default (it measures, it
//! does not judge); run it with
//! `cargo test --release --test tui_bench -- --ignored --nocapture`. Figures go in
//! docs/measurements.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use dlm::engine::{EngineEvent, ItemId, StartInfo};
use dlm::tui::{App, Effect, KeyMap, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const ITEMS: u64 = 10_000;

fn big_app(now: Instant) -> App {
    let mut app = App::new(KeyMap::default(), PathBuf::from("/tmp"), 16, now);
    let urls: Vec<String> =
        (0..ITEMS).map(|i| format!("https://example.com/files/file-{i:05}.bin")).collect();
    let effects = app.update(dlm::tui::Action::Paste(urls.join("\n")));
    // Each add comes back from the engine as `Added`, which makes the row.
    for (i, e) in effects.into_iter().enumerate() {
        if let Effect::Add(r) = e {
            app.apply(EngineEvent::added(ItemId(i as u64 + 1), r.url, "/tmp"), now);
        }
    }
    assert_eq!(app.len(), ITEMS as usize);
    // Half of them have started and report progress, as in a busy batch.
    for id in (1..=ITEMS).step_by(2) {
        let info = StartInfo {
            name: format!("file-{id:05}.bin"),
            path: PathBuf::from(format!("/tmp/file-{id:05}.bin")),
            total: Some(100 << 20),
            offset: 0,
            final_url: String::new(),
            status: 200,
            resumable: true,
            validator: None,
            ranges_unreliable: false,
        };
        app.apply(EngineEvent::Started { id: ItemId(id), info }, now);
        app.apply(EngineEvent::Progress { id: ItemId(id), bytes: id * 1000 }, now);
    }
    app.tick(now + Duration::from_secs(1));
    app
}

fn measure(label: &str, app: &mut App, terminal: &mut Terminal<TestBackend>, key: KeyCode, presses: usize) {
    let mut times = Vec::with_capacity(presses);
    for _ in 0..presses {
        let start = Instant::now();
        let event = Event::Key(KeyEvent::new(key, KeyModifiers::NONE));
        if let Some(action) = app.action_for(&event) {
            app.update(action);
        }
        terminal.draw(|f| ui::draw(f, app)).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p99 = times[times.len() * 99 / 100];
    println!(
        "{label:<40} mean {:>8.1} µs   p99 {:>8.1} µs   max {:>8.1} µs",
        mean.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        times.last().unwrap().as_secs_f64() * 1e6
    );
}

#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn key_to_frame_with_10000_items() {
    let now = Instant::now();
    let built = Instant::now();
    let mut app = big_app(now);
    println!("building the model of {ITEMS} items: {:?}", built.elapsed());
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        app.update(dlm::tui::Action::Resize { width: w, height: h });
        terminal.draw(|f| ui::draw(f, &mut app)).unwrap();
        measure(&format!("{w}x{h} j (down) x2000"), &mut app, &mut terminal, KeyCode::Char('j'), 2000);
        measure(&format!("{w}x{h} PgDn x500"), &mut app, &mut terminal, KeyCode::PageDown, 500);
        measure(&format!("{w}x{h} G/g (ends) x500"), &mut app, &mut terminal, KeyCode::Char('G'), 250);
        measure(&format!("{w}x{h} g x250"), &mut app, &mut terminal, KeyCode::Char('g'), 250);
        // Typing into the filter re-filters all 10,000 rows per key.
        measure(&format!("{w}x{h} / (open filter)"), &mut app, &mut terminal, KeyCode::Char('/'), 1);
        measure(&format!("{w}x{h} filter typing x200"), &mut app, &mut terminal, KeyCode::Char('9'), 200);
        measure(&format!("{w}x{h} filter Esc"), &mut app, &mut terminal, KeyCode::Esc, 1);
        // Each press re-sorts all 10,000 rows by the next key (state, progress, rate, name,
        // queue order).
        measure(&format!("{w}x{h} s (sort) x50"), &mut app, &mut terminal, KeyCode::Char('s'), 50);
        measure(&format!("{w}x{h} n (next running) x500"), &mut app, &mut terminal, KeyCode::Char('n'), 500);
    }
    // Sorted by rate, a tick marks the view stale and the next frame re-sorts.
    while app.sort() != dlm::tui::app::SortKey::Rate {
        app.update(dlm::tui::Action::Key(dlm::tui::keys::KeyAction::Sort));
    }
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let start = Instant::now();
    app.tick(now + Duration::from_secs(3));
    terminal.draw(|f| ui::draw(f, &mut app)).unwrap();
    println!("tick + frame re-sorting 10,000 rows by rate: {:?}", start.elapsed());
    // A tick (rates for every row) and a frame of 5,000 progress events.
    let start = Instant::now();
    for id in (1..=ITEMS).step_by(2) {
        app.apply(EngineEvent::Progress { id: ItemId(id), bytes: id * 2000 }, now);
    }
    println!("folding 5,000 progress events: {:?}", start.elapsed());
    let start = Instant::now();
    app.tick(now + Duration::from_secs(2));
    println!("one rate tick over {ITEMS} rows: {:?}", start.elapsed());
}
