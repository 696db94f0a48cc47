#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A whole persistent session against the real engine: add through the control socket, the
//! queue is saved, a second session is refused, and the next session restores the items.

mod support;

use std::time::Duration;

use dlm::control::Client;
use dlm::engine::{Engine, EngineEvent, EngineOptions};
use dlm::session::Session;
use dlm::state::{SavedState, StateError, StateStore};
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_over_the_socket_is_saved_and_restored_next_time() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let socket = tmp.path().join("run/dlm.sock");
    let downloads = tmp.path().join("dl");
    std::fs::create_dir_all(&downloads).unwrap();
    let options = EngineOptions { download_dir: downloads.clone(), ..EngineOptions::default() };

    let (engine, mut events) = Engine::start(options.clone()).unwrap();
    let handle = engine.handle();
    let mut session = Session::open(store.clone(), Some(socket.clone()), &handle, &downloads).unwrap();
    assert!(session.restored.is_empty() && session.notices.is_empty());
    let err = Session::open(store.clone(), None, &handle, &downloads).err().unwrap();
    assert!(matches!(err, StateError::Locked { .. }), "{err}");

    Client::connect(&socket)
        .await
        .unwrap()
        .add(vec![server.url("/f/hello.txt?size=11")], None)
        .await
        .unwrap();
    let request = session.control_rx.recv().await.unwrap();
    let ids = session.on_control(&handle, request).await;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        session.on_event(&ev).await;
        if matches!(ev, EngineEvent::Completed { id, .. } if id == ids[0]) {
            break;
        }
    }
    engine.shutdown().await;
    while let Ok(ev) = events.try_recv() {
        session.on_event(&ev).await;
    }
    session.close().await.unwrap();
    let saved = store.load().unwrap().queue;
    assert_eq!(saved.items.len(), 1);
    assert_eq!(saved.items[0].state, SavedState::Done);
    assert_eq!(saved.items[0].path(), Some(downloads.join("hello.txt")));

    // Next start: the finished item is listed again, without a request.
    let before = server.requests().len();
    let (engine, mut events) = Engine::start(options).unwrap();
    let handle = engine.handle();
    let session = Session::open(store.clone(), Some(socket.clone()), &handle, &downloads).unwrap();
    assert_eq!(session.restored.len(), 1);
    let ev = loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        if matches!(ev, EngineEvent::Completed { .. }) {
            break ev;
        }
    };
    assert!(matches!(ev, EngineEvent::Completed { skipped: true, .. }));
    let listed = Client::connect(&socket).await.unwrap().ls().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, SavedState::Done);
    assert_eq!(server.requests().len(), before);
    engine.shutdown().await;
    session.close().await.unwrap();
}
