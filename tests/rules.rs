#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `[[rule]]`s applied by a real session to real downloads from the loopback server: a rule
//! by host sends its header (the server refuses without it) and the first matching rule wins,
//! a rule by extension chooses the folder, a rule's connections, rate limit and per-host cap
//! apply, its `netrc = false` keeps the login back, and the saved queue never holds a
//! rule's header value while a restored item gets it again.

mod support;

use std::path::Path;

use dlm::config::{Config, Rules};
use dlm::engine::{EngineEvent, ItemLimits};
use dlm::session::SessionConfig;
use dlm::state::StateStore;
use support::TestServer;
use support::session::{self, Running};

fn rules(text: &str) -> Rules {
    Config::parse(text, Path::new("test.toml")).unwrap().rules
}

fn start(dir: &Path, text: &str) -> Running {
    session::start_with(dir, SessionConfig { rules: rules(text), ..SessionConfig::default() }).unwrap()
}

/// The snapshot the item was added with, and how it ended.
async fn download(s: &mut Running, url: String) -> (dlm::engine::ItemSnapshot, EngineEvent) {
    s.add(url);
    let added = match s.wait_for("the add", |e| matches!(e, EngineEvent::Added { .. })).await {
        EngineEvent::Added { item, .. } => *item,
        _ => unreachable!(),
    };
    let id = added.id;
    let end = s
        .wait_for("the end", |e| {
            matches!(e, EngineEvent::Completed { id: i, .. } | EngineEvent::Failed { id: i, .. } if *i == id)
        })
        .await;
    (added, end)
}

fn completed_path(end: &EngineEvent) -> &Path {
    match end {
        EngineEvent::Completed { path, .. } => path,
        other => panic!("expected the download to complete: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_by_host_sends_its_header_and_the_first_matching_rule_wins() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start(
        tmp.path(),
        r#"
        [[rule]]
        host = "elsewhere.example"
        headers = { X-Token = "not-this-host" }
        [[rule]]
        name = "loopback"
        host = "127.0.0.1"
        headers = { X-Token = "first" }
        [[rule]]
        host = "127.0.0.1"
        headers = { X-Token = "second" }
        "#,
    );
    let (added, end) = download(&mut s, server.url("/f/a.bin?size=1000&need_header=x-token:first")).await;
    completed_path(&end);
    assert_eq!(added.rule.as_deref(), Some("loopback"), "the snapshot names the rule");
    let sent = &server.requests_for("/f/a.bin")[0].headers;
    assert_eq!(sent.get_all("x-token").iter().count(), 1, "one value, the first rule's");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_matching_rule_the_header_is_not_sent() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut s =
        start(tmp.path(), "[[rule]]\nhost = \"elsewhere.example\"\nheaders = { X-Token = \"first\" }\n");
    let (added, end) = download(&mut s, server.url("/f/a.bin?size=10&need_header=x-token:first")).await;
    assert!(matches!(end, EngineEvent::Failed { .. }), "{end:?}");
    assert_eq!(added.rule, None);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_by_extension_chooses_the_folder_inside_the_download_folder() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start(tmp.path(), "[[rule]]\next = \"iso\"\ndir = \"images\"\n");
    let (_, end) = download(&mut s, server.url("/f/disk.iso?size=100")).await;
    assert_eq!(completed_path(&end), tmp.path().join("images/disk.iso"));
    let (_, end) = download(&mut s, server.url("/f/notes.txt?size=100")).await;
    assert_eq!(completed_path(&end), tmp.path().join("notes.txt"), "no rule: the download folder");
    s.close().await;
}

/// `Content-Disposition` naming `NAME`, as a query value for the test server.
fn named(name: &str) -> String {
    format!("cd=attachment%3B%20filename%3D%22{name}%22")
}

/// Issue 13: a URL that says nothing of the file (`/f/download?…`) answered with
/// `filename="x.iso"` goes where the `ext = ["iso"]` rule says, ahead of a later rule its URL
/// matched; a name of another extension stays with that rule; a folder given with the item wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_by_extension_chooses_the_folder_by_the_name_the_server_gives() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let text = "[[rule]]\next = [\"iso\"]\ndir = \"images\"\n[[rule]]\npath = \"/f/**\"\ndir = \"misc\"\n";
    let mut s = start(tmp.path(), text);
    let (added, end) =
        download(&mut s, server.url(&format!("/f/download?size=100&{}", named("x.iso")))).await;
    assert_eq!(added.dir, tmp.path().join("misc"), "at add, the URL matched the second rule");
    assert_eq!(completed_path(&end), tmp.path().join("images/x.iso"));
    support::assert_file(&tmp.path().join("images/x.iso"), &support::content("download", 100));
    let (_, end) = download(&mut s, server.url(&format!("/f/download2?size=100&{}", named("y.txt")))).await;
    assert_eq!(completed_path(&end), tmp.path().join("misc/y.txt"));
    let mine = tmp.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let url = server.url(&format!("/f/download3?size=100&{}", named("z.iso")));
    s.handle
        .add(vec![dlm::engine::AddRequest { dir: Some(mine.clone()), ..dlm::engine::AddRequest::new(url) }]);
    let end = s
        .wait_for("the end", |e| matches!(e, EngineEvent::Completed { .. } | EngineEvent::Failed { .. }))
        .await;
    assert_eq!(completed_path(&end), mine.join("z.iso"), "a folder given with the item wins");
    s.close().await;
}

