#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The saved queue on real files: snapshot and journal with owner-only permissions, damaged
//! and future-version files moved aside, the lock, crash safety (a journal cut mid-line, a
//! writer killed with SIGKILL mid-batch), the cost of one change in a queue of 100,000 items,
//! the first format read and rewritten, and a restore that continues a `.part` with a
//! validated resume through the real engine.

mod support;

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use dlm::engine::{Engine, EngineEvent, EngineOptions, ItemId, ItemState};
use dlm::state::{ItemRecord, JournalOp, SavedQueue, StateError, StateStore, encode_op, restore_plan};
use support::session::len;
use support::{TestServer, assert_file, content};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn record(id: u64, state: ItemState) -> ItemRecord {
    ItemRecord { state, bytes: 5, ..ItemRecord::new(id, format!("http://h/{id}"), Some("/dl".into())) }
}

fn queue_of(items: impl IntoIterator<Item = ItemRecord>) -> SavedQueue {
    items.into_iter().collect()
}

#[test]
fn snapshot_and_journal_round_trip_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let queue = queue_of([record(1, ItemState::Paused), record(2, ItemState::Done)]);
    store.compact(&queue).unwrap();
    store.compact(&queue).unwrap();
    let changed = record(2, ItemState::Failed);
    let len = store.append(&encode_op(&JournalOp::Put(changed.clone())), 0).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(
        loaded.queue.items.values().cloned().collect::<Vec<_>>(),
        [record(1, ItemState::Paused), changed]
    );
    assert_eq!((loaded.notice, loaded.journal_len), (None, len));
    assert_eq!(mode(store.dir()), 0o700);
    assert_eq!(mode(&store.queue_path()), 0o600);
    assert_eq!(mode(&store.journal_path()), 0o600);
    assert_eq!(entries(store.dir()), vec!["queue.journal", "queue.json"], "no temp files left behind");
    let missing = StateStore::at(tmp.path().join("nothing"));
    let loaded = missing.load().unwrap();
    assert_eq!((loaded.queue, loaded.notice), (SavedQueue::default(), None));
}

#[test]
fn corrupt_truncated_and_future_files_are_moved_aside_with_their_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let cases: [(&[u8], &str); 4] = [
        (b"{\"version\":2,\"items\":[{\"url\":\"http://h/a\",\"sta", "damaged"),
        (b"\x00\xff\xfe garbage", "damaged"),
        (b"{\"version\":2,\"items\":[{\"url\":3}]}", "damaged"),
        (b"{\"version\":99,\"items\":[],\"new_field\":{}}", "written by a newer dlm (format 99"),
    ];
    let journal = encode_op(&JournalOp::Put(record(1, ItemState::Queued)));
    for (body, why) in cases {
        for e in entries(tmp.path()) {
            std::fs::remove_file(tmp.path().join(e)).unwrap();
        }
        std::fs::write(store.queue_path(), body).unwrap();
        std::fs::write(store.journal_path(), &journal).unwrap();
        let loaded = store.load().unwrap();
        assert!(loaded.queue.items.is_empty());
        let notice = loaded.notice.unwrap();
        assert!(notice.contains(why) && notice.contains("moved to"), "{notice}");
        let names = entries(tmp.path());
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].starts_with("queue.journal.corrupt-"), "{names:?}");
        assert!(names[1].starts_with("queue.json.corrupt-"), "{names:?}");
        assert_eq!(
            std::fs::read(tmp.path().join(&names[1])).unwrap(),
            body,
            "kept for the person to inspect"
        );
    }
}

/// A crash mid-append leaves a torn last line: it is as if it had never been written, and
/// the next append (a `dlm add` with no dlm running) cuts it off first. A damaged line in the
/// middle is another matter: what came before it is kept, the journal is moved aside.
#[test]
fn a_journal_cut_mid_line_loads_every_whole_line_and_the_next_append_cuts_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let first = encode_op(&JournalOp::Put(record(1, ItemState::Queued)));
    let second = encode_op(&JournalOp::Put(record(2, ItemState::Queued)));
    for cut in 1..second.len() {
        let mut bytes = first.clone();
        bytes.extend_from_slice(&second[..cut]);
        std::fs::write(store.journal_path(), &bytes).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.notice, None, "a torn last line is not damage (cut at {cut})");
        assert_eq!(loaded.queue.items.keys().copied().collect::<Vec<_>>(), [1], "cut at {cut}");
        assert_eq!(loaded.journal_len, first.len() as u64);
    }
    let new = dlm::state::NewItem { url: "http://h/new".into(), dir: Some("/dl".into()), checksum: None };
    let loaded = store.append_new(vec![new]).unwrap();
    assert_eq!(loaded.queue.next_id, 2);
    let loaded = store.load().unwrap();
    assert_eq!(loaded.notice, None);
    let urls: Vec<_> = loaded.queue.items.values().map(|i| (i.id, i.url.as_str())).collect();
    assert_eq!(urls, [(1, "http://h/1"), (2, "http://h/new")]);

    let mut damaged = first.clone();
    damaged.extend_from_slice(b"{\"put\":{\"url\":\n");
    damaged.extend_from_slice(&second);
    std::fs::write(store.journal_path(), &damaged).unwrap();
    let loaded = store.load().unwrap();
    let notice = loaded.notice.unwrap();
    assert!(notice.contains("line 2 of its journal is damaged"), "{notice}");
    assert_eq!(loaded.queue.items.keys().copied().collect::<Vec<_>>(), [1]);
    assert!(entries(tmp.path()).iter().any(|n| n.starts_with("queue.journal.corrupt-")));
    // What was read before the damage is now in the snapshot.
    assert_eq!(store.load().unwrap().queue.items.keys().copied().collect::<Vec<_>>(), [1]);
}

