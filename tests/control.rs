#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The control socket over real Unix sockets: requests reach the session's stream with a way
//! to answer, bad input gets an error reply and never stops the server, the socket is
//! owner-only; and the real `dlm add` / `dlm ls` binaries, with and without a running server.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dlm::control::{
    AddExtras, AddUrl, Client, ClientError, ControlRequest, ControlServer, MAX_LINE, Reply, Request,
};
use dlm::engine::ItemState;
use dlm::state::{ItemRecord, StateStore};
use support::process::{dlm_in, dlm_in_async, text};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

fn listed(url: &str) -> ItemRecord {
    ItemRecord {
        name: Some("a.iso".into()),
        state: ItemState::Downloading,
        bytes: 5,
        total: Some(10),
        ..ItemRecord::new(1, url, None)
    }
}

/// Answers requests as a session would: `ls` from `listing`, `add` by passing the request on
/// to `adds` and saying how many.
fn answer(
    mut rx: mpsc::Receiver<ControlRequest>,
    listing: watch::Receiver<Vec<ItemRecord>>,
) -> mpsc::Receiver<Request> {
    let (adds, added) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(request) = rx.recv().await {
            let reply = match &request.request {
                Request::Ls {} => Reply::items(listing.borrow().clone()),
                Request::Add { urls, .. } => {
                    let _ = adds.send(request.request.clone()).await;
                    Reply::added(urls.len())
                }
                // Changes by id are the session's; `tests/remote.rs` runs them against one.
                _ => Reply::error("not answered by this stand-in"),
            };
            request.answer(reply);
        }
    });
    added
}

fn start(dir: &Path) -> (ControlServer, mpsc::Receiver<Request>, watch::Sender<Vec<ItemRecord>>) {
    let (listing_tx, listing_rx) = watch::channel(Vec::new());
    let (server, rx) = ControlServer::start(&dir.join("run/dlm.sock")).unwrap();
    (server, answer(rx, listing_rx), listing_tx)
}

/// Sends raw bytes and reads one reply line.
async fn raw(path: &Path, bytes: &[u8]) -> Reply {
    let stream = UnixStream::connect(path).await.unwrap();
    let (read, mut write) = stream.into_split();
    // The server may close before reading everything (an oversized line); that is fine.
    let _ = write.write_all(bytes).await;
    // End of input, so a last line without a newline is answered at once.
    let _ = write.shutdown().await;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await.unwrap();
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn add_reaches_the_request_stream_and_ls_gets_the_sessions_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, mut rx, listing) = start(tmp.path());
    let mut client = Client::connect(server.path()).await.unwrap();
    let none = AddExtras::default;
    let n = client
        .add(vec!["http://h/a".into(), " http://h/b ".into()], Some("/srv".into()), none())
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        rx.recv().await.unwrap(),
        Request::add(vec!["http://h/a".into(), "http://h/b".into()], Some("/srv".into()), none())
    );
    assert_eq!(client.ls().await.unwrap(), vec![]);
    listing.send_replace(vec![listed("http://h/a")]);
    assert_eq!(client.ls().await.unwrap(), vec![listed("http://h/a")], "same connection, several requests");
    let err = client.add(vec!["http://h/c".into()], Some("relative".into()), none()).await.unwrap_err();
    assert!(matches!(&err, ClientError::Refused(m) if m.contains("absolute")), "{err}");
    server.shutdown().await;
    assert!(!tmp.path().join("run/dlm.sock").exists(), "socket removed on shutdown");
    assert!(matches!(
        Client::connect(&tmp.path().join("run/dlm.sock")).await,
        Err(ClientError::NotRunning(_))
    ));
}

#[tokio::test]
async fn malformed_oversized_and_binary_input_get_errors_and_the_server_lives_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, _rx, _listing) = start(tmp.path());
    let path = server.path().to_path_buf();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json\n".to_vec(), "malformed request"),
        (b"\xff\xfe\x00\x01\n".to_vec(), "not UTF-8"),
        (b"{\"cmd\":\"rm\",\"id\":1}\n".to_vec(), "malformed request"),
        (b"{\"cmd\":\"ls\",\"extra\":true}\n".to_vec(), "malformed request"),
        (b"{\"cmd\":\"add\",\"urls\":[]}\n".to_vec(), "no URLs"),
        (b"{\"cmd\":\"add\",\"urls\":\"http://h/a\"}\n".to_vec(), "malformed request"),
        (b"\n".to_vec(), "empty request"),
        (vec![b'a'; MAX_LINE + 10], "too long"),
        (b"{\"cmd\":\"ls\"".to_vec(), "malformed"),
    ];
    for (bytes, want) in cases {
        let reply = raw(&path, &bytes).await;
        assert!(!reply.ok);
        let error = reply.error.unwrap();
        assert!(error.contains(want), "{error} (want {want})");
    }
    // A client that connects and says nothing does not block others.
    let _idle = UnixStream::connect(&path).await.unwrap();
    let reply = raw(&path, b"{\"cmd\":\"ls\"}\n").await;
    assert!(reply.ok && reply.items == Some(vec![]));
    server.shutdown().await;
}

