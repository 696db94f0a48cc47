//! The screen the README's screenshots show: the real `App` and `ui::draw`, fed the engine
//! events of a believable session (three files done, one downloading with a minute of rate
//! history and four connections, one paused, one failed with an HTTP error, one queued) on a
//! clock of fixed offsets, so the same buffer comes out every time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use dlm::engine::{EngineEvent, ErrorKind, ItemError, ItemId, StartInfo};
use dlm::tui::{Action, App, KeyMap, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

const MIB: u64 = 1024 * 1024;
const DIR: &str = "/home/me/Downloads";

/// How each file of the session ends up.
enum Fate {
    Done,
    Downloading,
    Paused,
    Failed,
    Queued,
}

/// (file, size in MiB, fate), in the order they were added.
const FILES: [(&str, u64, Fate); 7] = [
    ("debian-13.1.0-amd64-netinst.iso", 754, Fate::Done),
    ("photos-2025.zip", 86, Fate::Done),
    ("linux-6.17.tar.xz", 148, Fate::Downloading),
    ("quarterly-report.pdf", 3, Fate::Done),
    ("Fedora-Workstation-43.iso", 2300, Fate::Paused),
    ("dataset-v2.parquet", 0, Fate::Failed),
    ("llama-weights.tar", 7800, Fate::Queued),
];

/// The downloading file's bytes per second in second `s`: an uneven minute with a dip
/// halfway, as real links have.
fn speed(s: u64) -> u64 {
    if (25..35).contains(&s) { MIB / 2 } else { MIB + (s % 7) * MIB / 8 }
}

fn url(name: &str) -> String {
    format!("https://mirror.example.org/pub/{name}")
}

fn started(id: u64, name: &str, total: u64) -> EngineEvent {
    EngineEvent::Started {
        id: ItemId(id),
        info: StartInfo {
            name: name.into(),
            path: PathBuf::from(DIR).join(name),
            total: Some(total),
            offset: 0,
            final_url: url(name),
            status: 200,
            resumable: true,
            validator: Some("\"5f3c-1a2b\"".into()),
            ranges_unreliable: false,
        },
    }
}

/// The app after the session: a minute of traffic, then `keys` pressed.
pub fn app(keys: &[KeyCode]) -> App {
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let mut app = App::new(KeyMap::default(), PathBuf::from(DIR), 4, t0);
    app.free_space = Some(212 * 1024 * MIB);
    for (i, (name, _, _)) in FILES.iter().enumerate() {
        app.apply(EngineEvent::added(ItemId(i as u64 + 1), url(name), DIR), t0);
    }
    for (i, (name, mib, fate)) in FILES.iter().enumerate() {
        let (id, total) = (i as u64 + 1, mib * MIB);
        match fate {
            Fate::Queued => {}
            Fate::Failed => {
                let error = ItemError {
                    kind: ErrorKind::Http,
                    status: Some(404),
                    message: format!("server answered 404 Not Found for {}", url(name)),
                };
                app.apply(EngineEvent::Failed { id: ItemId(id), error }, at(2));
            }
            _ => app.apply(started(id, name, total), at(1)),
        }
    }
    // The downloading one got four connections; the paused one was paused at 31%.
    let (linux, fedora) = (ItemId(3), ItemId(5));
    app.apply(EngineEvent::ItemLimitsChanged { id: linux, rate_limit: None, connections: 4 }, at(1));
    for s in 1..=60u64 {
        let bytes = (1..=s).map(speed).sum();
        app.apply(EngineEvent::Progress { id: linux, bytes }, at(s));
        if s <= 30 {
            app.apply(EngineEvent::Progress { id: fedora, bytes: s * 24 * MIB }, at(s));
        }
        if s == 30 {
            app.apply(EngineEvent::Paused { id: fedora, bytes: 720 * MIB }, at(s));
        }
        for (i, (name, mib, fate)) in FILES.iter().enumerate() {
            let done_at = 6 + 9 * i as u64;
            if matches!(fate, Fate::Done) && s == done_at {
                let id = ItemId(i as u64 + 1);
                let path = PathBuf::from(DIR).join(name);
                app.apply(EngineEvent::Completed { id, path, bytes: mib * MIB, skipped: false }, at(s));
            }
        }
        app.tick(at(s));
    }
    for code in keys {
        if let Some(action) = app.action_for(&Event::Key(KeyEvent::new(*code, KeyModifiers::NONE))) {
            app.update(action);
        }
    }
    app
}

/// The app drawn into a `width`×`height` test terminal.
pub fn screen(app: &mut App, width: u16, height: u16) -> Buffer {
    app.update(Action::Resize { width, height });
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal.draw(|f| ui::draw(f, app)).expect("drawing into memory");
    terminal.backend().buffer().clone()
}
