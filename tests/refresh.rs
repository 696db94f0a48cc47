//! Refreshing an item's link against the real loopback server: by hand (`Command::Refresh`)
//! on running, paused and failed items, and through the refresh command when a link expires
//! mid-download or is a signed URL about to expire. The server's `expire_after` option plays
//! the signed link: the same URL answers 403 after its first request, another query is a
//! fresh link to the same file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dlm::engine::{Command, EngineEvent, EngineOptions, ErrorKind, ItemId, Program};
use support::harness::{Harness, PATIENCE, completed_path};
use support::process::ended;
use support::{TestServer, assert_file, content, wait_until};

/// Options with `sh -c SCRIPT` as the refresh command.
fn refreshing_with(script: &str) -> impl FnOnce(&mut EngineOptions) {
    let program = Program::new(vec!["sh".into(), "-c".into(), script.into(), "refresh".into()]).unwrap();
    move |o: &mut EngineOptions| o.refresh_command = Some(Arc::new(program))
}

/// The `Range` the server saw on each request for `path`, with the query of each.
fn ranges(server: &TestServer, path: &str) -> Vec<(String, Option<String>)> {
    server.requests_for(path).into_iter().map(|r| (r.query, r.range)).collect()
}

fn started_offsets(h: &Harness, id: ItemId) -> Vec<u64> {
    h.events_for(id)
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Started { info, .. } => Some(info.offset),
            _ => None,
        })
        .collect()
}

fn url_changes(h: &Harness, id: ItemId) -> Vec<String> {
    h.events_for(id)
        .iter()
        .filter_map(|e| match e {
            EngineEvent::UrlChanged { url, .. } => Some(url.clone()),
            _ => None,
        })
        .collect()
}

