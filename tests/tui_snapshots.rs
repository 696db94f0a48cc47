//! Whole-app tests of the terminal UI: scripted keys, pastes and injected engine events go
//! through `App::update`/`App::apply` exactly as the event loop sends them, and the screen is
//! drawn into ratatui's `TestBackend` and compared with insta snapshots. The clock is a fixed
//! base plus offsets, so rates, ETAs and "ago" texts never flake. No engine, no network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use dlm::engine::{
    Algo, ChecksumSource, ChecksumState, ChecksumView, Command, EngineEvent, ErrorKind, ExpectedChecksum,
    ItemError, ItemId, StartInfo, parse_download_url, redact_url,
};
use dlm::tui::app::Mode;
use dlm::tui::keys::KeyAction;
use dlm::tui::{Action, App, Effect, KeyMap, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const MIB: u64 = 1024 * 1024;

struct Harness {
    app: App,
    t0: Instant,
    next_id: u64,
    /// Every effect the app asked for, in order.
    effects: Vec<Effect>,
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        let mut app = App::new(KeyMap::default(), PathBuf::from("/home/me/Downloads"), 4, t0);
        app.free_space = Some(52 * 1024 * MIB);
        app.tick(t0);
        Harness { app, t0, next_id: 1, effects: Vec::new() }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    /// An action through `update`; each add is answered as the session and the engine do,
    /// with an `Added` for the URL as the engine shows it.
    fn act(&mut self, action: Action) {
        let effects = self.app.update(action);
        for effect in &effects {
            if let Effect::Add(request) = effect {
                let id = ItemId(self.next_id);
                self.next_id += 1;
                let url = redact_url(&parse_download_url(&request.url).unwrap());
                self.app.apply(EngineEvent::added(id, url, "/home/me/Downloads"), self.t0);
            }
        }
        self.effects.extend(effects);
    }

    /// A key press as the terminal reports it, through the same translation as the loop.
    fn press(&mut self, code: KeyCode) {
        self.press_mod(code, KeyModifiers::NONE);
    }

    fn press_mod(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        let event = Event::Key(KeyEvent::new(code, modifiers));
        if let Some(action) = self.app.action_for(&event) {
            self.act(action);
        }
    }

    /// Types text key by key, as a person would.
    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    fn paste(&mut self, text: &str) {
        self.act(self.app.action_for(&Event::Paste(text.to_string())).unwrap());
    }

    fn event(&mut self, secs: f64, event: EngineEvent) {
        let now = self.at(secs);
        self.app.apply(event, now);
    }

    fn tick(&mut self, secs: f64) {
        let now = self.at(secs);
        self.app.tick(now);
    }

    fn render(&mut self, width: u16, height: u16) -> String {
        self.act(Action::Resize { width, height });
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| ui::draw(f, &mut self.app)).unwrap();
        terminal.backend().to_string()
    }
}

fn start(h: &mut Harness, secs: f64, id: u64, name: &str, total: Option<u64>, offset: u64) {
    h.event(
        secs,
        EngineEvent::Started {
            id: ItemId(id),
            info: StartInfo {
                name: name.into(),
                path: PathBuf::from(format!("/home/me/Downloads/{name}")),
                total,
                offset,
                final_url: format!("https://cdn.example.org/pub/{name}"),
                status: if offset > 0 { 206 } else { 200 },
                resumable: total.is_some(),
                validator: Some("\"abc\"".into()),
                ranges_unreliable: false,
            },
        },
    );
}