/// The child side of the test below: appends batches of 100 records to the journal for ever,
/// printing how many batches are synced.
#[test]
#[ignore = "run as a child process by kill_9_during_appends_keeps_every_synced_batch"]
fn journal_writer_child() {
    let dir = std::env::var_os("DLM_TEST_JOURNAL_DIR").expect("only run by kill_9_during_appends_…");
    let store = StateStore::at(dir);
    let mut at = 0;
    for batch in 0u64.. {
        let mut lines = Vec::new();
        for i in 0..100 {
            let id = batch * 100 + i + 1;
            lines.extend(encode_op(&JournalOp::Put(ItemRecord {
                validator: Some("x".repeat(200)),
                ..record(id, ItemState::Downloading)
            })));
        }
        at = store.append(&lines, at).unwrap();
        println!("synced {}", batch + 1);
    }
}

/// `kill -9` while batches are being appended: every batch reported synced is loaded whole,
/// at most the batch being written when the signal came is partly there, and no line is torn
/// in a way that counts as damage.
#[test]
fn kill_9_during_appends_keeps_every_synced_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "journal_writer_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("DLM_TEST_JOURNAL_DIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut synced = 0;
    while synced < 20 {
        let line = lines.next().unwrap().unwrap();
        if let Some(n) = line.strip_prefix("synced ") {
            synced = n.parse().unwrap();
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The reader may be behind the writer: count what the child said last.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("synced ") {
            synced = n.parse().unwrap();
        }
    }
    let loaded = StateStore::at(tmp.path()).load().unwrap();
    assert_eq!(loaded.notice, None);
    let count = loaded.queue.items.len() as u64;
    assert!(count >= synced * 100 && count < (synced + 2) * 100, "{count} items, {synced} batches synced");
    let ids: Vec<u64> = loaded.queue.items.keys().copied().collect();
    assert_eq!(ids, (1..=count).collect::<Vec<_>>(), "a prefix of what was written, nothing torn");
    assert!(loaded.queue.items.values().all(|i| i.validator.as_deref().is_some_and(|v| v.len() == 200)));
}

/// Issue 10: a save rewrote the whole 24 MB queue for every change. With 100,000 items, one
/// change now writes one line, and the snapshot is not touched.
#[test]
fn one_change_in_a_hundred_thousand_items_writes_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let queue = queue_of((1..=100_000).map(|id| record(id, ItemState::Queued)));
    store.compact(&queue).unwrap();
    let snapshot = std::fs::metadata(store.queue_path()).unwrap();
    assert!(snapshot.len() > 5_000_000, "{}", snapshot.len());
    let line = encode_op(&JournalOp::Put(record(50_000, ItemState::Paused)));
    let journal_len = store.append(&line, 0).unwrap();
    assert_eq!(journal_len, line.len() as u64);
    assert!(journal_len < 200, "one item's record: {journal_len} bytes");
    assert_eq!(len(&store.journal_path()), journal_len);
    let after = std::fs::metadata(store.queue_path()).unwrap();
    assert_eq!((after.len(), after.modified().unwrap()), (snapshot.len(), snapshot.modified().unwrap()));
    let loaded = store.load().unwrap();
    assert_eq!(loaded.queue.items.len(), 100_000);
    assert_eq!(loaded.queue.items[&50_000].state, ItemState::Paused);
}

