//! Unit tests of the UI's model: keys, dialogs, pastes and engine events through `update`
//! and `apply`, as the loop sends them, without a terminal or an engine.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use ratatui::layout::Rect;

use super::*;
use crate::engine::{EngineEvent, ItemError, ItemSnapshot, StartInfo};

fn app() -> (App, Instant) {
    let now = Instant::now();
    (App::new(KeyMap::default(), PathBuf::from("/dl"), 4, now), now)
}

/// Runs an action and answers `Add` effects as the session and the engine do: an `Added`
/// with the URL as the engine shows it and the default limits, ids from 1.
fn run(app: &mut App, action: Action) -> Vec<Effect> {
    let effects = app.update(action);
    for e in &effects {
        if let Effect::Add(req) = e {
            let id = ItemId(app.len() as u64 + 1);
            let item = ItemSnapshot::new(id, dedup_key(&req.url), PathBuf::from("/dl"), app.item_defaults);
            app.apply(EngineEvent::Added { id, item: Box::new(item) }, app.now);
        }
    }
    effects
}

fn key(c: char) -> Action {
    Action::Input(KeyEvent {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

fn started(id: u64, total: Option<u64>) -> EngineEvent {
    EngineEvent::Started {
        id: ItemId(id),
        info: StartInfo {
            name: format!("file{id}.bin"),
            path: PathBuf::from(format!("/dl/file{id}.bin")),
            total,
            offset: 0,
            final_url: format!("http://h/file{id}.bin"),
            status: 200,
            resumable: true,
            validator: None,
            ranges_unreliable: false,
        },
    }
}

#[test]
fn paste_adds_urls_reports_other_words_and_skips_duplicates() {
    let (mut a, _) = app();
    let fx = run(&mut a, Action::Paste("see http://h/a\nhttp://h/b http://h/a and".into()));
    assert_eq!(fx.len(), 2);
    assert_eq!(a.len(), 2);
    let msg = a.message.clone().unwrap();
    assert!(msg.text.contains("added 2 URLs"), "{}", msg.text);
    assert!(msg.text.contains("skipped 1"), "{}", msg.text);
    assert!(msg.text.contains("\"see\""), "{}", msg.text);
    // Pasting again while they are queued adds nothing.
    assert!(run(&mut a, Action::Paste("http://h/a".into())).is_empty());
    // Once done, a paste says so rather than making `a (1)`; `r` on the row fetches it again.
    a.apply(EngineEvent::Completed { id: ItemId(1), path: "/dl/a".into(), bytes: 1, skipped: false }, a.now);
    assert!(run(&mut a, Action::Paste("http://h/a".into())).is_empty());
}

#[test]
fn a_second_paste_before_the_engine_confirms_the_first_is_a_duplicate() {
    let (mut a, now) = app();
    assert_eq!(a.update(Action::Paste("http://h/a".into())).len(), 1);
    assert!(a.is_empty(), "rows come from the engine's Added");
    assert!(a.update(Action::Paste("http://h/a".into())).is_empty(), "still in flight");
    a.apply(EngineEvent::added(ItemId(1), "http://h/a", "/dl"), now);
    assert_eq!(a.len(), 1);
    assert!(a.update(Action::Paste("http://h/a".into())).is_empty(), "now listed and queued");
}

#[test]
fn labels_fall_back_to_the_url_tail() {
    let limits = ItemLimits { rate_limit: None, connections: 1 };
    let row = |url: &str| Row::new(ItemSnapshot::new(ItemId(1), url, PathBuf::from("/dl"), limits));
    assert_eq!(row("http://h/a/b.iso?x=1").label(), "b.iso");
    assert_eq!(row("http://h/a/dir/").label(), "dir");
    assert_eq!(row("http://h.example/").label(), "h.example/");
    assert_eq!(row("not a url").label(), "not a url");
}

#[test]
fn worker_cap_changes_at_once_and_clamps() {
    let (mut a, _) = app();
    assert_eq!(a.update(Action::Key(KeyAction::WorkersUp)), vec![Effect::Send(Command::SetWorkers(5))]);
    assert_eq!(a.cap, 5);
    for _ in 0..10 {
        a.update(Action::Key(KeyAction::WorkersDown));
    }
    assert_eq!(a.cap, 1);
    assert!(a.update(Action::Key(KeyAction::WorkersDown)).is_empty());
    a.apply(EngineEvent::WorkersChanged { cap: 64 }, a.now);
    assert!(a.update(Action::Key(KeyAction::WorkersUp)).is_empty());
    assert_eq!(a.cap, 64);
}

fn enter() -> Action {
    Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

fn type_text(a: &mut App, text: &str) {
    for c in text.chars() {
        a.update(key(c));
    }
}

#[test]
fn global_rate_limit_box_sets_clears_and_rejects_nonsense() {
    let (mut a, now) = app();
    a.update(Action::Key(KeyAction::RateLimit));
    assert_eq!(a.mode, Mode::Limit(LimitTarget::All));
    assert!(a.limit_input.is_empty());
    type_text(&mut a, "2M");
    assert_eq!(a.update(enter()), vec![Effect::Send(Command::SetRateLimit(Some(2 << 20)))]);
    assert_eq!((a.mode.clone(), a.rate_limit), (Mode::Normal, Some(2 << 20)), "shown at once");
    // The box opens on the limit in force; a bad entry keeps it open and says why.
    a.update(Action::Key(KeyAction::RateLimit));
    assert_eq!(a.limit_input.text(), "2M");
    a.update(Action::Paste("fast".into()));
    assert!(a.update(enter()).is_empty());
    assert_eq!(a.mode, Mode::Limit(LimitTarget::All));
    assert!(a.message.as_ref().unwrap().text.contains("invalid size"), "{:?}", a.message);
    // Ctrl-U then 0: no limit.
    a.update(Action::Input(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
    type_text(&mut a, "0");
    assert_eq!(a.update(enter()), vec![Effect::Send(Command::SetRateLimit(None))]);
    assert_eq!(a.rate_limit, None);
    // Esc closes without sending; the engine's word wins over what was shown.
    a.update(Action::Key(KeyAction::RateLimit));
    type_text(&mut a, "1M");
    assert!(a.update(Action::Input(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE))).is_empty());
    assert_eq!((a.mode.clone(), a.rate_limit), (Mode::Normal, None));
    a.apply(EngineEvent::RateLimitChanged { limit: Some(500) }, now);
    assert_eq!(a.rate_limit, Some(500));
}

#[test]
fn item_rate_limit_applies_to_the_selected_unfinished_item() {
    let (mut a, now) = app();
    run(&mut a, Action::Paste("http://h/a http://h/b".into()));
    a.update(Action::Key(KeyAction::Down));
    a.update(Action::Key(KeyAction::ItemRateLimit));
    assert_eq!(a.mode, Mode::Limit(LimitTarget::Item(ItemId(2))));
    type_text(&mut a, "512K");
    let id = ItemId(2);
    assert_eq!(
        a.update(enter()),
        vec![Effect::Send(Command::SetItemRateLimit { id, limit: Some(512 << 10) })]
    );
    assert_eq!(a.row(id).unwrap().limits.rate_limit, Some(512 << 10));
    assert_eq!(a.row(ItemId(1)).unwrap().limits.rate_limit, None);
    // The item going away closes its box.
    a.update(Action::Key(KeyAction::ItemRateLimit));
    a.apply(EngineEvent::Removed { id }, now);
    assert_eq!(a.mode, Mode::Normal);
    // A finished item gets a word, not a box.
    a.apply(EngineEvent::Completed { id: ItemId(1), path: "/dl/a".into(), bytes: 1, skipped: false }, now);
    assert!(a.update(Action::Key(KeyAction::ItemRateLimit)).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.message.as_ref().unwrap().text.contains("finished"));
}

#[test]
fn connections_keys_count_from_the_defaults_and_clamp() {
    let (mut a, now) = app();
    a.item_defaults = ItemLimits { rate_limit: Some(1000), connections: 4 };
    run(&mut a, Action::Paste("http://h/a".into()));
    let id = ItemId(1);
    let row = a.row(id).unwrap();
    assert_eq!(
        (row.limits.connections, row.limits.rate_limit),
        (4, Some(1000)),
        "new rows start at the defaults"
    );
    let set = |n| vec![Effect::Send(Command::SetItemConnections { id, connections: n })];
    assert_eq!(a.update(Action::Key(KeyAction::ConnectionsUp)), set(5));
    assert_eq!(a.update(Action::Key(KeyAction::ConnectionsUp)), set(6), "counts from what it showed");
    a.apply(EngineEvent::ItemLimitsChanged { id, rate_limit: None, connections: 32 }, now);
    assert!(a.update(Action::Key(KeyAction::ConnectionsUp)).is_empty());
    assert!(a.message.as_ref().unwrap().text.contains("already uses 32"));
    a.apply(EngineEvent::ItemLimitsChanged { id, rate_limit: None, connections: 2 }, now);
    assert_eq!(a.update(Action::Key(KeyAction::ConnectionsDown)), set(1));
    assert!(a.update(Action::Key(KeyAction::ConnectionsDown)).is_empty());
    assert_eq!(a.row(id).unwrap().limits.connections, 1);
    a.apply(EngineEvent::Failed { id, error: ItemError::other("x") }, now);
    assert!(a.update(Action::Key(KeyAction::ConnectionsUp)).is_empty());
    // Nothing selected: nothing happens.
    let (mut empty, _) = app();
    assert!(empty.update(Action::Key(KeyAction::ConnectionsUp)).is_empty());
    assert!(empty.update(Action::Key(KeyAction::ItemRateLimit)).is_empty());
    assert_eq!(empty.mode, Mode::Normal);
}

#[test]
fn cancel_asks_then_sends_with_the_chosen_partial_policy() {
    let (mut a, _) = app();
    run(&mut a, Action::Paste("http://h/a".into()));
    assert!(a.update(Action::Key(KeyAction::Cancel)).is_empty());
    assert_eq!(a.mode, Mode::ConfirmCancel(ItemId(1)));
    assert!(a.update(key('n')).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    a.update(Action::Key(KeyAction::Cancel));
    assert_eq!(
        a.update(key('d')),
        vec![Effect::Send(Command::Cancel { id: ItemId(1), delete_partial: true })]
    );
}

#[test]
fn quit_asks_only_while_something_runs() {
    let (mut a, _) = app();
    assert_eq!(a.update(Action::Key(KeyAction::Quit)), vec![Effect::Quit]);
    run(&mut a, Action::Paste("http://h/a".into()));
    assert!(a.update(Action::Key(KeyAction::Quit)).is_empty());
    assert_eq!(a.mode, Mode::ConfirmQuit);
    assert_eq!(a.update(key('y')), vec![Effect::Quit]);
}

#[test]
fn pause_resume_retry_remove_follow_the_state() {
    let (mut a, now) = app();
    run(&mut a, Action::Paste("http://h/a".into()));
    let id = ItemId(1);
    assert_eq!(a.update(Action::Key(KeyAction::TogglePause)), vec![Effect::Send(Command::Pause(id))]);
    a.apply(EngineEvent::Paused { id, bytes: 10 }, now);
    assert_eq!(a.update(Action::Key(KeyAction::TogglePause)), vec![Effect::Send(Command::Resume(id))]);
    assert!(a.update(Action::Key(KeyAction::Retry)).is_empty());
    assert!(a.update(Action::Key(KeyAction::Remove)).is_empty());
    a.apply(EngineEvent::Failed { id, error: ItemError::other("server answered 404") }, now);
    assert_eq!(a.update(Action::Key(KeyAction::Retry)), vec![Effect::Send(Command::Retry(id))]);
    assert_eq!(a.update(Action::Key(KeyAction::Remove)), vec![Effect::Send(Command::Remove(id))]);
    a.apply(EngineEvent::Removed { id }, now);
    assert!(a.is_empty());
    assert!(a.selected().is_none());
}

#[test]
fn rates_come_from_ticks_and_progress() {
    let (mut a, t0) = app();
    run(&mut a, Action::Paste("http://h/a".into()));
    a.apply(started(1, Some(1000)), t0);
    a.tick(t0);
    a.apply(EngineEvent::Progress { id: ItemId(1), bytes: 100 }, t0 + Duration::from_millis(500));
    assert!(a.tick(t0 + Duration::from_secs(1)));
    assert_eq!(a.row(ItemId(1)).unwrap().rate, 100.0);
    assert_eq!(a.history.back(), Some(&100));
    assert_eq!(a.row(ItemId(1)).unwrap().eta(), Some(Duration::from_secs(9)));
    a.apply(EngineEvent::Completed { id: ItemId(1), path: "/dl/a".into(), bytes: 1000, skipped: false }, t0);
    assert_eq!(a.total_rate(), 0.0);
    let c = a.counts();
    assert_eq!((c.done, c.bytes, c.total), (1, 1000, 1000));
}

#[test]
fn restored_rows_show_their_name_size_and_bytes_from_the_first_snapshot() {
    let (mut a, now) = app();
    let id = ItemId(7);
    // What the engine reports for an item restored with its `.part`: name, size, bytes.
    let limits = ItemLimits { rate_limit: None, connections: 1 };
    let mut item = ItemSnapshot::new(id, "http://***@h/x?y=1", PathBuf::from("/dl"), limits);
    item.name = Some("big.iso".into());
    item.path = Some("/dl/big.iso".into());
    item.total = Some(1000);
    item.bytes = 120;
    a.apply(EngineEvent::Added { id, item: Box::new(item) }, now);
    a.apply(EngineEvent::Paused { id, bytes: 120 }, now);
    let row = a.row(id).unwrap();
    assert_eq!((row.label(), row.total, row.bytes), ("big.iso", Some(1000), 120));
    assert_eq!(row.path.as_deref(), Some(std::path::Path::new("/dl/big.iso")));
    assert_eq!(row.url, "http://***@h/x?y=1", "never the credentials");
    let c = a.counts();
    assert_eq!((c.bytes, c.total, c.unknown_sizes), (120, 1000, 0), "the header is not 1000 of 1000+");
    // Nothing was received in this session: the graph's first point is not the 120 bytes.
    a.tick(now);
    a.tick(now + Duration::from_secs(1));
    assert_eq!(a.history.back(), Some(&0));
}

#[test]
fn filter_narrows_the_view_and_keeps_the_selection() {
    let (mut a, now) = app();
    run(&mut a, Action::Paste("http://h/alpha http://h/beta http://h/alphabet".into()));
    a.update(Action::Key(KeyAction::Bottom));
    a.update(Action::Key(KeyAction::Filter));
    type_text(&mut a, "ALPHA");
    assert_eq!(a.view(), &[ItemId(1), ItemId(3)]);
    assert_eq!(a.selected().unwrap().id, ItemId(3));
    a.apply(started(2, None), now);
    a.update(Action::Input(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert_eq!(a.view().len(), 3);
    assert_eq!(a.selected().unwrap().id, ItemId(3));
}

#[test]
fn add_dialog_takes_keys_and_pastes_and_submits_on_enter() {
    let (mut a, _) = app();
    a.update(Action::Key(KeyAction::Add));
    assert_eq!(a.mode, Mode::Add);
    // Keys bound in the main view are plain text here.
    let typed = a.action_for(&Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)));
    assert_eq!(typed, Some(key('q')));
    run(&mut a, Action::Paste("http://h/1\nhttp://h/2\n".into()));
    assert_eq!(a.add_input.line_count(), 3);
    let fx = run(&mut a, Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(fx.len(), 2);
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.add_input.is_empty());
}

#[test]
fn navigation_and_mouse() {
    let (mut a, _) = app();
    let urls: Vec<String> = (0..50).map(|i| format!("http://h/{i}")).collect();
    run(&mut a, Action::Paste(urls.join(" ")));
    a.table_body = Rect::new(0, 5, 80, 10);
    a.update(Action::Key(KeyAction::PageDown));
    assert_eq!(a.selected_index(), 10);
    a.update(Action::Key(KeyAction::Bottom));
    assert_eq!(a.selected_index(), 49);
    a.update(Action::Key(KeyAction::Down));
    assert_eq!(a.selected_index(), 49);
    a.update(Action::Key(KeyAction::Top));
    a.update(Action::ScrollDown);
    assert_eq!(a.selected_index(), 3);
    a.offset = 20;
    a.update(Action::Click { column: 3, row: 7 });
    assert_eq!(a.selected_index(), 22);
    a.update(Action::Click { column: 3, row: 2 });
    assert_eq!(a.selected_index(), 22);
}

/// A named key as the key table binds it, through the same translation as the loop.
fn bound(a: &App, code: KeyCode, modifiers: KeyModifiers) -> Action {
    a.action_for(&Event::Key(KeyEvent::new(code, modifiers))).expect("bound")
}

/// Three transfers: 1 completed, 2 failed, 3 queued.
fn three_states() -> App {
    let (mut a, now) = app();
    run(&mut a, Action::Paste("http://h/a http://h/b http://h/c".into()));
    a.apply(started(1, Some(1)), now);
    a.apply(
        EngineEvent::Completed { id: ItemId(1), path: "/dl/file1.bin".into(), bytes: 1, skipped: false },
        now,
    );
    a.apply(EngineEvent::Failed { id: ItemId(2), error: ItemError::other("x") }, now);
    a
}

#[test]
fn shift_d_asks_once_then_removes_only_the_completed_transfers() {
    let mut a = three_states();
    let d = bound(&a, KeyCode::Char('D'), KeyModifiers::SHIFT);
    assert!(run(&mut a, d).is_empty(), "nothing is removed before the answer");
    assert_eq!(a.mode, Mode::ConfirmRemoveFinished(vec![ItemId(1)]));
    assert_eq!(run(&mut a, key('y')), vec![Effect::Send(Command::Remove(ItemId(1)))]);
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.message.as_ref().unwrap().text.contains("removed 1 completed transfer"));
    // `n` keeps them.
    let mut a = three_states();
    let d = bound(&a, KeyCode::Char('D'), KeyModifiers::SHIFT);
    run(&mut a, d);
    assert!(run(&mut a, key('n')).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn ctrl_r_retries_every_failed_transfer_and_nothing_else() {
    let mut a = three_states();
    let r = bound(&a, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(run(&mut a, r), vec![Effect::Send(Command::Retry(ItemId(2)))]);
    assert!(a.message.as_ref().unwrap().text.contains("retrying 1 failed transfer"));
}

#[test]
fn y_copies_the_shown_url_shift_y_the_path_and_o_opens_only_a_complete_file() {
    let mut a = three_states();
    let y = bound(&a, KeyCode::Char('y'), KeyModifiers::NONE);
    assert_eq!(run(&mut a, y.clone()), vec![Effect::Copy("http://h/a".into())]);
    assert!(a.message.as_ref().unwrap().text.contains("if your terminal allows OSC 52"));
    let shift_y = bound(&a, KeyCode::Char('Y'), KeyModifiers::SHIFT);
    assert_eq!(run(&mut a, shift_y.clone()), vec![Effect::Copy("/dl/file1.bin".into())]);
    let o = bound(&a, KeyCode::Char('o'), KeyModifiers::NONE);
    assert_eq!(run(&mut a, o.clone()), vec![Effect::Open("/dl/file1.bin".into())]);
    let shift_o = bound(&a, KeyCode::Char('O'), KeyModifiers::SHIFT);
    assert_eq!(run(&mut a, shift_o), vec![Effect::Open("/dl".into())]);
    // The queued one has no file yet: o says so, Y too.
    run(&mut a, Action::Key(KeyAction::Bottom));
    assert!(run(&mut a, o).is_empty());
    assert!(a.message.as_ref().unwrap().text.contains("not complete yet"));
    assert!(run(&mut a, shift_y).is_empty());
    assert!(a.message.as_ref().unwrap().text.contains("no file name yet"));
    // Credentials never reach the clipboard: the row shows the URL without them.
    let (mut a, _) = app();
    run(&mut a, Action::Paste("http://user:secret@h/x".into()));
    let effects = run(&mut a, y);
    assert!(matches!(&effects[..], [Effect::Copy(u)] if !u.contains("secret")), "{effects:?}");
}

#[test]
fn removing_one_transfer_says_which() {
    let mut a = three_states();
    run(&mut a, Action::Key(KeyAction::Remove));
    assert_eq!(a.message.as_ref().unwrap().text, "removed file1.bin from the list (the file stays)");
}

#[test]
fn esc_closing_a_text_box_takes_its_error_with_it() {
    let (mut a, _) = app();
    run(&mut a, Action::Key(KeyAction::RateLimit));
    run(&mut a, Action::Paste("fast".into()));
    run(&mut a, Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert!(a.message.is_some(), "the unreadable limit is reported");
    run(&mut a, Action::Input(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.message, None);
}

#[test]
fn reopening_the_filter_selects_it_so_typing_replaces_it() {
    let (mut a, _) = app();
    run(&mut a, Action::Key(KeyAction::Filter));
    run(&mut a, key('o'));
    run(&mut a, key('l'));
    run(&mut a, key('d'));
    run(&mut a, Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(a.filter(), "old");
    run(&mut a, Action::Key(KeyAction::Filter));
    run(&mut a, key('n'));
    assert_eq!(a.filter(), "n");
}

#[test]
fn p_twice_on_a_running_transfer_ends_running_and_shows_pausing_meanwhile() {
    let (mut a, now) = app();
    run(&mut a, Action::Paste("http://h/a".into()));
    a.apply(started(1, Some(1000)), now);
    let p = Action::Key(KeyAction::TogglePause);
    assert_eq!(run(&mut a, p.clone()), vec![Effect::Send(Command::Pause(ItemId(1)))]);
    assert_eq!(
        crate::tui::ui::state_label(a.row(ItemId(1)).unwrap(), std::time::Instant::now()),
        "‖ pausing…"
    );
    // The engine has not stopped it yet: the second press resumes, it is not lost.
    assert_eq!(run(&mut a, p), vec![Effect::Send(Command::Resume(ItemId(1)))]);
    assert_eq!(
        crate::tui::ui::state_label(a.row(ItemId(1)).unwrap(), std::time::Instant::now()),
        "↓ downloading"
    );
}

#[test]
fn shift_p_then_shift_r_leave_every_row_meant_to_run() {
    let (mut a, now) = app();
    run(&mut a, Action::Paste("http://h/a http://h/b".into()));
    a.apply(started(1, Some(1000)), now);
    assert_eq!(run(&mut a, Action::Key(KeyAction::PauseAll)), vec![Effect::Send(Command::PauseAll)]);
    assert_eq!(a.row(ItemId(2)).unwrap().intent, Some(Intent::Pause));
    // The queued one pauses at once; the running one has not stopped yet when R comes.
    a.apply(EngineEvent::Paused { id: ItemId(2), bytes: 0 }, now);
    assert_eq!(run(&mut a, Action::Key(KeyAction::ResumeAll)), vec![Effect::Send(Command::ResumeAll)]);
    assert_eq!(
        crate::tui::ui::state_label(a.row(ItemId(2)).unwrap(), std::time::Instant::now()),
        "↻ resuming…"
    );
    assert_eq!(
        crate::tui::ui::state_label(a.row(ItemId(1)).unwrap(), std::time::Instant::now()),
        "↓ downloading"
    );
    a.apply(EngineEvent::Queued { id: ItemId(2) }, now);
    assert_eq!(a.row(ItemId(2)).unwrap().intent, None);
}

#[test]
fn r_on_a_completed_transfer_asks_then_adds_it_anew_beside_the_old_file() {
    let mut a = three_states();
    assert!(run(&mut a, Action::Key(KeyAction::Retry)).is_empty(), "asks first");
    assert_eq!(a.mode, Mode::ConfirmRedownload(ItemId(1)));
    let effects = a.update(key('y'));
    let request = AddRequest { dir: Some(PathBuf::from("/dl")), ..AddRequest::new("http://h/a") };
    assert_eq!(effects, vec![Effect::Send(Command::Remove(ItemId(1))), Effect::Add(request)]);
    assert!(a.message.as_ref().unwrap().text.contains("the finished file stays"));
    // `x` says the same about what applies to a completed item.
    let mut a = three_states();
    run(&mut a, Action::Key(KeyAction::ConnectionsUp));
    assert_eq!(a.message.as_ref().unwrap().text, "file1.bin is done; r downloads it again");
}

#[test]
fn pasting_a_url_already_downloaded_says_so_and_adds_nothing() {
    let mut a = three_states();
    assert!(run(&mut a, Action::Paste("http://h/a".into())).is_empty());
    let text = &a.message.as_ref().unwrap().text;
    assert!(text.contains("skipped 1 already downloaded (r on it downloads it again)"), "{text}");
}

#[test]
fn shift_f_sets_the_folder_that_new_adds_carry() {
    let (mut a, _) = app();
    run(&mut a, Action::Key(KeyAction::DownloadFolder));
    assert_eq!(a.mode, Mode::Folder);
    assert_eq!(a.folder_input.text(), "/dl");
    run(&mut a, Action::Paste("/new".into()));
    let effects = run(&mut a, Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(effects, vec![Effect::SetFolder("/new".into())]);
    a.folder_checked(Err("cannot write in /new".into()));
    assert_eq!(a.mode, Mode::Folder, "the box stays open to fix it");
    a.folder_checked(Ok(PathBuf::from("/new")));
    assert_eq!((a.mode.clone(), a.download_dir.clone()), (Mode::Normal, PathBuf::from("/new")));
    let effects = a.update(Action::Paste("http://h/z".into()));
    assert_eq!(
        effects,
        vec![Effect::Add(AddRequest { dir: Some("/new".into()), ..AddRequest::new("http://h/z") })]
    );
}

#[test]
fn the_add_box_folder_field_sends_its_urls_to_a_checked_folder() {
    let (mut a, _) = app();
    run(&mut a, Action::Key(KeyAction::Add));
    run(&mut a, Action::Paste("http://h/q".into()));
    assert_eq!(a.add_folder.text(), "/dl", "defaults to the current folder");
    let input = |a: &mut App, code| run(a, Action::Input(KeyEvent::new(code, KeyModifiers::NONE)));
    input(&mut a, KeyCode::Tab);
    run(&mut a, Action::Paste("/sub".into()));
    let effects = input(&mut a, KeyCode::Enter);
    assert_eq!(effects, vec![Effect::AddIn { folder: "/dl/sub".into(), text: "http://h/q".into() }]);
    assert!(a.add_in_folder("http://h/q", Err("cannot create /dl/sub".into())).is_empty());
    assert_eq!(a.mode, Mode::Add, "the box stays open to fix it");
    let effects = a.add_in_folder("http://h/q", Ok(PathBuf::from("/dl/sub")));
    let request = AddRequest { dir: Some("/dl/sub".into()), ..AddRequest::new("http://h/q") };
    assert_eq!(effects, vec![Effect::Add(request)]);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.download_dir, PathBuf::from("/dl"), "only this add goes there");
}

/// Issue 11: a checksum after a URL in the add box goes with it; a bad one keeps the box open
/// with the text, so nothing is lost or added unchecked.
#[test]
fn the_add_box_keeps_a_pasted_checksum_and_a_bad_one_keeps_the_box_open() {
    let (mut a, _) = app();
    let hex = "d41d8cd98f00b204e9800998ecf8427e";
    a.update(Action::Key(KeyAction::Add));
    run(&mut a, Action::Paste(format!("http://h/1 md5={hex}\nhttp://h/2 md5=zz\n")));
    let enter = || Action::Input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(run(&mut a, enter()).is_empty());
    assert_eq!(a.mode, Mode::Add);
    assert!(a.add_input.text().contains("md5=zz"), "the text is kept to fix");
    assert!(a.message.as_ref().is_some_and(|m| m.text.contains("http://h/2")), "{:?}", a.message);
    a.add_input.clear();
    a.add_input.insert_str(&format!("http://h/1 md5={hex}"));
    let fx = run(&mut a, enter());
    let [Effect::Add(request)] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!(request.checksum.as_ref().map(|c| c.hex()), Some(hex.to_string()));
}