/// Eight transfers in every state, with a minute of rate history behind them.
fn busy() -> Harness {
    let mut h = Harness::new();
    h.paste(
        "https://releases.example.org/debian-13.1.0-amd64-netinst.iso
         https://mirror.example.net/big/linux-6.17.tar.xz
         https://example.com/photos.zip
         https://example.com/stream/live.ts
         https://example.com/missing.pdf
         https://example.com/report.pdf
         https://example.com/paused.img
         https://example.com/queued.tar",
    );
    // The engine confirms each add with the URL as it normalised it.
    let urls = [
        "https://releases.example.org/debian-13.1.0-amd64-netinst.iso",
        "https://mirror.example.net/big/linux-6.17.tar.xz",
        "https://example.com/photos.zip",
        "https://example.com/stream/live.ts",
        "https://example.com/missing.pdf",
        "https://example.com/report.pdf",
        "https://example.com/paused.img",
        "https://example.com/queued.tar",
    ];
    for (i, url) in urls.iter().enumerate() {
        h.event(0.0, EngineEvent::added(ItemId(i as u64 + 1), *url, "/dl"));
    }
    start(&mut h, 0.5, 1, "debian-13.1.0-amd64-netinst.iso", Some(754 * MIB), 0);
    start(&mut h, 0.5, 2, "linux-6.17.tar.xz", Some(148 * MIB), 20 * MIB);
    start(&mut h, 0.5, 3, "photos.zip", Some(12 * MIB), 0);
    start(&mut h, 0.5, 4, "live.ts", None, 0);
    h.event(1.0, EngineEvent::Connecting { id: ItemId(6), attempt: 1 });
    h.event(
        1.0,
        EngineEvent::Failed {
            id: ItemId(5),
            error: ItemError::other("server answered 404 Not Found for https://example.com/missing.pdf"),
        },
    );
    start(&mut h, 0.5, 7, "paused.img", Some(2048 * MIB), 0);
    // One minute of traffic at steady, different speeds.
    for s in 1..=60u64 {
        let t = s as f64;
        h.event(t, EngineEvent::Progress { id: ItemId(1), bytes: s * 6 * MIB });
        h.event(t, EngineEvent::Progress { id: ItemId(2), bytes: 20 * MIB + s * 2 * MIB });
        h.event(t, EngineEvent::Progress { id: ItemId(3), bytes: (s * MIB / 5).min(12 * MIB) });
        h.event(t, EngineEvent::Progress { id: ItemId(4), bytes: s * 300 * 1024 });
        if s <= 20 {
            h.event(t, EngineEvent::Progress { id: ItemId(7), bytes: s * 10 * MIB });
        }
        if s == 20 {
            h.event(t, EngineEvent::Paused { id: ItemId(7), bytes: 200 * MIB });
        }
        if s == 59 {
            h.event(
                t,
                EngineEvent::Completed {
                    id: ItemId(3),
                    path: "/home/me/Downloads/photos.zip".into(),
                    bytes: 12 * MIB,
                    skipped: false,
                },
            );
            h.event(
                t,
                EngineEvent::Retrying {
                    id: ItemId(6),
                    attempt: 2,
                    delay: Duration::from_secs(4),
                    reason: "connection reset by peer".into(),
                },
            );
        }
        h.tick(t);
    }
    h
}

#[test]
fn empty_screen() {
    let mut h = Harness::new();
    insta::assert_snapshot!(h.render(80, 24));
}

#[test]
fn busy_table() {
    let mut h = busy();
    insta::assert_snapshot!(h.render(80, 24));
}

#[test]
fn busy_table_wide() {
    let mut h = busy();
    insta::assert_snapshot!(h.render(120, 30));
}

#[test]
fn detail_pane_of_a_failed_item() {
    let mut h = busy();
    h.tick(75.0);
    h.press(KeyCode::Down);
    h.press(KeyCode::Down);
    h.press(KeyCode::Down);
    h.press(KeyCode::Down);
    h.press(KeyCode::Enter);
    assert!(h.app.show_details);
    insta::assert_snapshot!(h.render(80, 24));
}

