//! Credentials stay secret: a password in a URL, an `Authorization` header and a proxy
//! password reach the server or proxy, but never the output of `dlm get`, the `.part`
//! sidecar, or the saved queue; and the files dlm keeps for itself are owner-only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use dlm::engine::EngineEvent;
use dlm::state::StateStore;
use support::harness::Harness;
use support::{TestServer, assert_file, content};

const SECRET: &str = "hunter2-pw";

fn all_files_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn dlm_get_sends_credentials_but_never_prints_them() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let with_user =
        server.url("/f/auth.bin?size=2000").replace("http://", &format!("http://carol:{SECRET}@"));
    let failing = server.url("/f/denied?status=403").replace("http://", &format!("http://carol:{SECRET}@"));
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            Command::new(env!("CARGO_BIN_EXE_dlm"))
                .env_remove("HTTP_PROXY")
                .env_remove("http_proxy")
                .env_remove("ALL_PROXY")
                .env_remove("all_proxy")
                .args(["get", "-o"])
                .arg(&dir)
                .args(["-H", &format!("Authorization: Bearer tok-{SECRET}")])
                .arg(&with_user)
                .arg(&failing)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains(SECRET) && !err.contains("carol"), "{err}");
    assert!(err.contains("403 Forbidden: http://"), "{err}");
    assert_file(&dir.path().join("auth.bin"), &content("auth.bin", 2000));
    let req = &server.requests_for("/f/auth.bin")[0];
    // Basic carol:hunter2-pw: the URL's credentials are what the request carries (they win
    // over a -H Authorization header).
    assert_eq!(req.headers.get("authorization").unwrap(), "Basic Y2Fyb2w6aHVudGVyMi1wdw==");
}

/// Both files of the saved queue (the snapshot and the journal), as text.
fn saved_text(store: &StateStore) -> String {
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    read(store.queue_path()) + &read(store.journal_path())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_part_sidecar_and_the_saved_queue_hold_no_credentials() {
    let server = TestServer::start().await;
    let state_dir = tempfile::tempdir().unwrap();
    let store = StateStore::at(state_dir.path().join("state"));
    let dir = tempfile::tempdir().unwrap();
    let mut s = support::session::start(dir.path(), Some(store.clone()), None).unwrap();
    let url =
        server.url("/f/held.bin?size=400000&gate=1").replace("http://", &format!("http://dave:{SECRET}@"));
    s.add(url);
    let id = s.wait_for("progress", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    let id = id.item().unwrap();
    // Paused: the sidecar is written with the first bytes and stays with the .part.
    s.handle.send(dlm::engine::Command::Pause(id));
    s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    s.until("the pause saved", support::harness::PATIENCE, || saved_text(&store).contains("\"paused\""))
        .await;
    s.close().await.saved.unwrap();
    let saved = saved_text(&store);
    assert!(saved.contains("/f/held.bin"), "{saved}");
    assert!(!saved.contains(SECRET) && !saved.contains("dave") && !saved.contains("***"), "{saved}");
    let on_disk = all_files_text(dir.path());
    assert!(on_disk.contains("/f/held.bin"), "the sidecar names the URL: {on_disk:?}");
    assert!(!on_disk.contains(SECRET) && !on_disk.contains("dave"), "{on_disk}");
    // The request did carry them, as Basic auth.
    let auth = server.requests_for("/f/held.bin")[0].headers.get("authorization").cloned().unwrap();
    assert!(auth.to_str().unwrap().starts_with("Basic "), "{auth:?}");
    assert_eq!(std::fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(store.queue_path()).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(store.journal_path()).unwrap().permissions().mode() & 0o777, 0o600);
    let _lock = store.lock(Duration::ZERO).unwrap();
    assert_eq!(std::fs::metadata(store.lock_path()).unwrap().permissions().mode() & 0o777, 0o600);
    server.release(1);
}

/// With `save_credentials`, a running session keeps the URL's credentials in the saved queue
/// (the engine's events never carry them, so the session remembers them itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_saving_credentials_keeps_the_whole_url() {
    let server = TestServer::start().await;
    let state_dir = tempfile::tempdir().unwrap();
    let store = StateStore::at(state_dir.path().join("state")).saving_credentials(true);
    let dir = tempfile::tempdir().unwrap();
    let mut s = support::session::start(dir.path(), Some(store.clone()), None).unwrap();
    let url = server.url("/f/kept.bin?size=10").replace("http://", &format!("http://erin:{SECRET}@"));
    s.add(url.clone());
    s.wait_for("the download", |e| matches!(e, EngineEvent::Completed { .. })).await;
    s.close().await.saved.unwrap();
    let queue = store.load().unwrap().queue;
    assert_eq!(queue.items.values().next().unwrap().url, url);
}

#[test]
fn save_credentials_in_the_config_keeps_them_in_the_owner_only_queue() {
    for keep in [false, true] {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("config.toml");
        std::fs::write(&config, format!("save_credentials = {keep}\n")).unwrap();
        let url = format!("http://erin:{SECRET}@example.com/f.iso");
        let out = Command::new(env!("CARGO_BIN_EXE_dlm"))
            .env("DLM_STATE_DIR", home.path().join("state"))
            .env("DLM_RUNTIME_DIR", home.path().join("run"))
            .arg("add")
            .arg("--config")
            .arg(&config)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let store = StateStore::at(home.path().join("state"));
        let saved = saved_text(&store);
        assert_eq!(saved.contains(SECRET), keep, "save_credentials = {keep}: {saved}");
        assert!(saved.contains("example.com/f.iso"));
        assert_eq!(std::fs::metadata(store.journal_path()).unwrap().permissions().mode() & 0o777, 0o600);
        // `dlm ls` never shows them, whatever the file holds.
        let out = Command::new(env!("CARGO_BIN_EXE_dlm"))
            .env("DLM_STATE_DIR", home.path().join("state"))
            .env("DLM_RUNTIME_DIR", home.path().join("run"))
            .arg("ls")
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("example.com/f.iso") && !table.contains(SECRET), "{table}");
    }
}

#[tokio::test]
async fn no_engine_event_carries_a_password_so_no_front_end_can_show_one() {
    // Every front end (the UI, dlm get's log lines, the saved queue's fold) renders engine
    // events; if none carries the password, none can print it.
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.retries = 1);
    let with = |path: &str| server.url(path).replace("http://", &format!("http://frank:{SECRET}@"));
    let ids = [
        h.add(with("/f/ok.bin?size=5000")),
        h.add(with("/f/gone?status=404")),
        h.add(with("/f/flaky.bin?size=100000&drop_after=1000&drop_times=1")),
        h.add(with("/redirect/2/f/moved.bin?size=10")),
        h.add(with("/loop/a")),
        h.add(format!("ftp://frank:{SECRET}@example.com/x")),
        h.add(format!("http://frank:{SECRET}@exa mple.com/x")),
    ];
    h.finish_all(&ids).await;
    let (events, _dir) = h.shutdown().await;
    for e in &events {
        let text = format!("{e:?}");
        assert!(!text.contains(SECRET) && !text.contains("frank"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_proxy_url_is_refused_without_echoing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            Command::new(env!("CARGO_BIN_EXE_dlm"))
                .args(["get", "-o"])
                .arg(&dir)
                .args(["--proxy", &format!("gopher://u:{SECRET}@proxy:1"), "http://127.0.0.1:9/x"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("proxy") && !err.contains(SECRET), "{err}");
}