fn failed_with(e: &EngineEvent) -> (ErrorKind, Option<u16>, String) {
    match e {
        EngineEvent::Failed { error, .. } => (error.kind, error.status, error.message.clone()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_link_expiring_mid_download_completes_through_the_refresh_command_asking_only_for_the_rest() {
    let server = TestServer::start().await;
    let env_file = tempfile::NamedTempFile::new().unwrap();
    let fresh = server.url("/f/exp.bin?size=500000&sig=fresh");
    let script = format!(
        "printf 'URL=%s\\nNAME=%s\\nDIR=%s\\n' \"$DLM_URL\" \"$DLM_NAME\" \"$DLM_DIR\" > '{}'; \
         env | grep '^DLM_' | sort >> '{}'; echo; echo '{fresh}'",
        env_file.path().display(),
        env_file.path().display()
    );
    let mut h = Harness::with(refreshing_with(&script));
    // The first answer is cut after 200,000 bytes; the link then answers 403.
    let old = server.url("/f/exp.bin?size=500000&drop_after=200000&drop_times=1&expire_after=1&sig=old");
    let id = h.add(&old);
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("exp.bin", 500_000));

    let seen = ranges(&server, "/f/exp.bin");
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[0].1, None, "the first request asks for the whole file");
    assert!(seen[1].0.ends_with("sig=old") && seen[1].1.is_some(), "the old link, refused: {seen:#?}");
    assert!(seen[2].0.ends_with("sig=fresh"), "then the fresh link: {seen:#?}");
    // Only the bytes not on disk are asked for: the fresh link's range starts where the
    // `.part` ended, which is what the last attempt reported as already there.
    let on_disk = *started_offsets(&h, id).last().unwrap();
    assert!(on_disk > 0, "the cut body's bytes were kept");
    assert_eq!(seen[2].1.as_deref(), Some(format!("bytes={on_disk}-").as_str()));
    let fresh_request = &server.requests_for("/f/exp.bin")[2];
    assert_eq!(fresh_request.if_range.as_deref(), Some("\"exp.bin-v0\""), "guarded by the validator");
    assert_eq!(url_changes(&h, id), vec![fresh.clone()]);

    let env = std::fs::read_to_string(env_file.path()).unwrap();
    let dir = h.dir.path().display().to_string();
    let expected =
        format!("URL={old}\nNAME=exp.bin\nDIR={dir}\nDLM_DIR={dir}\nDLM_NAME=exp.bin\nDLM_URL={old}\n");
    assert_eq!(env, expected, "the command gets exactly DLM_URL, DLM_NAME and DLM_DIR");
}

/// A link refreshed to `fresh` (another file than the one on disk) ends with `fresh`'s bytes
/// from the first byte under the item's name, never spliced.
async fn refreshed_to_another_file(fresh_path: &str, expected: Vec<u8>) {
    let server = TestServer::start().await;
    let fresh = server.url(fresh_path);
    let mut h = Harness::with(refreshing_with(&format!("echo '{fresh}'")));
    let id = h.add(server.url("/f/mine.bin?size=500000&drop_after=200000&drop_times=1&expire_after=1"));
    let path = completed_path(&h.finish(id).await);
    assert_eq!(path, h.path("mine.bin"), "the item keeps its name");
    assert_file(&path, &expected);
    let offsets = started_offsets(&h, id);
    assert_eq!(offsets.last(), Some(&0), "started over: {offsets:?}");
}

#[tokio::test]
async fn a_refreshed_link_to_another_file_starts_over_instead_of_splicing() {
    // Another ETag: the server answers the `If-Range` request with the whole file (200).
    refreshed_to_another_file("/f/other.bin?size=300000", content("other.bin", 300_000)).await;
    // The same ETag but another size: a 206 whose total differs is not continued either.
    refreshed_to_another_file("/f/mine.bin?size=400000&v=2", content("mine.bin", 400_000)).await;
}

#[tokio::test]
async fn a_failing_refresh_command_fails_the_item_with_its_stderr_and_no_signature() {
    let server = TestServer::start().await;
    let script = "echo \"token service down for $DLM_URL\" >&2; exit 3";
    let mut h = Harness::with(refreshing_with(script));
    let id =
        h.add(server.url("/f/f.bin?size=500000&drop_after=100000&drop_times=1&expire_after=1&sig=SECRET"));
    let (kind, _, message) = failed_with(&h.finish(id).await);
    assert_eq!(kind, ErrorKind::Refresh);
    assert!(message.contains("token service down"), "{message}");
    assert!(message.contains("`sh` failed") && message.contains('3'), "{message}");
    assert!(!message.contains("SECRET"), "no query string in messages: {message}");
    assert!(h.path("f.bin.part").exists(), "the bytes on disk are kept for a retry");
}

#[tokio::test]
async fn a_fresh_link_refused_too_fails_the_item_without_asking_again() {
    let server = TestServer::start().await;
    let count = tempfile::NamedTempFile::new().unwrap();
    let fresh = server.url("/f/r.bin?size=500000&status=403&sig=fresh");
    let script = format!("echo run >> '{}'; echo '{fresh}'", count.path().display());
    let mut h = Harness::with(refreshing_with(&script));
    let id = h.add(server.url("/f/r.bin?size=500000&drop_after=100000&drop_times=1&expire_after=1"));
    let (kind, status, message) = failed_with(&h.finish(id).await);
    assert_eq!((kind, status), (ErrorKind::Http, Some(403)));
    assert!(message.contains("refused too"), "{message}");
    assert!(!message.contains("sig=fresh"), "{message}");
    assert_eq!(std::fs::read_to_string(count.path()).unwrap(), "run\n", "one try per failure");
}

#[tokio::test]
async fn a_refresh_command_that_prints_no_usable_url_fails_the_item() {
    let server = TestServer::start().await;
    for (n, (script, expected)) in [
        ("true", "printed no URL"),
        ("echo 'ftp://h/f.bin?sig=x'", "unusable URL: not an http(s) URL"),
        ("echo 'not a url'", "unusable URL"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut h = Harness::with(refreshing_with(script));
        // One file per case: the server counts requests per URL.
        let id = h.add(
            server.url(&format!("/f/n{n}.bin?size=300000&drop_after=100000&drop_times=1&expire_after=1")),
        );
        let (kind, _, message) = failed_with(&h.finish(id).await);
        assert_eq!(kind, ErrorKind::Refresh, "{script}");
        assert!(message.contains(expected), "{script}: {message}");
        assert!(!message.contains("sig=x"), "{message}");
    }
}

#[tokio::test]
async fn without_a_refresh_command_an_expired_link_fails_as_before() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/plain.bin?size=300000&drop_after=100000&drop_times=1&expire_after=1"));
    let (kind, status, _) = failed_with(&h.finish(id).await);
    assert_eq!((kind, status), (ErrorKind::Http, Some(403)));
    assert!(url_changes(&h, id).is_empty());
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[tokio::test]
async fn pausing_during_a_hanging_refresh_command_pauses_at_once_and_kills_it() {
    let server = TestServer::start().await;
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    // The command's own child sleeps: killing only the shell would leave it behind.
    let script =
        format!("sleep 1000 & echo $! > '{}.tmp'; mv '{0}.tmp' '{0}'; wait", pid_file.path().display());
    std::fs::remove_file(pid_file.path()).unwrap();
    let mut h = Harness::with(refreshing_with(&script));
    let id = h.add(server.url("/f/p.bin?size=300000&drop_after=100000&drop_times=1&expire_after=1"));
    wait_until("the refresh command to start", PATIENCE, || read_pid(pid_file.path()).is_some()).await;
    let sleeper = read_pid(pid_file.path()).unwrap();
    let asked = Instant::now();
    h.send(Command::Pause(id));
    h.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { id: i, .. } if *i == id)).await;
    // It should take milliseconds; 5 s is for a loaded machine.
    assert!(asked.elapsed() < Duration::from_secs(5), "pausing took {:?}", asked.elapsed());
    wait_until("the command's child to be killed", PATIENCE, || ended(sleeper)).await;
    assert!(h.path("p.bin.part").exists());
}