/// A failure's kind decides what the detail pane advises: a full disk is something the person
/// can fix, and the pane says how, with the retry key.
#[test]
fn detail_pane_of_an_item_failed_on_a_full_disk_says_to_free_space_then_retry() {
    let mut h = Harness::new();
    h.paste("https://example.com/big.iso");
    start(&mut h, 0.5, 1, "big.iso", Some(4096 * MIB), 0);
    h.event(1.0, EngineEvent::Progress { id: ItemId(1), bytes: 900 * MIB });
    let error = ItemError::new(ErrorKind::DiskFull, "no space left on device writing big.iso.part");
    h.event(1.5, EngineEvent::Failed { id: ItemId(1), error });
    h.tick(2.0);
    h.press(KeyCode::Enter);
    assert!(h.app.show_details);
    let screen = h.render(100, 24);
    assert!(screen.contains("no space left on device"), "{screen}");
    assert!(screen.contains("free space on the disk, then press r"), "{screen}");
}

/// One item per checksum state, as the engine reports them (`EngineEvent::Checksum`): verified
/// (sha256, and md5 shown as weak), a mismatch (failed, kind `checksum`), pending while the
/// file still arrives, and none at all.
fn checksums() -> Harness {
    let mut h = Harness::new();
    h.paste(
        "https://example.org/debian.iso https://example.org/old.tar https://example.org/bad.img
         https://example.org/live.iso https://example.org/plain.bin",
    );
    let names = ["debian.iso", "old.tar", "bad.img", "live.iso", "plain.bin"];
    for (i, name) in names.iter().enumerate() {
        start(&mut h, 0.5, i as u64 + 1, name, Some(64 * MIB), 0);
    }
    let expected =
        ExpectedChecksum::from_hex(Algo::Sha256, &"3a7bd3e2".repeat(8), ChecksumSource::User).unwrap();
    let md5 = ExpectedChecksum::from_hex(Algo::Md5, &"0cc175b9".repeat(4), ChecksumSource::File).unwrap();
    let server = ExpectedChecksum { source: ChecksumSource::ServerReprDigest, ..expected.clone() };
    let checked = |e: &ExpectedChecksum, state, actual: &str| ChecksumView {
        state,
        actual: Some(actual.repeat(e.algo.digest_len() / 4)),
        ..e.pending()
    };
    let report =
        |h: &mut Harness, id: u64, checksum| h.event(1.0, EngineEvent::Checksum { id: ItemId(id), checksum });
    report(&mut h, 1, checked(&expected, ChecksumState::Verified, "3a7bd3e2"));
    report(&mut h, 2, checked(&md5, ChecksumState::Verified, "0cc175b9"));
    report(&mut h, 3, checked(&server, ChecksumState::Mismatch, "9f1c04e5"));
    report(&mut h, 4, expected.pending());
    for id in [1, 2, 5] {
        let path = PathBuf::from(format!("/home/me/Downloads/{}", names[id as usize - 1]));
        h.event(2.0, EngineEvent::Completed { id: ItemId(id), path, bytes: 64 * MIB, skipped: false });
    }
    let error = ItemError::new(
        ErrorKind::Checksum,
        "checksum mismatch: /home/me/Downloads/bad.img.part has sha256 9f1c…, but 3a7b… was expected",
    );
    h.event(2.0, EngineEvent::Failed { id: ItemId(3), error });
    h.event(2.0, EngineEvent::Progress { id: ItemId(4), bytes: 20 * MIB });
    h.tick(3.0);
    h
}

