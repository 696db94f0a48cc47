//! Sizes up to 2^64−1 never overflow a front end's totals: a server may announce any
//! `Content-Length`, and two items announcing the largest one used to panic a debug build in
//! the terminal UI's header (`dlm get`'s status line has a unit test in `headless.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dlm::engine::{EngineEvent, ItemId, StartInfo};
use dlm::tui::{Action, App, KeyMap, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[test]
fn two_items_announcing_the_largest_size_saturate_the_tui_header() {
    let t0 = Instant::now();
    let mut app = App::new(KeyMap::default(), PathBuf::from("/downloads"), 4, t0);
    for id in 1..=2 {
        let name = format!("huge{id}.bin");
        app.apply(EngineEvent::added(ItemId(id), format!("http://example.com/{name}"), "/dl"), t0);
        let info = StartInfo {
            path: PathBuf::from("/downloads").join(&name),
            name,
            total: Some(u64::MAX),
            offset: u64::MAX - 10,
            final_url: "http://example.com/".into(),
            status: 206,
            resumable: true,
            validator: None,
            ranges_unreliable: false,
        };
        app.apply(EngineEvent::Started { id: ItemId(id), info }, t0);
        app.apply(EngineEvent::Progress { id: ItemId(id), bytes: u64::MAX - 1 }, t0);
    }
    app.tick(t0 + Duration::from_secs(1));
    let counts = app.counts();
    assert_eq!((counts.bytes, counts.total), (u64::MAX, u64::MAX));
    app.update(Action::Resize { width: 80, height: 24 });
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| ui::draw(f, &mut app)).unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("16.0 EiB") || screen.contains("16384 PiB"), "{screen}");
}