/// A queue written by the first format loads (ids in file order, `running` as an item that
/// was running, errors as text) and is written in the current format next time.
#[test]
fn a_queue_of_the_first_format_loads_and_is_rewritten_in_the_current_one() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    std::fs::write(
        store.queue_path(),
        br#"{"version":1,"start_dir":"/home/me","items":[
            {"url":"http://h/a","dir":"/dl","file_name":"a","state":"running","bytes":5,"total":9},
            {"url":"http://h/b","dir":"/dl","state":"failed","error":"server answered 404"}]}"#,
    )
    .unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(loaded.notice, None);
    let a = &loaded.queue.items[&1];
    assert_eq!((a.name.as_deref(), a.state, a.total), (Some("a"), ItemState::Downloading, Some(9)));
    assert_eq!(loaded.queue.items[&2].error.as_ref().unwrap().message, "server answered 404");
    assert_eq!(loaded.queue.next_id, 3);
    let plan = restore_plan(&loaded.queue);
    assert_eq!(plan[0].state, dlm::engine::RestoreAs::Queued, "a running item continues as queued");
    store.compact(&loaded.queue).unwrap();
    let text = std::fs::read_to_string(store.queue_path()).unwrap();
    assert!(text.starts_with("{\"version\":2,"), "{text}");
    assert_eq!(store.load().unwrap().queue, loaded.queue);
}

#[test]
fn second_lock_is_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let held = store.lock(Duration::ZERO).unwrap();
    let err = store.lock(Duration::from_millis(100)).unwrap_err();
    let StateError::Locked { pid, .. } = &err else { panic!("{err}") };
    assert_eq!(*pid, Some(std::process::id()));
    let text = err.to_string();
    assert!(text.contains(&format!("another dlm (pid {}) is already running", std::process::id())), "{text}");
    assert!(text.contains("dlm add"), "{text}");
    drop(held);
    store.lock(Duration::ZERO).unwrap();
}

/// Collects events until `done` says so.
async fn until(
    events: &mut tokio::sync::mpsc::Receiver<EngineEvent>,
    mut done: impl FnMut(&EngineEvent) -> bool,
) -> Vec<EngineEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        let stop = done(&ev);
        seen.push(ev);
        if stop {
            return seen;
        }
    }
}

#[tokio::test]
async fn restore_continues_parts_with_a_validated_resume_and_keeps_states_and_ids() {
    const SIZE: usize = 100_000;
    let server = TestServer::start().await;
    let (big, paused) = (content("big.bin", SIZE), content("paused.bin", SIZE));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A session was killed mid-download: 40 000 bytes in the .part, another item paused.
    std::fs::write(dir.join("big.bin.part"), &big[..40_000]).unwrap();
    std::fs::write(dir.join("paused.bin.part"), &paused[..10]).unwrap();
    std::fs::write(dir.join("old.bin"), b"old").unwrap();
    let saved = |id, name: &str, state| ItemRecord {
        name: Some(name.into()),
        state,
        validator: Some(format!("\"{name}-v0\"")),
        total: Some(SIZE as u64),
        bytes: 1,
        ..ItemRecord::new(id, server.url(&format!("/f/{name}?size={SIZE}")), Some(dir.to_path_buf()))
    };
    let queue = queue_of([
        saved(3, "big.bin", ItemState::Downloading),
        saved(7, "paused.bin", ItemState::Paused),
        ItemRecord { bytes: 3, ..saved(9, "old.bin", ItemState::Done) },
    ]);

    let options = EngineOptions { download_dir: dir.to_path_buf(), ..EngineOptions::default() };
    let (engine, mut events) = Engine::start(options).unwrap();
    let handle = engine.handle();
    for r in restore_plan(&queue) {
        handle.restore_as(r.id, r.request, r.state, r.limits);
    }
    let ids = [ItemId(3), ItemId(7), ItemId(9)];
    let seen = until(&mut events, |e| matches!(e, EngineEvent::Completed { id, .. } if *id == ids[0])).await;
    assert_file(&dir.join("big.bin"), &big);
    assert!(seen.contains(&EngineEvent::Paused { id: ids[1], bytes: 10 }), "{seen:?}");
    assert!(
        seen.iter().any(
            |e| matches!(e, EngineEvent::Completed { id, skipped: true, bytes: 3, .. } if *id == ids[2])
        )
    );
    // New items get ids above the restored ones.
    assert_eq!(handle.add(dlm::engine::AddRequest::new(server.url("/f/new.bin?size=1"))), ItemId(10));

    let requests = server.requests();
    assert_eq!(requests[0].range.as_deref(), Some("bytes=40000-"), "continued, not downloaded again");
    assert_eq!(requests[0].if_range.as_deref(), Some("\"big.bin-v0\""));
    assert!(
        requests.iter().all(|r| !r.path.contains("paused") && !r.path.contains("old")),
        "paused and done items touch no network: {requests:?}"
    );

    // The paused one continues from its .part when resumed.
    handle.send(dlm::engine::Command::Resume(ids[1]));
    until(&mut events, |e| matches!(e, EngineEvent::Completed { id, .. } if *id == ids[1])).await;
    assert_file(&dir.join("paused.bin"), &paused);
    let resumed = server.requests_for("/f/paused.bin");
    assert_eq!(resumed[0].range.as_deref(), Some("bytes=10-"));
    engine.shutdown().await;
}