/// The table marks each state after the name, numbers untouched; on a narrow screen the mark
/// shrinks to its symbol before the name gets too short.
#[test]
fn checksum_marks_in_the_table() {
    let mut h = checksums();
    let screen = h.render(80, 24);
    let line = |name: &str| screen.lines().find(|l| l.contains(name)).unwrap().to_string();
    assert!(line("debian.iso").contains("debian.iso ✓ sha256"), "{screen}");
    assert!(line("old.tar").contains("old.tar ✓ md5 weak"), "{screen}");
    assert!(line("bad.img").contains("bad.img ✗  checksum mismatch"), "{screen}");
    assert!(line("live.iso").contains("live.iso · sha256"), "{screen}");
    assert!(line("plain.bin").contains("plain.bin      "), "no checksum, no mark: {screen}");
    assert!(line("debian.iso").contains("64.0 MiB") && line("live.iso").contains("31%"), "{screen}");
    insta::assert_snapshot!("checksum_marks_in_the_table", screen);
    let narrow = h.render(50, 24);
    let line = |name: &str| narrow.lines().find(|l| l.contains(name)).unwrap().to_string();
    assert!(line("old.tar").contains("old.tar ✓ md5 ") && !line("old.tar").contains("weak"), "{narrow}");
    assert!(
        line("debian.iso").contains("debian.iso ✓ ") && !line("debian.iso").contains("sha256"),
        "{narrow}"
    );
    assert!(line("debian.iso").contains("64.0 MiB"), "{narrow}");
    insta::assert_snapshot!("checksum_marks_in_a_narrow_table", narrow);
}

/// The details pane: algorithm, expected digest (shortened), source and state; after a
/// mismatch, both digests and what to do.
#[test]
fn checksum_in_the_details_pane() {
    let mut h = checksums();
    h.press(KeyCode::Enter);
    let screen = h.render(100, 30);
    assert!(screen.contains("Checksum  sha256 3a7bd3e2…3a7bd3e2  ·  ✓ verified  ·  from given"), "{screen}");
    insta::assert_snapshot!("checksum_verified_in_the_details", screen);
    h.press(KeyCode::Down);
    let screen = h.render(100, 30);
    assert!(screen.contains("md5 0cc175b9…0cc175b9  ·  ✓ verified  ·  from checksum file (weak"), "{screen}");
    h.press(KeyCode::Down);
    let screen = h.render(100, 30);
    assert!(screen.contains("Checksum  sha256 ✗ mismatch  ·  from Repr-Digest"), "{screen}");
    assert!(
        screen.contains("Hashes    expected 3a7bd3e2…3a7bd3e2  ·  the file has 9f1c04e5…9f1c04e5"),
        "{screen}"
    );
    assert!(screen.contains("press r to fetch the file again from its first byte"), "{screen}");
    insta::assert_snapshot!("checksum_mismatch_in_the_details", screen);
    h.press(KeyCode::Down);
    let screen = h.render(100, 30);
    assert!(screen.contains("sha256 3a7bd3e2…3a7bd3e2  ·  checked when complete  ·  from given"), "{screen}");
    h.press(KeyCode::Down);
    let screen = h.render(100, 30);
    assert!(!screen.contains("Checksum"), "no checksum, no line: {screen}");
}

#[test]
fn detail_pane_of_a_resumed_download() {
    let mut h = busy();
    h.press(KeyCode::Char('j'));
    h.press(KeyCode::Enter);
    insta::assert_snapshot!(h.render(100, 30));
}

#[test]
fn help_overlay() {
    let mut h = busy();
    h.press(KeyCode::Char('?'));
    insta::assert_snapshot!(h.render(80, 24));
    // It scrolls to show the rest at 80×24.
    for _ in 0..20 {
        h.press(KeyCode::Down);
    }
    insta::assert_snapshot!("help_overlay_scrolled", h.render(80, 24));
    // The last page: every line wraps inside the box, none is cut at 80 columns.
    for _ in 0..4 {
        h.press(KeyCode::PageDown);
    }
    let end = h.render(80, 24);
    insta::assert_snapshot!("help_overlay_end", end);
    assert!(end.contains("suspend to the shell") && end.contains("own rate limit"), "{end}");
    h.press(KeyCode::Esc);
    assert_eq!(h.app.mode, Mode::Normal);
}

#[test]
fn add_dialog_with_a_pasted_list() {
    let mut h = busy();
    h.press(KeyCode::Char('a'));
    h.paste("https://example.com/one.iso\nhttps://example.com/two.iso\r\nsee also: https://example.com/three.iso\n");
    // A typed edit after the paste: the cursor sits on the new empty line.
    h.type_text("https://x.org/4");
    h.press(KeyCode::Left);
    insta::assert_snapshot!(h.render(80, 24));
    let before = h.effects.len();
    h.press(KeyCode::Enter);
    let added: Vec<_> = h.effects[before..].iter().filter(|e| matches!(e, Effect::Add(_))).collect();
    assert_eq!(added.len(), 4);
    insta::assert_snapshot!("after_adding_from_the_dialog", h.render(80, 24));
}

