#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Whole sessions against the real engine and real files: an add through the control socket
//! is saved and comes back under the same id next time, a second session on the same queue is
//! refused, a restored download shows what its `.part` holds, and saving writes only what
//! changed (one journal line for one item of a long queue, nothing for progress).

mod support;

use std::path::Path;
use std::time::Duration;

use dlm::control::Client;
use dlm::engine::{
    AddRequest, Command, EngineEvent, EngineOptions, ErrorKind, ItemId, ItemSnapshot, ItemState,
};
use dlm::session::{SessionConfig, SessionError, SessionEvent};
use dlm::state::{ItemRecord, SavedQueue, Settings, StateError, StateStore};
use support::TestServer;
use support::session::{self, len};

fn saved(store: &StateStore) -> SavedQueue {
    store.load().unwrap().queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_over_the_socket_is_saved_and_restored_next_time_under_the_same_id() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let socket = tmp.path().join("run/dlm.sock");
    let downloads = tmp.path().join("dl");
    std::fs::create_dir_all(&downloads).unwrap();

    let mut s = session::start(&downloads, Some(store.clone()), Some(socket.clone())).unwrap();
    assert!(s.notices().is_empty());
    let err = session::start(&downloads, Some(store.clone()), None).err().unwrap();
    assert!(matches!(err, SessionError::State(StateError::Locked { .. })), "{err}");

    let added = Client::connect(&socket)
        .await
        .unwrap()
        .add(vec![server.url("/f/hello.txt?size=11").as_str().into()], None, Default::default())
        .await
        .unwrap();
    assert_eq!(added, 1);
    let id = match s.wait_for("the add", |e| matches!(e, EngineEvent::Added { .. })).await {
        EngineEvent::Added { id, .. } => id,
        _ => unreachable!(),
    };
    s.wait_for("the download", |e| matches!(e, EngineEvent::Completed { id: i, .. } if *i == id)).await;
    let closed = s.close().await;
    assert!(closed.stopped_in_time);
    closed.saved.unwrap();
    let queue = saved(&store);
    assert_eq!(queue.items.len(), 1);
    let item = &queue.items[&id.0];
    assert_eq!(item.state, ItemState::Done);
    assert_eq!(item.path(), Some(downloads.join("hello.txt")));

    // Next start: the finished item is listed again under its id, without a request.
    let before = server.requests_for("/f/hello.txt").len();
    let mut s = session::start(&downloads, Some(store.clone()), Some(socket.clone())).unwrap();
    let done = s.wait_for("the restored item", |e| matches!(e, EngineEvent::Completed { .. })).await;
    assert_eq!(
        done,
        EngineEvent::Completed { id, path: downloads.join("hello.txt"), bytes: 11, skipped: true }
    );
    let listed = Client::connect(&socket).await.unwrap().ls().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id, listed[0].state), (id.0, ItemState::Done), "the same id as before");
    // A new item gets an id above the restored ones.
    s.add(server.url("/f/second.txt?size=3"));
    let second = s.wait_for("the second add", |e| matches!(e, EngineEvent::Added { .. })).await;
    assert!(second.item().unwrap() > id, "{second:?}");
    assert_eq!(server.requests_for("/f/hello.txt").len(), before, "the restored item touched no network");
    s.close().await.saved.unwrap();
}

/// Saves one paused item, restores it in a new session and closes that session: the snapshot
/// the engine announced it with, and the item as the session saved it again.
async fn restore_paused(dir: &Path, store: &StateStore, record: ItemRecord) -> (ItemSnapshot, ItemRecord) {
    let id = record.id;
    store.compact(&SavedQueue::from_iter([ItemRecord { state: ItemState::Paused, ..record }])).unwrap();
    let mut s = session::start(dir, Some(store.clone()), None).unwrap();
    let EngineEvent::Added { id: announced, item } =
        s.wait_for("the restore", |e| matches!(e, EngineEvent::Added { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(announced, ItemId(id), "restored under its saved id");
    s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    s.close().await.saved.unwrap();
    (*item, saved(store).items[&id].clone())
}

/// A paused four-connection download comes back showing the bytes its sidecar says are on disk,
/// not the length of its preallocated `.part` (the engine reports them in `Added`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_segmented_download_shows_the_bytes_its_sidecar_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("s.bin.part"), vec![0u8; 1000]).unwrap();
    let sidecar =
        r#"{"url":"http://h/s.bin","validator":"\"e\"","total":1000,"missing":[[100,500],[700,1000]]}"#;
    std::fs::write(d.join("s.bin.part.dlm"), sidecar).unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let record = ItemRecord {
        name: Some("s.bin".into()),
        total: Some(1000),
        bytes: 1000,
        validator: Some("\"e\"".into()),
        ..ItemRecord::new(4, "http://h/s.bin", Some(d.clone()))
    };
    let (item, saved) = restore_paused(&d, &store, record).await;
    assert_eq!((item.bytes, item.total, item.name.as_deref()), (300, Some(1000), Some("s.bin")));
    assert_eq!((saved.state, saved.bytes), (ItemState::Paused, 300));
}

/// A finished item whose file was deleted while dlm was not running comes back flagged
/// missing in the snapshot it is restored with (the front end does not look at the disk); one
/// whose file is there does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_finished_item_whose_file_is_gone_is_flagged_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("here.bin"), b"12345").unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let done = |id, name: &str| ItemRecord {
        name: Some(name.into()),
        state: ItemState::Done,
        bytes: 5,
        total: Some(5),
        ..ItemRecord::new(id, format!("http://h/{name}"), Some(d.clone()))
    };
    store.compact(&SavedQueue::from_iter([done(1, "here.bin"), done(2, "gone.bin")])).unwrap();
    let mut s = session::start(&d, Some(store.clone()), None).unwrap();
    let mut missing = std::collections::BTreeMap::new();
    while missing.len() < 2 {
        if let EngineEvent::Added { id, item } =
            s.wait_for("the restores", |e| matches!(e, EngineEvent::Added { .. })).await
        {
            missing.insert(id.0, item.missing);
        }
    }
    assert_eq!(missing, [(1, false), (2, true)].into());
    s.close().await.saved.unwrap();
}