#[tokio::test]
async fn a_refresh_command_running_past_its_timeout_is_killed_and_fails_the_item() {
    let server = TestServer::start().await;
    let mut adjust = Some(refreshing_with("echo 'still thinking' >&2; exec sleep 1000"));
    let mut h = Harness::with(|o| {
        (adjust.take().unwrap())(o);
        o.refresh_timeout = Duration::from_secs(2);
    });
    let id = h.add(server.url("/f/t.bin?size=300000&drop_after=100000&drop_times=1&expire_after=1"));
    let (kind, _, message) = failed_with(&h.finish(id).await);
    assert_eq!(kind, ErrorKind::Refresh);
    assert!(message.contains("killed after the 2s timeout: still thinking"), "{message}");
}

#[tokio::test]
async fn a_signed_link_already_expired_is_refreshed_before_the_first_request() {
    let server = TestServer::start().await;
    let fresh = server.url("/f/s.bin?size=100000&sig=fresh");
    let mut h = Harness::with(refreshing_with(&format!("echo '{fresh}'")));
    let old =
        server.url("/f/s.bin?size=100000&X-Amz-Date=20200101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=x");
    let id = h.add(&old);
    let added = h.wait_for("added", |e| matches!(e, EngineEvent::Added { .. })).await;
    let EngineEvent::Added { item, .. } = added else { unreachable!() };
    let expected = std::time::UNIX_EPOCH + Duration::from_secs(1_577_836_800 + 3600);
    assert_eq!(item.link_expires, Some(expected), "the snapshot knows when the link expires");
    assert_file(&completed_path(&h.finish(id).await), &content("s.bin", 100_000));
    let seen = ranges(&server, "/f/s.bin");
    assert_eq!(seen.len(), 1, "the expired link was never sent: {seen:#?}");
    assert!(seen[0].0.ends_with("sig=fresh"));
}

#[tokio::test]
async fn refreshing_a_paused_item_keeps_it_paused_then_it_continues_on_the_new_url() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/g.bin?size=400000&gate=1&sig=old"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    h.send(Command::Pause(id));
    h.wait_for("pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    let fresh = server.url("/f/g.bin?size=400000&sig=fresh");
    h.engine.as_ref().unwrap().handle().refresh(id, &fresh).unwrap();
    // Commands are handled in order: once this one is answered, the refresh was handled.
    h.send(Command::SetItemRateLimit { id, limit: Some(1 << 30) });
    h.wait_for("limits", |e| matches!(e, EngineEvent::ItemLimitsChanged { .. })).await;
    let after_pause: Vec<_> =
        h.events.iter().skip_while(|e| !matches!(e, EngineEvent::Paused { .. })).collect();
    assert!(
        matches!(after_pause.as_slice(), [EngineEvent::Paused { .. }, EngineEvent::UrlChanged { url, .. }, EngineEvent::ItemLimitsChanged { .. }] if *url == fresh),
        "still paused, with the new URL: {after_pause:#?}"
    );
    h.send(Command::Resume(id));
    assert_file(&completed_path(&h.finish(id).await), &content("g.bin", 400_000));
    let last = server.requests_for("/f/g.bin").pop().unwrap();
    assert!(last.query.ends_with("sig=fresh"));
    assert_eq!(
        (last.range.as_deref(), last.if_range.as_deref()),
        (Some("bytes=1024-"), Some("\"g.bin-v0\""))
    );
}

