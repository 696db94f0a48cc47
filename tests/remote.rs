#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dlm pause|resume|remove|retry|refresh ID…` and `dlm ls --state` from another shell, run as
//! the real binary: against a real running dlm (a session with its saved queue and control
//! socket, downloading from the test server) and against the saved queue when none runs.

mod support;

use std::path::Path;
use std::process::Output;

use dlm::engine::{EngineEvent, ItemError, ItemId, ItemState};
use dlm::state::{ItemRecord, SavedQueue, StateStore};
use support::TestServer;
use support::process::{dlm_in, dlm_in_async, text};
use support::session::{self, Running};

/// A running dlm whose state (and socket) is in `state`, downloading into `dl`.
fn running(state: &Path, dl: &Path) -> Running {
    std::fs::create_dir_all(dl).unwrap();
    session::start(dl, Some(StateStore::at(state)), Some(state.join("dlm.sock"))).unwrap()
}

async fn added(s: &mut Running, url: String) -> ItemId {
    s.add(url);
    s.wait_for("the add", |e| matches!(e, EngineEvent::Added { .. })).await.item().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_retry_and_remove_reach_a_running_dlm_by_id() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    let mut s = running(&state, &dl);
    let done = added(&mut s, server.url("/f/done.txt?size=11")).await;
    s.wait_for("done", |e| matches!(e, EngineEvent::Completed { id, .. } if *id == done)).await;
    let failed = added(&mut s, server.url("/f/gone.txt?status=404")).await;
    s.wait_for("the 404", |e| matches!(e, EngineEvent::Failed { id, .. } if *id == failed)).await;
    let held = added(&mut s, server.url("/f/held.bin?size=65536&gate=1")).await;
    s.wait_for("the first bytes", |e| matches!(e, EngineEvent::Progress { id, .. } if *id == held)).await;

    let out = dlm_in_async(&["pause", &held.0.to_string(), "99", &format!("#{}", done.0)], &state).await;
    assert_eq!(out.status.code(), Some(1), "two of three ids failed");
    assert_eq!(text(&out.stdout), format!("{}: paused\n", held.0));
    let err = text(&out.stderr);
    assert!(err.contains("dlm: 99: no such item"), "{err}");
    assert!(err.contains(&format!("dlm: {}: not applicable: it is already done", done.0)), "{err}");
    s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { id, .. } if *id == held)).await;

    let out = dlm_in_async(&["resume", &held.0.to_string()], &state).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    s.wait_for("the resume", |e| matches!(e, EngineEvent::Queued { id } if *id == held)).await;
    let out = dlm_in_async(&["remove", &held.0.to_string()], &state).await;
    assert_eq!(out.status.code(), Some(1), "an unfinished item is not removed");
    assert!(text(&out.stderr).contains("only done, failed or cancelled items are removed"));

    let out = dlm_in_async(&["retry", &failed.0.to_string(), &done.0.to_string()], &state).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("{}: queued again\n", failed.0));
    s.wait_for("the retry", |e| matches!(e, EngineEvent::Queued { id } if *id == failed)).await;

    let out = dlm_in_async(&["remove", &done.0.to_string()], &state).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("removed from the queue (its files stay on disk)"));
    s.wait_for("the removal", |e| matches!(e, EngineEvent::Removed { id } if *id == done)).await;
    assert!(dl.join("done.txt").exists(), "remove never deletes a finished file");
    server.release(1);
    s.close().await.saved.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_gives_a_running_dlms_item_the_new_url_and_it_continues_its_part() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    let mut s = running(&state, &dl);
    let id = added(&mut s, server.url("/f/big.bin?size=65536&gate=1")).await;
    s.wait_for("the first bytes", |e| matches!(e, EngineEvent::Progress { id: i, .. } if *i == id)).await;
    let out = dlm_in_async(&["pause", &id.0.to_string()], &state).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { id: i, .. } if *i == id)).await;
    server.release(1);

    let out = dlm_in_async(&["refresh", &id.0.to_string(), "ftp://elsewhere/big.bin"], &state).await;
    assert_eq!(out.status.code(), Some(2), "a URL that cannot be downloaded is refused");
    assert!(text(&out.stderr).contains("refresh:"), "{}", text(&out.stderr));
    let out = dlm_in_async(&["refresh", "42", &server.url("/f/big.bin?size=65536")], &state).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("42: no such item"));

    let fresh = server.url("/f/big.bin?size=65536&sig=new");
    let out = dlm_in_async(&["refresh", &id.0.to_string(), &fresh], &state).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}: has the new URL\n", id.0));
    s.wait_for(
        "the new URL",
        |e| matches!(e, EngineEvent::UrlChanged { id: i, url, .. } if *i == id && *url == fresh),
    )
    .await;
    dlm_in_async(&["resume", &id.0.to_string()], &state).await;
    s.wait_for("the finish", |e| matches!(e, EngineEvent::Completed { id: i, .. } if *i == id)).await;
    support::assert_file(&dl.join("big.bin"), &support::content("big.bin", 65536));
    let on_new = server.requests().into_iter().filter(|r| r.query.contains("sig=new")).collect::<Vec<_>>();
    assert_eq!(on_new.len(), 1, "{on_new:?}");
    assert!(on_new[0].range.as_deref().is_some_and(|r| r != "bytes=0-"), "continued: {on_new:?}");
    s.close().await.saved.unwrap();
}