/// A URL whose server answered a range with the whole file is remembered across restarts: the
/// saved flag goes back to the engine with the resume (so the item is not split again), the
/// restored snapshot carries it, and the queue written after the restore still has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_found_unreliable_stay_so_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("r.bin.part"), b"12345").unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let record = ItemRecord {
        name: Some("r.bin".into()),
        total: Some(10),
        bytes: 5,
        ranges_unreliable: true,
        ..ItemRecord::new(7, "http://h/r.bin", Some(d.clone()))
    };
    let (item, saved) = restore_paused(&d, &store, record).await;
    assert_eq!(item.bytes, 5);
    assert!(item.ranges_unreliable, "the engine was told: {item:?}");
    assert!(saved.ranges_unreliable, "saved again: {saved:?}");
    assert_eq!(saved.state, ItemState::Paused);
}

/// Issue 10: every progress save rewrote the whole queue. Now a change to one item of a long
/// queue is one journal line, and the snapshot is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_one_item_of_a_long_queue_appends_one_line_and_leaves_the_snapshot() {
    const ITEMS: u64 = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let mut queue = SavedQueue::default();
    for id in 1..=ITEMS {
        let name = format!("f{id}.bin");
        std::fs::write(d.join(&name), b"x").unwrap();
        queue.put(ItemRecord {
            name: Some(name),
            state: ItemState::Done,
            bytes: 1,
            total: Some(1),
            ..ItemRecord::new(id, format!("http://h/f{id}.bin"), Some(d.clone()))
        });
    }
    store.compact(&queue).unwrap();
    // A journal line from an earlier session: start-up compaction folds it in and empties it.
    let earlier = ItemRecord { state: ItemState::Failed, ..queue.items[&1].clone() };
    store.append(&dlm::state::encode_op(&dlm::state::JournalOp::Put(earlier)), 0).unwrap();

    let mut s = session::start(&d, Some(store.clone()), None).unwrap();
    let journal = store.journal_path();
    s.until("the start-up compaction", Duration::from_secs(60), || len(&journal) == 0).await;
    let snapshot = std::fs::metadata(store.queue_path()).unwrap();
    let restored = saved(&store);
    assert_eq!(restored.items.len(), ITEMS as usize);
    assert_eq!(restored.items[&1].state, ItemState::Failed, "the journal's change was kept");

    s.handle.send(Command::Remove(ItemId(5_000)));
    s.wait_for("the removal", |e| matches!(e, EngineEvent::Removed { .. })).await;
    s.until("the removal on disk", Duration::from_secs(10), || len(&journal) > 0).await;
    let line = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(line, "{\"del\":5000}\n", "one line for one change");
    let after = std::fs::metadata(store.queue_path()).unwrap();
    assert_eq!((after.len(), after.modified().unwrap()), (snapshot.len(), snapshot.modified().unwrap()));
    s.close().await.saved.unwrap();
    let back = saved(&store);
    assert_eq!(back.items.len(), ITEMS as usize - 1);
    assert!(!back.items.contains_key(&5_000));
}