#[tokio::test]
async fn refreshing_a_running_item_restarts_it_on_the_new_url_from_its_part() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/run.bin?size=400000&gate=1&sig=old"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    let fresh = server.url("/f/run.bin?size=400000&sig=fresh");
    let with_login = fresh.replace("http://", "http://user:s3cret@");
    h.engine.as_ref().unwrap().handle().refresh(id, &with_login).unwrap();
    assert_file(&completed_path(&h.finish(id).await), &content("run.bin", 400_000));
    let reqs = server.requests_for("/f/run.bin");
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert!(reqs[1].query.ends_with("sig=fresh"));
    assert_eq!(reqs[1].range.as_deref(), Some("bytes=1024-"));
    assert!(reqs[1].headers.contains_key("authorization"), "the new URL's credentials are used");
    assert_eq!(url_changes(&h, id), vec![fresh], "and never reported");
}

#[tokio::test]
async fn refreshing_a_segmented_download_moves_every_connection_to_the_new_url() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let size = 4 << 20;
    let id = h.add(server.url(&format!("/f/seg.bin?size={size}&throttle=400000&sig=old")));
    h.wait_for("some progress", |e| matches!(e, EngineEvent::Progress { bytes, .. } if *bytes > 200_000))
        .await;
    let fresh = server.url(&format!("/f/seg.bin?size={size}&sig=fresh"));
    h.engine.as_ref().unwrap().handle().refresh(id, &fresh).unwrap();
    assert_file(&completed_path(&h.finish(id).await), &content("seg.bin", size));
    let reqs = server.requests_for("/f/seg.bin");
    let new: Vec<_> = reqs.iter().filter(|r| r.query.ends_with("sig=fresh")).collect();
    assert!(!new.is_empty(), "{reqs:#?}");
    for r in &new {
        let range = r.range.as_deref().expect("the fresh link continues with ranges");
        assert!(!range.starts_with("bytes=0-"), "nothing is fetched again from the start: {range}");
        assert_eq!(r.if_range.as_deref(), Some("\"seg.bin-v0\""));
    }
}

#[tokio::test]
async fn a_failed_item_refreshed_is_queued_again_and_a_bad_url_is_refused_with_words() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/gone.bin?size=1000&status=410"));
    let (_, status, _) = failed_with(&h.finish(id).await);
    assert_eq!(status, Some(410));
    let handle = h.engine.as_ref().unwrap().handle();
    let refused = handle.refresh(id, "ftp://example.com/gone.bin").unwrap_err();
    assert_eq!(
        (refused.kind, refused.message.as_str()),
        (ErrorKind::InvalidUrl, "not an http(s) URL: ftp://example.com/gone.bin")
    );
    assert!(handle.refresh(id, "not a url").is_err());
    h.events.clear();
    handle.refresh(id, &server.url("/f/gone.bin?size=1000")).unwrap();
    h.wait_for("queued again", |e| matches!(e, EngineEvent::Queued { .. })).await;
    assert_file(&completed_path(&h.finish(id).await), &content("gone.bin", 1000));
    assert_eq!(url_changes(&h, id).len(), 1, "the refused URLs changed nothing");
}

#[tokio::test]
async fn a_link_from_the_refresh_command_is_kept_for_the_next_attempt_after_a_pause() {
    let server = TestServer::start().await;
    let runs = tempfile::NamedTempFile::new().unwrap();
    let fresh = server.url("/f/k.bin?size=400000&gate=1&sig=fresh");
    let mut h =
        Harness::with(refreshing_with(&format!("echo run >> '{}'; echo '{fresh}'", runs.path().display())));
    let id = h.add(server.url("/f/k.bin?size=400000&drop_after=100000&drop_times=1&expire_after=1&sig=old"));
    h.wait_for("the fresh link", |e| matches!(e, EngineEvent::UrlChanged { .. })).await;
    // The fresh link's first KiB arrives, then the gated server waits.
    h.wait_for(
        "data from the fresh link",
        |e| matches!(e, EngineEvent::Progress { bytes, .. } if *bytes > 100_000),
    )
    .await;
    h.send(Command::Pause(id));
    h.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    server.release(2);
    h.send(Command::Resume(id));
    assert_file(&completed_path(&h.finish(id).await), &content("k.bin", 400_000));
    let queries: Vec<String> = server.requests_for("/f/k.bin").into_iter().map(|r| r.query).collect();
    assert_eq!(queries.iter().filter(|q| q.ends_with("sig=old")).count(), 2, "{queries:#?}");
    assert_eq!(queries.iter().filter(|q| q.ends_with("sig=fresh")).count(), 2, "{queries:#?}");
    assert_eq!(
        std::fs::read_to_string(runs.path()).unwrap(),
        "run\n",
        "the resumed item did not need another"
    );
}