/// Issue 9: `dlm add -i` with 100,000 URLs failed with "Broken pipe (os error 32): Broken pipe
/// (os error 32)": one request over the size limit. The client now sends batches the server
/// accepts, and the running dlm receives every URL once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_urls_go_through_in_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, mut rx, _listing) = start(tmp.path());
    let urls: Vec<AddUrl> =
        (0..100_000).map(|i| AddUrl::new(format!("http://example.com/files/{i:06}.bin"))).collect();
    let received = tokio::spawn(async move {
        let mut all = Vec::new();
        while all.len() < 100_000 {
            let Some(Request::Add { urls, dir, .. }) = rx.recv().await else { break };
            assert!(urls.len() <= dlm::control::MAX_URLS);
            assert_eq!(dir.as_deref(), Some(Path::new("/srv")));
            all.extend(urls);
        }
        all
    });
    let mut client = Client::connect(server.path()).await.unwrap();
    assert_eq!(client.add(urls.clone(), Some("/srv".into()), AddExtras::default()).await.unwrap(), 100_000);
    assert_eq!(received.await.unwrap(), urls);
    server.shutdown().await;
}

/// A socket error says what happened once: the error carries no source that repeats it.
#[tokio::test]
async fn a_closed_connection_is_reported_once_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dlm.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    // A "dlm" that hangs up on every client without a word.
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let err = Client::connect(&path).await.unwrap().ls().await.unwrap_err();
    let shown = format!("{:#}", anyhow::Error::new(err));
    assert!(shown.starts_with("the running dlm closed the connection before answering"), "{shown}");
    assert_eq!(shown.matches("os error").count() + shown.matches("end of file").count(), 1, "{shown}");
}

#[tokio::test]
async fn socket_is_owner_only_and_a_second_server_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, _rx, _listing) = start(tmp.path());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(server.path()), 0o600);
    assert_eq!(mode(server.path().parent().unwrap()), 0o700);
    let err = ControlServer::start(server.path()).err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    // A socket left by a crashed dlm (nobody listening) is replaced.
    let stale = tmp.path().join("stale/dlm.sock");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let (second, rx2) = ControlServer::start(&stale).unwrap();
    let _adds = answer(rx2, watch::channel(Vec::new()).1);
    assert!(Client::connect(&stale).await.unwrap().ls().await.is_ok());
    second.shutdown().await;
    server.shutdown().await;
}