/// The journal does not grow for ever: once it is larger than 1 MiB and the snapshot, the
/// session folds it into a new snapshot and starts it over, and nothing is lost on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_grown_past_a_mebibyte_is_folded_into_a_new_snapshot() {
    const ITEMS: usize = 1_500;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let mut s = session::start(&d, Some(store.clone()), None).unwrap();
    s.until("the start-up snapshot", Duration::from_secs(10), || store.queue_path().exists()).await;
    let empty = len(&store.queue_path());
    // Long URLs that fail at once without the network: every item is two state changes
    // (added, failed) of more than half a kilobyte each, well over 1 MiB in all.
    let long = "a".repeat(500);
    let requests = (0..ITEMS).map(|i| AddRequest::new(format!("ftp://h/{i}/{long}"))).collect();
    s.handle.add(requests);
    let journal = store.journal_path();
    // The new snapshot is renamed into place, then the journal is emptied.
    let compacted = || len(&store.queue_path()) > 100 * empty && len(&journal) < 1 << 20;
    s.until("a new snapshot and the journal started over", Duration::from_secs(60), compacted).await;
    let failed = |q: &SavedQueue| q.items.values().filter(|i| i.state == ItemState::Failed).count();
    s.until("every failure saved", Duration::from_secs(60), || failed(&saved(&store)) == ITEMS).await;
    s.close().await.saved.unwrap();
    let queue = saved(&store);
    assert_eq!((queue.items.len(), failed(&queue)), (ITEMS, ITEMS));
}

/// Progress is never saved (restore reads the bytes from the `.part`); state changes are, within
/// a fraction of a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_alone_writes_nothing_and_state_changes_are_saved_soon() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let mut s = session::start(&d, Some(store.clone()), None).unwrap();
    s.until("the start-up snapshot", Duration::from_secs(10), || store.queue_path().exists()).await;
    s.add(server.url("/f/slow.bin?size=400000&throttle=200000"));
    s.wait_for("the start", |e| matches!(e, EngineEvent::Started { .. })).await;
    let journal = store.journal_path();
    let downloading = || std::fs::read_to_string(&journal).unwrap_or_default().contains("\"downloading\"");
    s.until("the start saved", Duration::from_secs(10), downloading).await;
    let at_start = len(&journal);
    // Progress for well over the save delay (a quarter second): nothing more is written.
    let first = s.wait_for("progress", |e| matches!(e, EngineEvent::Progress { .. })).await;
    let started = tokio::time::Instant::now();
    let mut last = first.clone();
    while started.elapsed() < Duration::from_millis(1000) {
        last = s.wait_for("more progress", |e| matches!(e, EngineEvent::Progress { .. })).await;
    }
    assert_ne!(last, first);
    assert_eq!(len(&journal), at_start, "progress was written");
    s.wait_for("the end", |e| matches!(e, EngineEvent::Completed { .. })).await;
    s.until("the end saved", Duration::from_secs(10), || len(&journal) > at_start).await;
    assert!(std::fs::read_to_string(&journal).unwrap().lines().last().unwrap().contains("\"done\""));
    s.close().await.saved.unwrap();
}

/// The session hands notices on as events: a damaged queue file moved aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_queue_is_moved_aside_and_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    std::fs::create_dir_all(store.dir()).unwrap();
    std::fs::write(store.queue_path(), b"{\"version\":2,\"items\":[{\"url\":").unwrap();
    let mut s = session::start(tmp.path(), Some(store.clone()), None).unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), s.events.recv()).await.unwrap().unwrap();
    let SessionEvent::Notice(notice) = event else { panic!("{event:?}") };
    assert!(notice.contains("could not be used") && notice.contains("moved to"), "{notice}");
    s.close().await.saved.unwrap();
    assert!(saved(&store).items.is_empty());
    let aside = std::fs::read_dir(store.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("queue.json.corrupt-"));
    assert!(aside, "kept for the person to look at");
}

/// The worker count and global rate limit a session started with, as its first events say.
fn first_settings(seen: &[SessionEvent]) -> (Option<usize>, Option<Option<u64>>) {
    let workers = seen.iter().find_map(|e| match e {
        SessionEvent::Engine(EngineEvent::WorkersChanged { cap }) => Some(*cap),
        _ => None,
    });
    let rate = seen.iter().find_map(|e| match e {
        SessionEvent::Engine(EngineEvent::RateLimitChanged { limit }) => Some(*limit),
        _ => None,
    });
    (workers, rate)
}

