//! The table's order and numbers (issue 16): `s` sorts and the selection stays on its item,
//! the filter matches states, `f`/`n` jump to the next failed/running item, narrow terminals
//! drop whole columns instead of digits, and the states say what is true (stalled, a retry's
//! countdown, done). Engine events are injected into `App::apply` and keys go through the
//! same translation as the event loop; the screen is drawn into ratatui's `TestBackend`. The
//! clock is a fixed base plus offsets, so nothing depends on the machine's speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use dlm::engine::{EngineEvent, ItemError, ItemId, StartInfo};
use dlm::tui::app::SortKey;
use dlm::tui::{App, KeyMap, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const MIB: u64 = 1024 * 1024;

/// An app with `n` items added straight through `apply`, as the session reports them.
struct View {
    app: App,
    t0: Instant,
}

impl View {
    fn with_items(n: u64) -> Self {
        let t0 = Instant::now();
        let mut app = App::new(KeyMap::default(), PathBuf::from("/home/me/Downloads"), 4, t0);
        app.free_space = Some(52 * 1024 * MIB);
        for id in 1..=n {
            let url = format!("https://example.com/files/file-{id:05}.bin");
            app.apply(EngineEvent::added(ItemId(id), url, "/home/me/Downloads"), t0);
        }
        app.tick(t0);
        View { app, t0 }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn event(&mut self, secs: f64, event: EngineEvent) {
        let now = self.at(secs);
        self.app.apply(event, now);
    }

    fn start(&mut self, secs: f64, id: u64, name: &str, total: Option<u64>) {
        let info = StartInfo {
            name: name.into(),
            path: PathBuf::from(format!("/home/me/Downloads/{name}")),
            total,
            offset: 0,
            final_url: String::new(),
            status: 200,
            resumable: true,
            validator: None,
            ranges_unreliable: false,
        };
        self.event(secs, EngineEvent::Started { id: ItemId(id), info });
    }

    fn press(&mut self, c: char) {
        let event = Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        let action = self.app.action_for(&event).expect("a bound key");
        self.app.update(action);
    }

    /// A new filter: Esc clears the one in force, then `/`, the text and Enter.
    fn type_filter(&mut self, text: &str) {
        self.app.update(dlm::tui::Action::Input(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        self.press('/');
        for c in text.chars() {
            self.press(c);
        }
        let enter = Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        let action = self.app.action_for(&enter).unwrap();
        self.app.update(action);
    }

    fn selected_id(&self) -> Option<ItemId> {
        self.app.selected().map(|r| r.id)
    }

    fn render(&mut self, width: u16, height: u16) -> String {
        self.app.update(dlm::tui::Action::Resize { width, height });
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| ui::draw(f, &mut self.app)).unwrap();
        terminal.backend().to_string()
    }
}

/// 2,000 items, some running at different rates, one failed: the sort cycles through every
/// order, the selected item stays selected through each, and running items come first under
/// the state sort even though they were added last.
#[test]
fn sort_cycles_through_every_order_and_keeps_the_selection_with_2000_items() {
    let mut v = View::with_items(2000);
    let running = [(1990u64, 1), (1995, 3), (2000, 2)];
    for (id, _) in running {
        v.start(0.5, id, &format!("zz-{id}.bin"), Some(100 * MIB));
    }
    for s in 1..=4u64 {
        for (id, rate) in running {
            v.event(s as f64, EngineEvent::Progress { id: ItemId(id), bytes: s * rate * MIB });
        }
        v.app.tick(v.at(s as f64));
    }
    v.event(5.0, EngineEvent::Failed { id: ItemId(7), error: ItemError::other("gone") });
    // Select item 1234.
    v.type_filter("file-01234");
    assert_eq!(v.selected_id(), Some(ItemId(1234)));
    v.type_filter("");
    assert_eq!(v.app.view().len(), 2000);
    assert_eq!(v.selected_id(), Some(ItemId(1234)));

    let mut seen = Vec::new();
    for _ in 0..5 {
        v.press('s');
        assert_eq!(
            v.selected_id(),
            Some(ItemId(1234)),
            "the selection follows its item ({:?})",
            v.app.sort()
        );
        let screen = v.render(100, 30);
        assert!(screen.contains("file-01234.bin"), "the selected item stays on screen:\n{screen}");
        seen.push(v.app.sort());
        let view = v.app.view();
        match v.app.sort() {
            SortKey::State => {
                assert_eq!(&view[..3], &[ItemId(1990), ItemId(1995), ItemId(2000)]);
                assert_eq!(view[3], ItemId(7), "failed right after running");
                assert!(screen.contains("sorted by state"), "{screen}");
            }
            SortKey::Progress => assert_eq!(&view[..3], &[ItemId(1995), ItemId(2000), ItemId(1990)]),
            SortKey::Rate => assert_eq!(&view[..3], &[ItemId(1995), ItemId(2000), ItemId(1990)]),
            SortKey::Name => {
                assert_eq!(view[0], ItemId(1));
                assert_eq!(&view[1997..], &[ItemId(1990), ItemId(1995), ItemId(2000)], "zz- names last");
            }
            SortKey::Queue => assert!(view.windows(2).all(|w| w[0] < w[1])),
        }
    }
    assert_eq!(seen, [SortKey::State, SortKey::Progress, SortKey::Rate, SortKey::Name, SortKey::Queue]);
}

/// Under a state sort a row moves when its state changes, and the selection goes with it.
#[test]
fn a_state_change_moves_the_row_under_the_state_sort_and_the_selection_follows() {
    let mut v = View::with_items(50);
    v.press('s');
    v.type_filter("file-00040");
    v.type_filter("");
    assert_eq!(v.selected_id(), Some(ItemId(40)));
    v.start(1.0, 40, "file-00040.bin", Some(MIB));
    v.render(80, 24);
    assert_eq!(v.app.view()[0], ItemId(40), "running first");
    assert_eq!(v.app.selected_index(), 0);
    assert_eq!(v.selected_id(), Some(ItemId(40)));
}

#[test]
fn the_filter_matches_states_by_word() {
    let mut v = View::with_items(10);
    v.start(1.0, 3, "three.bin", Some(MIB));
    v.start(1.0, 8, "eight.bin", None);
    v.event(2.0, EngineEvent::Failed { id: ItemId(5), error: ItemError::other("404") });
    v.type_filter("running");
    assert_eq!(v.app.view(), &[ItemId(3), ItemId(8)]);
    v.type_filter("fail");
    assert_eq!(v.app.view(), &[ItemId(5)]);
    // A state change under the filter takes the row out of it.
    v.type_filter("running");
    v.event(3.0, EngineEvent::Paused { id: ItemId(3), bytes: 0 });
    v.render(80, 24);
    assert_eq!(v.app.view(), &[ItemId(8)]);
}

#[test]
fn f_and_n_jump_to_the_next_failed_and_running_item_and_wrap() {
    let mut v = View::with_items(30);
    for id in [4, 20] {
        v.event(1.0, EngineEvent::Failed { id: ItemId(id), error: ItemError::other("404") });
    }
    v.start(1.0, 12, "twelve.bin", Some(MIB));
    v.press('f');
    assert_eq!(v.selected_id(), Some(ItemId(4)));
    v.press('f');
    assert_eq!(v.selected_id(), Some(ItemId(20)));
    v.press('f');
    assert_eq!(v.selected_id(), Some(ItemId(4)), "wraps round");
    v.press('n');
    assert_eq!(v.selected_id(), Some(ItemId(12)));
    v.press('n');
    assert_eq!(v.selected_id(), Some(ItemId(12)), "the only running item");
    v.event(2.0, EngineEvent::Paused { id: ItemId(12), bytes: 0 });
    v.press('n');
    assert_eq!(v.selected_id(), Some(ItemId(12)));
    assert!(v.render(80, 24).contains("no running transfers"));
}

/// Real sizes at 50, 56, 64 and 80 columns: every number keeps all its digits and its unit
/// (the 256 MiB item never reads "6 MiB", the rate never "iB/s", the `%` stays), whole
/// columns go instead, ETA first, then the rate (the bar goes last: see the unit test
/// `columns_drop_eta_then_rate_then_bar_and_always_fit`).
fn narrow() -> View {
    let mut v = View::with_items(3);
    v.start(0.5, 1, "debian-13.1.0-amd64-netinst.iso", Some(256 * MIB));
    v.start(0.5, 2, "linux-6.17.tar.xz", Some(1024 * MIB + 10));
    v.start(0.5, 3, "stream.ts", None);
    for s in 1..=10u64 {
        v.event(s as f64, EngineEvent::Progress { id: ItemId(1), bytes: s * 12 * MIB });
        v.event(s as f64, EngineEvent::Progress { id: ItemId(2), bytes: s * 3 * MIB });
        v.event(s as f64, EngineEvent::Progress { id: ItemId(3), bytes: s * MIB });
        v.app.tick(v.at(s as f64));
    }
    v
}

#[test]
fn narrow_terminals_drop_columns_never_digits() {
    for (width, rate, eta, bar) in
        [(50, false, false, true), (56, false, false, true), (64, true, false, true), (80, true, true, true)]
    {
        let screen = narrow().render(width, 16);
        let rows: Vec<&str> = screen.lines().filter(|l| l.contains(".iso") || l.contains(".xz")).collect();
        assert_eq!(rows.len(), 2, "{screen}");
        assert!(rows[0].contains(" 256 MiB ") && rows[0].contains(" 46%"), "{width}: {screen}");
        assert!(rows[1].contains(" 1.0 GiB ") && rows[1].contains("  2%"), "{width}: {screen}");
        assert_eq!(rows[0].contains(" 12.0 MiB/s"), rate, "{width}: {screen}");
        assert_eq!(screen.contains("ETA"), eta, "{width}: {screen}");
        assert_eq!(rows[0].contains('█'), bar, "{width}: {screen}");
        assert!(!screen.contains(" iB/s") && !screen.contains(" .0 GiB"), "{width}: {screen}");
        insta::assert_snapshot!(format!("narrow_{width}"), screen);
    }
}

#[test]
fn header_counts_every_state_and_says_where_files_go_with_total_progress_and_time_left() {
    let mut v = narrow();
    v.event(11.0, EngineEvent::Cancelled { id: ItemId(3) });
    v.app.tick(v.at(11.0));
    let screen = v.render(100, 24);
    assert!(screen.contains("1 cancelled"), "{screen}");
    assert!(screen.contains("saving to /home/me/Downloads (52.0 GiB free)"), "{screen}");
    // 150 MiB of 1.25 GiB: 11%, and what is left at the current 15 MiB/s.
    // 150 MiB of 1.25 GiB; 1,130 MiB left at the current 10 MiB/s.
    assert!(screen.contains(" 11%  150 MiB of 1.3 GiB  1m53s left"), "{screen}");
    assert!(screen.contains("max 16.0 MiB/s"), "the graph has a scale: {screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_download_with_no_bytes_for_a_while_says_stalled_and_a_retry_counts_down() {
    let mut v = narrow();
    let quiet = v.render(80, 16);
    assert!(!quiet.contains("stalled"), "{quiet}");
    v.app.tick(v.at(16.0));
    v.event(22.0, EngineEvent::Progress { id: ItemId(2), bytes: 40 * MIB });
    v.event(
        16.0,
        EngineEvent::Retrying {
            id: ItemId(3),
            attempt: 2,
            delay: Duration::from_secs(8),
            reason: "connection reset by peer".into(),
        },
    );
    v.app.tick(v.at(22.0));
    let screen = v.render(80, 16);
    let line = |name: &str| screen.lines().find(|l| l.contains(name)).unwrap_or_default().to_string();
    assert!(line("debian").contains("! stalled 12s"), "{screen}");
    assert!(line("linux").contains("↓ downloading"), "{screen}");
    assert!(line("stream").contains("↻ retry 2 in 2s"), "{screen}");
    assert!(line("stream").contains("connection reset by peer  "), "covers the bytes so far: {screen}");
}

/// The reason gets the room the name does not use, and the URL the row already names is not
/// said again.
#[test]
fn an_error_gets_the_rows_room_and_does_not_repeat_the_url() {
    let mut v = View::with_items(1);
    let url = "https://example.com/files/file-00001.bin";
    let message =
        format!("server answered 503 Service Unavailable for {url} after 3 attempts; it said: maintenance");
    v.event(1.0, EngineEvent::Failed { id: ItemId(1), error: ItemError::other(message) });
    let screen = v.render(120, 16);
    let row = screen.lines().find(|l| l.contains("✗ failed")).unwrap();
    assert!(
        row.contains("server answered 503 Service Unavailable after 3 attempts; it said: maintenance"),
        "{screen}"
    );
    assert!(!row.contains("example.com"), "the row names its item by the file name: {row}");
}

/// An item found already on disk says "done" like one fetched now; the details say which.
#[test]
fn finished_items_say_done_and_the_details_show_time_and_mean_rate() {
    let mut v = View::with_items(2);
    let done = |id: u64, skipped| EngineEvent::Completed {
        id: ItemId(id),
        path: PathBuf::from(format!("/home/me/Downloads/{id}.bin")),
        bytes: 40 * MIB,
        skipped,
    };
    v.event(0.0, done(1, true));
    v.start(1.0, 2, "2.bin", Some(40 * MIB));
    v.event(9.0, done(2, false));
    let screen = v.render(100, 30);
    assert!(!screen.contains("had it"), "{screen}");
    assert_eq!(screen.matches("✓ done").count(), 2, "{screen}");
    v.press('j');
    let enter = Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let action = v.app.action_for(&enter).unwrap();
    v.app.update(action);
    let screen = v.render(100, 30);
    assert!(screen.contains("8s elapsed  ·  mean 5.0 MiB/s"), "{screen}");
}

/// A restored finished item whose file is gone (the restore plan flags it on the snapshot) says
/// "missing" and matches that filter; fetched again, it is done.
#[test]
fn a_restored_item_whose_file_is_gone_says_missing_until_it_is_fetched_again() {
    let mut v = View::with_items(1);
    let mut item = dlm::engine::ItemSnapshot::new(
        ItemId(2),
        "https://example.com/gone.iso",
        "/home/me/Downloads".into(),
        dlm::engine::ItemLimits { rate_limit: None, connections: 1 },
    );
    item.missing = true;
    v.event(0.0, EngineEvent::Added { id: ItemId(2), item: Box::new(item) });
    let path = PathBuf::from("/home/me/Downloads/gone.iso");
    v.event(0.0, EngineEvent::Completed { id: ItemId(2), path, bytes: MIB, skipped: true });
    let screen = v.render(100, 20);
    assert!(screen.contains("? missing") && !screen.contains("✓ done"), "{screen}");
    v.type_filter("missing");
    assert_eq!(v.app.view(), &[ItemId(2)]);
    v.start(1.0, 2, "gone.iso", Some(MIB));
    v.event(
        2.0,
        EngineEvent::Completed {
            id: ItemId(2),
            path: "/home/me/Downloads/gone.iso".into(),
            bytes: MIB,
            skipped: false,
        },
    );
    v.type_filter("done");
    let screen = v.render(100, 20);
    assert!(screen.contains("✓ done") && !screen.contains("? missing"), "{screen}");
}

/// The add dialog at the smallest screen dlm draws, 50×12: its title, its text box and its
/// keys all show, inside the screen.
#[test]
fn the_add_dialog_fits_at_50_by_12() {
    let mut v = View::with_items(3);
    v.press('a');
    let screen = v.render(50, 12);
    insta::assert_snapshot!(screen);
    assert!(screen.contains("Add downloads") && screen.contains("paste works here"), "{screen}");
    assert!(screen.contains(" Enter adds ") && screen.contains("Esc closes"), "{screen}");
    assert!(screen.lines().any(|l| l.contains('└') && l.contains('┘')), "the bottom border: {screen}");
}