#[test]
fn pasting_duplicates_and_words_reports_them() {
    let mut h = busy();
    h.paste("https://example.com/queued.tar hello https://example.com/new.bin");
    assert_eq!(h.effects.iter().filter(|e| matches!(e, Effect::Add(_))).count(), 9);
    let text = h.render(80, 24);
    assert!(text.contains("added 1 URL; skipped 1 already in the list; ignored"), "{text}");
}

#[test]
fn cancel_confirmation() {
    let mut h = busy();
    h.press(KeyCode::Char('c'));
    insta::assert_snapshot!(h.render(80, 24));
}

#[test]
fn quit_confirmation() {
    let mut h = busy();
    h.press(KeyCode::Char('q'));
    insta::assert_snapshot!(h.render(80, 24));
    h.press_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(h.effects.last(), Some(&Effect::Quit));
}

#[test]
fn filter_in_progress() {
    let mut h = busy();
    h.press(KeyCode::Char('/'));
    h.type_text("PDF");
    insta::assert_snapshot!(h.render(80, 24));
}

#[test]
fn worker_cap_shows_at_once() {
    let mut h = busy();
    h.press(KeyCode::Char('+'));
    h.press(KeyCode::Char('+'));
    let screen = h.render(80, 24);
    assert!(screen.lines().next().unwrap().contains("workers 4/6"), "{screen}");
    h.press(KeyCode::Char('-'));
    let screen = h.render(80, 24);
    assert!(screen.lines().next().unwrap().contains("workers 4/5"), "{screen}");
}

#[test]
fn rate_limit_box_then_limits_in_the_header_the_table_and_the_details() {
    let mut h = busy();
    h.press(KeyCode::Char('l'));
    h.type_text("2M");
    insta::assert_snapshot!("global_rate_limit_box", h.render(80, 24));
    h.press(KeyCode::Enter);
    assert_eq!(h.effects.last(), Some(&Effect::Send(Command::SetRateLimit(Some(2 * MIB)))));
    // The second transfer gets its own limit and four connections.
    h.press(KeyCode::Char('j'));
    h.press(KeyCode::Char('L'));
    h.type_text("512K");
    h.press(KeyCode::Enter);
    for _ in 0..3 {
        h.press(KeyCode::Char('x'));
    }
    let id = ItemId(2);
    let sent: Vec<_> = h.effects.iter().rev().take(4).rev().cloned().collect();
    assert_eq!(
        sent,
        vec![
            Effect::Send(Command::SetItemRateLimit { id, limit: Some(512 * 1024) }),
            Effect::Send(Command::SetItemConnections { id, connections: 2 }),
            Effect::Send(Command::SetItemConnections { id, connections: 3 }),
            Effect::Send(Command::SetItemConnections { id, connections: 4 }),
        ]
    );
    // The engine confirms.
    h.event(60.0, EngineEvent::RateLimitChanged { limit: Some(2 * MIB) });
    h.event(60.0, EngineEvent::ItemLimitsChanged { id, rate_limit: Some(512 * 1024), connections: 4 });
    h.press(KeyCode::Enter);
    let screen = h.render(100, 30);
    assert!(screen.lines().next().unwrap().contains("(limit 2.0 MiB/s)"), "{screen}");
    insta::assert_snapshot!("limits_in_the_header_the_table_and_the_details", screen);
}