/// The folder chosen by the server's name is the one saved: a download paused there and
/// restored continues its `.part` there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_chosen_by_the_servers_name_is_saved_and_the_restored_download_continues_there() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (dl, config) = saving(tmp.path(), "[[rule]]\next = \"iso\"\ndir = \"images\"\n");
    let url = server.url(&format!("/f/get?size=200000&gate=1&{}", named("late.iso")));
    let id = start_then_pause(&dl, config(), url).await;
    let saved = StateStore::at(tmp.path().join("state")).load().unwrap().queue.items[&id.0].clone();
    assert_eq!(saved.dir, Some(dl.join("images")), "{saved:?}");
    assert!(dl.join("images/late.iso.part").exists());

    server.release(1000);
    let (s, end) = restore_then_resume(&dl, config(), id).await;
    assert_eq!(completed_path(&end), dl.join("images/late.iso"));
    assert!(server.requests_for("/f/get").last().unwrap().range.is_some(), "it continued from its .part");
    s.close().await.saved.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rules_connections_rate_limit_and_host_cap_apply() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    // Four connections asked for, but at most one to this host: the cap wins.
    let mut s = start(
        tmp.path(),
        "[[rule]]\npath = \"/f/capped.bin\"\nconnections = 4\nmax_connections_per_host = 1\n\
         [[rule]]\nconnections = 4\nrate_limit = \"64M\"\n",
    );
    let (added, end) = download(&mut s, server.url("/f/capped.bin?size=4000000&throttle=8000000")).await;
    completed_path(&end);
    assert_eq!(added.limits.connections, 4);
    assert_eq!(server.max_active(), 1, "the rule's per-host cap of 1 held");

    let (added, end) = download(&mut s, server.url("/f/split.bin?size=4000000&throttle=8000000")).await;
    completed_path(&end);
    assert_eq!(added.limits, ItemLimits { rate_limit: Some(64 << 20), connections: 4 });
    let ranged = server.requests_for("/f/split.bin").iter().filter(|r| r.range.is_some()).count();
    assert!(ranged >= 2, "four connections split the file ({ranged} range requests)");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saved_queue_holds_no_header_value_and_a_restored_item_matches_again() {
    const SECRET: &str = "s3cr3t-token-value";
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let rule = format!("[[rule]]\nheaders = {{ Authorization = \"Bearer {SECRET}\" }}\n");
    let (dl, config) = saving(tmp.path(), &rule);
    // The server's log shows what was sent (a `need_header` would put the value in the URL).
    let url = server.url("/f/kept.bin?size=200000&gate=1");
    let id = start_then_pause(&dl, config(), url).await;
    for entry in walk(&tmp.path().join("state")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the header value",
            entry.display()
        );
    }

    // The next session matches the rule again: the resumed item is let in.
    server.release(1000);
    let (s, _) = restore_then_resume(&dl, config(), id).await;
    let requests = server.requests_for("/f/kept.bin");
    let last = requests.last().unwrap();
    assert!(last.range.is_some(), "it continued from its .part");
    for r in &requests {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            &format!("Bearer {SECRET}"),
            "every request had it"
        );
    }
    s.close().await.saved.unwrap();
}

/// A session that saves to `tmp/state` and downloads into `tmp/dl` with these rules.
fn saving(tmp: &Path, rules_text: &str) -> (std::path::PathBuf, impl Fn() -> SessionConfig) {
    let store = StateStore::at(tmp.join("state"));
    let dl = tmp.join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let rules = rules(rules_text);
    (dl, move || SessionConfig {
        store: Some(store.clone()),
        rules: rules.clone(),
        ..SessionConfig::default()
    })
}

/// Starts a download of `url` (gated by the server), pauses it once it started and closes
/// the session, saving it; returns its id.
async fn start_then_pause(dl: &Path, config: SessionConfig, url: String) -> dlm::engine::ItemId {
    let mut s = session::start_with(dl, config).unwrap();
    s.add(url);
    let id = s.wait_for("the start", |e| matches!(e, EngineEvent::Started { .. })).await.item().unwrap();
    s.handle.send(dlm::engine::Command::Pause(id));
    s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    s.close().await.saved.unwrap();
    id
}

/// A new session on the saved queue resumes the restored paused item `id` until it ends.
async fn restore_then_resume(
    dl: &Path,
    config: SessionConfig,
    id: dlm::engine::ItemId,
) -> (Running, EngineEvent) {
    let mut s = session::start_with(dl, config).unwrap();
    s.wait_for("the restored item", |e| matches!(e, EngineEvent::Paused { id: i, .. } if *i == id)).await;
    s.handle.send(dlm::engine::Command::Resume(id));
    let end =
        s.wait_for("the download", |e| matches!(e, EngineEvent::Completed { id: i, .. } if *i == id)).await;
    (s, end)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
