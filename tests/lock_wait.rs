//! Waiting for the state lock (another dlm, or a `dlm add` writing the saved queue, holds it)
//! sleeps between tries for up to two seconds. That wait must not take a runtime thread away
//! from the tasks already running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dlm::engine::EngineOptions;
use dlm::session::{Session, SessionConfig, SessionError};
use dlm::state::{StateError, StateStore};

/// One worker thread: if opening the session blocks it, nothing else runs meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn waiting_for_the_state_lock_leaves_the_runtime_running_other_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path().join("state"));
    let downloads = tmp.path().join("dl");
    std::fs::create_dir_all(&downloads).unwrap();
    let held = store.lock(Duration::ZERO).unwrap();
    let options = EngineOptions { download_dir: downloads.clone(), ..EngineOptions::default() };

    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    // Opened from a task, as the terminal UI does, so it runs on the one worker.
    let (result, ticks_during_wait) = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            let before = ticks.load(Ordering::Relaxed);
            let config = SessionConfig { store: Some(store), ..SessionConfig::default() };
            let result = Session::start(options, config).map(|_| ());
            (result, ticks.load(Ordering::Relaxed) - before)
        }
    })
    .await
    .unwrap();
    assert!(matches!(result, Err(SessionError::State(StateError::Locked { .. }))), "{result:?}");
    // The wait lasts two seconds: about 200 ticks if the ticker could run, none if not.
    assert!(ticks_during_wait >= 20, "the ticker ran {ticks_during_wait} times while the lock was awaited");
    ticker.abort();
    drop(held);
}