#[test]
fn the_url_box_sends_a_new_link_and_the_details_show_its_expiry() {
    let mut h = busy();
    // The failed missing.pdf (item 5) gets a new link.
    for _ in 0..4 {
        h.press(KeyCode::Char('j'));
    }
    h.press(KeyCode::Char('u'));
    h.type_text("?v=2");
    insta::assert_snapshot!("url_box", h.render(80, 24));
    h.press(KeyCode::Enter);
    let url = "https://example.com/missing.pdf?v=2".to_string();
    assert_eq!(h.effects.last(), Some(&Effect::Send(Command::Refresh { id: ItemId(5), url })));
    // The engine confirms with a signed link's expiry: the details pane says it. (The pane
    // reads the real clock: a link that already expired draws the same every time.)
    let expired = std::time::SystemTime::now() - Duration::from_secs(60);
    let url = "https://example.com/missing.pdf?v=3".to_string();
    h.event(61.0, EngineEvent::UrlChanged { id: ItemId(5), url, expires: Some(expired) });
    h.press(KeyCode::Enter);
    insta::assert_snapshot!("details_of_an_expired_link", h.render(100, 30));
    let later = std::time::SystemTime::now() + Duration::from_secs(300);
    let url = "https://example.com/missing.pdf?v=4".to_string();
    h.event(62.0, EngineEvent::UrlChanged { id: ItemId(5), url, expires: Some(later) });
    let screen = h.render(100, 30);
    assert!(screen.contains("Link      expires in 4m5") || screen.contains("expires in 5m00s"), "{screen}");
}

#[test]
fn too_small_terminal() {
    let mut h = busy();
    insta::assert_snapshot!(h.render(40, 10));
}

#[test]
fn key_overrides_change_the_help_and_the_footer() {
    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert("help".to_string(), "h".to_string());
    overrides.insert("add".to_string(), "insert".to_string());
    let mut h = Harness::new();
    h.app.keymap = KeyMap::with_overrides(&overrides).unwrap();
    let screen = h.render(80, 24);
    assert!(screen.contains(" h help "), "{screen}");
    assert!(screen.contains(" Ins add "), "{screen}");
    h.press(KeyCode::Char('h'));
    assert_eq!(h.app.mode, Mode::Help { scroll: 0 });
    let help = h.render(80, 24);
    assert!(help.contains("Ins"), "{help}");
    assert!(!help.contains("?, F1"), "{help}");
}

#[test]
fn docs_key_table_matches_the_code() {
    let table = ui::markdown_key_table(&KeyMap::default());
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(docs.contains(&table), "README.md must contain the generated key table:\n{table}");
}

/// The words after `Actions:` up to the end of the paragraph, without comment markers.
fn listed_actions(text: &str) -> Vec<String> {
    let start = text.find("Actions:").expect("an `Actions:` list") + "Actions:".len();
    let rest = &text[start..];
    let end = rest.find("\n\n").or_else(|| rest.find("\n[")).unwrap_or(rest.len());
    rest[..end]
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c == '`' || c == '.' || c == '#'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_config_and_the_docs_list_every_key_action() {
    let names: Vec<String> = dlm::tui::keys::ALL.iter().map(|i| i.name.to_string()).collect();
    for file in ["config.example.toml", "README.md"] {
        let text = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(listed_actions(&text), names, "{file}");
    }
}

#[test]
fn every_key_action_is_reachable_from_its_default_key() {
    // Guards the table against a row whose default keys are shadowed by another action.
    let map = KeyMap::default();
    for info in dlm::tui::keys::ALL {
        assert!(!map.keys(info.action).is_empty(), "{}", info.name);
    }
    assert_eq!(KeyAction::from_name("workers_up"), Some(KeyAction::WorkersUp));
}

#[test]
fn shift_d_asks_once_before_removing_the_completed_transfers() {
    let mut h = busy();
    h.press(KeyCode::Char('D'));
    insta::assert_snapshot!(h.render(80, 24));
    h.press(KeyCode::Char('y'));
    let removes = h.effects.iter().filter(|e| matches!(e, Effect::Send(Command::Remove(_)))).count();
    assert_eq!(removes, 1, "{:?}", h.effects);
}
