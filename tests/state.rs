#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The saved queue on real files: atomic saves with owner-only permissions, corrupt and
//! future-version files moved aside, the lock, the debounced saver task, and a restore that
//! continues a `.part` with a validated resume through the real engine.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use dlm::engine::{AddRequest, Engine, EngineEvent, EngineOptions, ItemId};
use dlm::state::{
    Debounce, Persister, SavedItem, SavedQueue, SavedState, StateError, StateStore, restore_plan,
};
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

#[test]
fn save_and_load_round_trip_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let queue = SavedQueue {
        items: vec![SavedItem { state: SavedState::Paused, bytes: 5, ..SavedItem::new("http://h/a", None) }],
        ..SavedQueue::default()
    };
    store.save(&queue).unwrap();
    store.save(&queue).unwrap();
    assert_eq!(store.load().unwrap().queue, queue);
    assert_eq!(mode(store.dir()), 0o700);
    assert_eq!(mode(&store.queue_path()), 0o600);
    assert_eq!(entries(store.dir()), vec!["queue.json"], "no temp files left behind");
    let missing = StateStore::at(tmp.path().join("nothing"));
    let loaded = missing.load().unwrap();
    assert_eq!((loaded.queue, loaded.notice), (SavedQueue::default(), None));
}

#[test]
fn corrupt_truncated_and_future_files_are_moved_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let cases: [(&[u8], &str); 4] = [
        (b"{\"version\":1,\"items\":[{\"url\":\"http://h/a\",\"sta", "damaged"),
        (b"\x00\xff\xfe garbage", "damaged"),
        (b"{\"version\":1,\"items\":[{\"url\":3}]}", "damaged"),
        (b"{\"version\":99,\"items\":[],\"new_field\":{}}", "written by a newer dlm (format 99"),
    ];
    for (body, why) in cases {
        for e in entries(tmp.path()) {
            std::fs::remove_file(tmp.path().join(e)).unwrap();
        }
        std::fs::write(store.queue_path(), body).unwrap();
        let loaded = store.load().unwrap();
        assert!(loaded.queue.items.is_empty());
        let notice = loaded.notice.unwrap();
        assert!(notice.contains(why) && notice.contains("moved to"), "{notice}");
        let names = entries(tmp.path());
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].starts_with("queue.json.corrupt-"), "{names:?}");
        assert_eq!(
            std::fs::read(tmp.path().join(&names[0])).unwrap(),
            body,
            "kept for the person to inspect"
        );
    }
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

#[tokio::test]
async fn persister_saves_soon_after_a_change_and_on_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let persist = Persister::spawn(
        store.clone(),
        Path::new("/dl"),
        Debounce::new(Duration::from_millis(50), Duration::from_secs(60)),
        Vec::new(),
    );
    let id = ItemId(7);
    persist.track(id, &AddRequest::new("http://u:p@h/a")).await;
    persist.event(&EngineEvent::added(id, "http://***@h/a", "/dl")).await;
    let mut listing = persist.listing();
    listing.wait_for(|l| !l.is_empty()).await.unwrap();
    assert_eq!(listing.borrow()[0].url, "http://***@h/a");
    let saved = || store.load().ok().map(|s| s.queue.items).unwrap_or_default();
    support::wait_until("the queue saved", support::harness::PATIENCE, || !saved().is_empty()).await;
    assert_eq!(saved()[0].url, "http://h/a", "saved before shutdown, without the credentials");
    // Progress alone waits for the long (60 s) interval; shutdown writes it. The pause only
    // gives a wrong early save the chance to show: it cannot make a correct one fail.
    persist.event(&EngineEvent::Progress { id, bytes: 42 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.load().unwrap().queue.items[0].bytes, 0);
    persist.shutdown().await.unwrap();
    assert_eq!(store.load().unwrap().queue.items[0].bytes, 42);
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
async fn restore_continues_parts_with_a_validated_resume_and_keeps_states() {
    const SIZE: usize = 100_000;
    let server = TestServer::start().await;
    let (big, paused) = (content("big.bin", SIZE), content("paused.bin", SIZE));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A session was killed mid-download: 40 000 bytes in the .part, another item paused.
    std::fs::write(dir.join("big.bin.part"), &big[..40_000]).unwrap();
    std::fs::write(dir.join("paused.bin.part"), &paused[..10]).unwrap();
    std::fs::write(dir.join("old.bin"), b"old").unwrap();
    let saved = |name: &str, state| SavedItem {
        file_name: Some(name.into()),
        state,
        validator: Some(format!("\"{name}-v0\"")),
        total: Some(SIZE as u64),
        bytes: 1,
        ..SavedItem::new(server.url(&format!("/f/{name}?size={SIZE}")), Some(dir.to_path_buf()))
    };
    let queue = SavedQueue {
        items: vec![
            saved("big.bin", SavedState::Running),
            saved("paused.bin", SavedState::Paused),
            SavedItem { bytes: 3, ..saved("old.bin", SavedState::Done) },
        ],
        ..SavedQueue::default()
    };

    let options = EngineOptions { download_dir: dir.to_path_buf(), ..EngineOptions::default() };
    let (engine, mut events) = Engine::start(options).unwrap();
    let handle = engine.handle();
    let ids: Vec<ItemId> =
        restore_plan(&queue).into_iter().map(|r| handle.restore(r.request, r.state)).collect();
    let seen = until(&mut events, |e| matches!(e, EngineEvent::Completed { id, .. } if *id == ids[0])).await;
    assert_file(&dir.join("big.bin"), &big);
    assert!(seen.contains(&EngineEvent::Paused { id: ids[1], bytes: 10 }), "{seen:?}");
    assert!(
        seen.iter().any(
            |e| matches!(e, EngineEvent::Completed { id, skipped: true, bytes: 3, .. } if *id == ids[2])
        )
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "paused and done items touch no network: {requests:?}");
    assert_eq!(requests[0].range.as_deref(), Some("bytes=40000-"), "continued, not downloaded again");
    assert_eq!(requests[0].if_range.as_deref(), Some("\"big.bin-v0\""));

    // The paused one continues from its .part when resumed.
    handle.send(dlm::engine::Command::Resume(ids[1]));
    until(&mut events, |e| matches!(e, EngineEvent::Completed { id, .. } if *id == ids[1])).await;
    assert_file(&dir.join("paused.bin"), &paused);
    assert_eq!(server.requests()[1].range.as_deref(), Some("bytes=10-"));
    engine.shutdown().await;
}