/// The worker count and global rate limit the person sets in a session are saved (a settings
/// record) and are what the next session starts with, whatever the config says; a queue whose
/// settings were never changed keeps following the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_rate_limit_set_in_a_session_come_back_and_a_fresh_queue_follows_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let config = EngineOptions { workers: 3, rate_limit: None, ..support::harness::test_options(tmp.path()) };
    let mut s = session::start_configured(
        config.clone(),
        SessionConfig { store: Some(store.clone()), ..SessionConfig::default() },
    )
    .unwrap();
    s.wait_for("the start", |e| matches!(e, EngineEvent::RateLimitChanged { .. })).await;
    assert_eq!(first_settings(&s.seen), (Some(3), Some(None)), "a fresh queue: the config's");
    s.close().await.saved.unwrap();
    assert_eq!(saved(&store).settings, None, "nothing changed, nothing saved: the config still applies");

    let mut s = session::start_configured(
        config.clone(),
        SessionConfig { store: Some(store.clone()), ..SessionConfig::default() },
    )
    .unwrap();
    s.wait_for("the start", |e| matches!(e, EngineEvent::RateLimitChanged { .. })).await;
    s.handle.send(Command::SetWorkers(7));
    s.handle.send(Command::SetRateLimit(Some(50_000)));
    s.wait_for("the change", |e| matches!(e, EngineEvent::RateLimitChanged { limit: Some(_) })).await;
    let wanted = Some(Settings { workers: 7, rate_limit: Some(50_000) });
    // Saved while the session runs (a journal line), not only when it closes.
    s.until("the settings saved", Duration::from_secs(10), || saved(&store).settings == wanted).await;
    s.close().await.saved.unwrap();

    let mut s = session::start_configured(
        config,
        SessionConfig { store: Some(store.clone()), ..SessionConfig::default() },
    )
    .unwrap();
    s.wait_for("the start", |e| matches!(e, EngineEvent::RateLimitChanged { .. })).await;
    assert_eq!(first_settings(&s.seen), (Some(7), Some(Some(50_000))), "the saved ones win over the config");
    s.close().await.saved.unwrap();
    assert_eq!(saved(&store).settings, wanted, "kept in the new snapshot too");
    assert!(std::fs::read_to_string(store.queue_path()).unwrap().contains("\"settings\""));
}

/// `SessionHandle::refresh` (the UI's way to give an item a new URL): a URL the engine refuses
/// comes back as a notice and changes nothing; a good one reaches the item (`UrlChanged`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_through_the_handle_gives_the_new_url_or_a_notice_saying_why_not() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut s = session::start(tmp.path(), None, None).unwrap();
    s.add(server.url("/f/r.bin?size=65536&gate=1"));
    let id = s.wait_for("the add", |e| matches!(e, EngineEvent::Added { .. })).await.item().unwrap();
    s.handle.send(Command::Pause(id));
    s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    server.release(1);
    s.handle.refresh(id, "ftp://h/r.bin".into());
    let fresh = server.url("/f/r.bin?size=65536&v=2");
    s.handle.refresh(id, fresh.clone());
    let changed = s.wait_for("the new URL", |e| matches!(e, EngineEvent::UrlChanged { .. })).await;
    assert!(matches!(changed, EngineEvent::UrlChanged { id: i, url, .. } if i == id && url == fresh));
    let notices = s.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with(&format!("{id}: the new URL cannot be used:")), "{notices:?}");
    s.close().await.saved.unwrap();
}

/// Issue 11: a download that failed its checksum keeps its `.part`, and a retry fetches the
/// file again from its first byte, after a restart too: the mark is saved with the item, so
/// the restored item does not continue the bad bytes (which failed the same check again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checksum_mismatch_retried_after_a_restart_starts_over_and_is_verified() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dl");
    std::fs::create_dir_all(&d).unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    // The first answer has one byte wrong under the same ETag; the server's digest is right.
    let size = 300_000;
    let url = server.url(&format!("/f/bad.bin?size={size}&corrupt=1&corrupt_times=1&repr=sha256"));
    let mut s = session::start(&d, Some(store.clone()), None).unwrap();
    s.add(url);
    let EngineEvent::Failed { error, .. } =
        s.wait_for("the mismatch", |e| matches!(e, EngineEvent::Failed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(error.kind, ErrorKind::Checksum, "{error:?}");
    s.close().await.saved.unwrap();
    assert!(d.join("bad.bin.part").exists() && !d.join("bad.bin").exists(), "the .part is kept");

    let mut s = session::start(&d, Some(store.clone()), None).unwrap();
    let EngineEvent::Failed { id, .. } =
        s.wait_for("the restored failure", |e| matches!(e, EngineEvent::Failed { .. })).await
    else {
        unreachable!()
    };
    let before = server.requests_for("/f/bad.bin").len();
    s.handle.send(Command::Retry(id));
    let end = s
        .wait_for("the retry's end", |e| {
            matches!(e, EngineEvent::Completed { id: i, .. } | EngineEvent::Failed { id: i, .. } if *i == id)
        })
        .await;
    assert!(matches!(end, EngineEvent::Completed { .. }), "the retry failed again: {end:?}");
    support::assert_file(&d.join("bad.bin"), &support::content("bad.bin", size));
    let retried = &server.requests_for("/f/bad.bin")[before];
    assert_eq!(retried.range, None, "the retry fetched the file from its first byte");
    s.close().await.saved.unwrap();
}