#[test]
fn without_a_running_dlm_add_appends_to_the_saved_queue_and_ls_prints_it() {
    let tmp = tempfile::tempdir().unwrap();
    // A config file is required to exist when named; give an empty one.
    std::fs::write(tmp.path().join("no-config.toml"), "").unwrap();
    let list = tmp.path().join("urls.txt");
    std::fs::write(&list, "# two more\nhttp://h/c\nnot a url\n").unwrap();
    let out = dlm_in(&["add", "http://user:secret@h/a", "http://h/b", "-o", "/srv/dl"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("dlm is not running: added 2 to the saved queue"),
        "{}",
        text(&out.stdout)
    );
    let out = dlm_in(&["add", "-i", list.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(1), "one invalid line");
    assert!(text(&out.stderr).contains("urls.txt:3:"), "{}", text(&out.stderr));

    let store = StateStore::at(tmp.path());
    let queue = store.load().unwrap().queue;
    let items: Vec<_> = queue.items.values().collect();
    let urls: Vec<_> = items.iter().map(|i| (i.id, i.url.as_str())).collect();
    assert_eq!(
        urls,
        [(1, "http://h/a"), (2, "http://h/b"), (3, "http://h/c")],
        "credentials are never saved"
    );
    let raw = std::fs::read_to_string(store.journal_path()).unwrap();
    assert!(!raw.contains("secret") && !raw.contains("user@"), "{raw}");
    assert_eq!(raw.lines().count(), 3, "appended, one line an item: {raw}");
    assert!(!store.queue_path().exists(), "the queue was not rewritten");
    assert_eq!(items[0].dir.as_deref(), Some(Path::new("/srv/dl")));
    // No -o: the folder of the shell that added it, absolute, as `dlm get` would use. (It was
    // once left out, and the item went wherever the next dlm happened to start.)
    let shell = std::fs::canonicalize(tmp.path()).unwrap();
    assert_eq!(items[2].dir.as_deref(), Some(shell.as_path()), "no -o: the shell's folder");
    assert!(items.iter().all(|i| i.dir.as_ref().is_some_and(|d| d.is_absolute())), "{queue:?}");

    let out = dlm_in(&["ls"], tmp.path());
    assert!(out.status.success());
    let table = text(&out.stdout);
    assert!(table.contains("queued") && table.contains("http://h/a"), "{table}");
    assert!(table.lines().nth(2).unwrap().starts_with("2 "), "the saved ids: {table}");
    assert!(!table.contains("secret"), "ls never prints credentials");
    assert!(text(&out.stderr).contains("dlm is not running"));
    let out = dlm_in(&["ls", "--json"], tmp.path());
    let items: Vec<ItemRecord> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!((items[1].id, items[1].state), (2, ItemState::Queued));
}

#[test]
fn add_is_refused_clearly_while_another_dlm_holds_the_state_without_a_socket() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("no-config.toml"), "").unwrap();
    let _lock = StateStore::at(tmp.path()).lock(Duration::ZERO).unwrap();
    let out = dlm_in(&["add", "http://h/a"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("another dlm (pid {})", std::process::id())), "{err}");
    assert!(err.contains("does not answer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_ls_talk_to_a_running_dlm() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("no-config.toml"), "").unwrap();
    let (listing_tx, listing_rx) = watch::channel(vec![listed("http://h/running")]);
    let socket: PathBuf = tmp.path().join("dlm.sock");
    let (server, requests) = ControlServer::start(&socket).unwrap();
    let mut rx = answer(requests, listing_rx);
    let out = dlm_in_async(&["add", "http://h/x", "-o", "rel"], tmp.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "added 1 to the running dlm\n");
    let Request::Add { urls, dir, dir_is_default, .. } = rx.recv().await.unwrap() else {
        panic!("not an add")
    };
    assert_eq!(urls, [AddUrl::new("http://h/x")]);
    assert!(!dir_is_default, "-o chose the folder");
    let dir = dir.unwrap();
    assert!(dir.is_absolute() && dir.ends_with("rel"), "made absolute for the other process: {dir:?}");

    let out = dlm_in_async(&["ls", "--json"], tmp.path()).await;
    let items: Vec<ItemRecord> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items, vec![listed("http://h/running")]);
    listing_tx.send_replace(vec![]);
    let out = dlm_in_async(&["ls"], tmp.path()).await;
    assert_eq!(text(&out.stdout), "the queue is empty\n");
    assert!(!StateStore::at(tmp.path()).queue_path().exists(), "a running dlm owns the queue file");
    server.shutdown().await;
}

/// Issue 14: `dlm ls --json` against a running dlm carries a segmented download's connection
/// count and the reason for it, as the details pane shows them; the saved queue does not keep
/// them (a live figure: a restored download measures again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_json_of_a_running_dlm_shows_connections_and_their_reason_which_are_not_saved() {
    use dlm::engine::EngineEvent;
    let server = support::TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let dl = tmp.path().join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let store = StateStore::at(tmp.path());
    let mut options = support::harness::test_options(&dl);
    options.connections = 4;
    let config = dlm::session::SessionConfig {
        store: Some(store.clone()),
        socket: Some(tmp.path().join("dlm.sock")),
        ..Default::default()
    };
    let mut s = support::session::start_configured(options, config).unwrap();
    // Each connection sends 1 KiB, then waits for `release`: the download stays running.
    s.add(server.url("/f/conns.bin?size=8000000&gate=1"));
    let EngineEvent::ConnectionsChanged { id, note } =
        s.wait_for("a connection count", |e| matches!(e, EngineEvent::ConnectionsChanged { .. })).await
    else {
        unreachable!()
    };
    let out = dlm_in_async(&["ls", "--json"], tmp.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = &listed[0];
    assert_eq!(item["id"], id.0, "{listed:#}");
    assert_eq!(item["connections"]["active"], note.active, "{listed:#}");
    assert_eq!(item["connections"]["limit"], 4, "{listed:#}");
    assert_eq!(item["connections"]["reason"], note.reason.as_str(), "{listed:#}");
    assert!(!note.reason.is_empty());
    server.release(1000);
    s.wait_for("the download", |e| matches!(e, EngineEvent::Completed { id: i, .. } if *i == id)).await;
    s.close().await.saved.unwrap();
    let saved = std::fs::read_to_string(store.journal_path())
        .into_iter()
        .chain(std::fs::read_to_string(store.queue_path()))
        .collect::<String>();
    assert!(saved.contains("conns.bin") && !saved.contains("\"reason\""), "{saved}");
}