fn record(id: u64, state: ItemState, dir: &Path) -> ItemRecord {
    ItemRecord {
        state,
        name: Some(format!("f{id}.bin")),
        error: (state == ItemState::Failed).then(|| ItemError::other("server answered 500")),
        ..ItemRecord::new(id, format!("http://h/f{id}.bin"), Some(dir.to_path_buf()))
    }
}

#[test]
fn without_a_running_dlm_the_changes_by_id_are_saved_for_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let dir = tmp.path().join("dl");
    use ItemState::*;
    let states = [Queued, Paused, Done, Failed, Cancelled, Downloading];
    let queue: SavedQueue = states.iter().enumerate().map(|(i, s)| record(i as u64 + 1, *s, &dir)).collect();
    store.compact(&queue).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f3.bin"), b"finished").unwrap();

    let out = dlm_in(&["pause", "1", "6", "2"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "2 is paused already");
    assert!(
        text(&out.stdout).contains("dlm is not running: changed the saved queue"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("1: paused\n6: paused\n"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("2: not applicable: it is already paused"));
    let out = dlm_in(&["resume", "2"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = dlm_in(&["retry", "4", "5"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = dlm_in(&["remove", "3", "7"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("7: no such item"));
    let out = dlm_in(&["refresh", "2", "http://mirror/f2.bin"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = dlm_in(&["refresh", "1", "not a url"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "refused before anything changes");

    let saved = store.load().unwrap().queue;
    let now: Vec<(u64, ItemState)> = saved.items.values().map(|i| (i.id, i.state)).collect();
    assert_eq!(now, [(1, Paused), (2, Queued), (4, Queued), (5, Queued), (6, Paused)]);
    assert_eq!(saved.items[&4].error, None, "a retried item starts clean");
    assert_eq!(saved.items[&2].url, "http://mirror/f2.bin");
    assert_eq!(saved.items[&1].url, "http://h/f1.bin");
    assert!(dir.join("f3.bin").exists(), "remove never deletes a finished file");
    let journal = std::fs::read_to_string(store.journal_path()).unwrap();
    assert_eq!(journal.lines().count(), 7, "one line per change: {journal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_state_lists_only_those_states_running_or_not() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    let dir = tmp.path().join("dl");
    use ItemState::*;
    let queue: SavedQueue = [Paused, Done, Failed, Cancelled]
        .iter()
        .enumerate()
        .map(|(i, s)| record(i as u64 + 1, *s, &dir))
        .collect();
    store.compact(&queue).unwrap();
    let ids = |out: &Output| -> Vec<u64> {
        let items: Vec<ItemRecord> = serde_json::from_slice(&out.stdout).unwrap();
        items.iter().map(|i| i.id).collect()
    };
    let out = dlm_in_async(&["ls", "--state", "failed", "--json"], tmp.path()).await;
    assert_eq!(ids(&out), [3]);
    let out =
        dlm_in_async(&["ls", "--state", "done,cancelled", "--state", "PAUSED", "--json"], tmp.path()).await;
    assert_eq!(ids(&out), [1, 2, 4]);
    let out = dlm_in_async(&["ls", "--state", "queued"], tmp.path()).await;
    assert_eq!(text(&out.stdout), "no queued items\n");
    let out = dlm_in_async(&["ls", "--state", "running"], tmp.path()).await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown state \"running\"; the states are queued, connecting, downloading, paused, done, failed, cancelled"),
        "{err}"
    );

    // The same through a running dlm, which restored that queue.
    let mut s = running(tmp.path(), &dir);
    s.wait_for("the restore", |e| matches!(e, EngineEvent::Cancelled { .. })).await;
    let out = dlm_in_async(&["ls", "--state", "failed"], tmp.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with("3 ") && table.contains("server answered 500"),
        "{table}"
    );
    assert!(!text(&out.stderr).contains("not running"));
    s.close().await.saved.unwrap();
}
