//! Servers whose answers are odd in ways real servers and proxies are: ranges announced but
//! ignored, bodies always cut at the same byte, bytes that are not HTTP, transfer codings dlm
//! cannot decode, redirects to the same URL, sizes near 2^64. Each test checks what lands on
//! disk and how many requests the server saw, so a retry storm shows up as a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dlm::engine::{Command, EngineEvent};
use support::harness::{Harness, completed_path, failure, files_in};
use support::raw::{RawServer, Then, chunk, head};
use support::{TestServer, assert_file, content};

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_announced_but_answered_with_200_give_one_stream_and_a_handful_of_requests() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let id = h.add(server.url("/f/liar.bin?size=4194304&ranges=ignore"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("liar.bin", 4 * MIB));
    let requests = server.requests_for("/f/liar.bin").len();
    // The first answer, then the segments that learn ranges are ignored (one of whose 200s
    // carries the file on): never a restart loop.
    assert!(requests <= 5, "{requests} requests");
    assert_eq!(files_in(h.dir.path()), vec!["liar.bin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_that_learned_ranges_are_ignored_restarts_cleanly_after_a_pause() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let url = server.url("/f/liar2.bin?size=8388608&ranges=ignore&throttle=4000000");
    let id = h.add(url);
    h.wait_for("progress", |e| matches!(e, EngineEvent::Progress { bytes, .. } if *bytes > 1_000_000)).await;
    h.send(Command::Pause(id));
    h.wait_for("pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    let before = server.requests_for("/f/liar2.bin").len();
    h.send(Command::Resume(id));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("liar2.bin", 8 * MIB));
    let after: Vec<_> = server.requests_for("/f/liar2.bin").into_iter().skip(before).collect();
    assert_eq!(after.len(), 1, "one plain request after the pause, no splitting: {after:#?}");
    assert_eq!(after[0].range, None);
}

/// A server behind a proxy that caps bodies: every answer is a `200` announcing `size` bytes
/// (and, if `ranges`, `Accept-Ranges: bytes`, whatever `Range` asked), cut after `cap` bytes.
async fn capped(name: &'static str, size: usize, cap: usize, ranges: bool) -> RawServer {
    let body = content(name, size);
    RawServer::start(move |_, _| {
        let mut headers = vec![("Content-Length", size.to_string()), ("ETag", "\"c\"".to_string())];
        if ranges {
            headers.push(("Accept-Ranges", "bytes".into()));
        }
        let mut out = head("200 OK", &headers);
        out.extend_from_slice(&body[..cap]);
        (out, Then::Close)
    })
    .await
}

#[tokio::test]
async fn a_body_always_cut_at_the_same_byte_fails_after_its_retries_and_says_so() {
    let server = capped("capped.bin", 300_000, 200_000, false).await;
    let mut h = Harness::with(|o| o.retries = 3);
    let id = h.add(server.url("/capped.bin"));
    let e = failure(&h.finish(id).await);
    assert!(e.starts_with("the server keeps cutting the body short at 200000 bytes of 300000"), "{e}");
    assert_eq!(server.connections(), 4, "the first attempt and three retries");
    assert!(!h.path("capped.bin").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segmented_item_whose_bodies_are_always_cut_short_fails_after_its_retries() {
    let server = capped("capped4.bin", 4 * MIB, 3 * MIB + 12_345, true).await;
    let mut h = Harness::with(|o| {
        o.retries = 3;
        o.connections = 4;
    });
    let id = h.add(server.url("/capped4.bin"));
    let e = failure(&h.finish(id).await);
    assert!(e.starts_with("the server keeps cutting the body short at 3158073 bytes"), "{e}");
    let requests = server.connections();
    assert!(requests <= 12, "{requests} requests");
    assert!(!h.path("capped4.bin").exists());
}

#[tokio::test]
async fn bytes_that_are_not_http_fail_at_once() {
    let garbage = TestServer::garbage().await;
    let mut h = Harness::with(|o| o.retries = 5);
    let id = h.add(format!("http://{garbage}/x"));
    let e = failure(&h.finish(id).await);
    assert!(e.starts_with("the server's answer is not HTTP"), "{e}");
    assert!(e.contains(&format!("http://{garbage}/x")), "{e}");
    assert_eq!(h.retry_reasons(id), Vec::<String>::new());
}

/// A raw server answering every request with `head` followed by `body`, then `then`.
async fn raw(head_bytes: Vec<u8>, body: Vec<u8>, then: Then) -> RawServer {
    RawServer::start(move |_, _| {
        let mut out = head_bytes.clone();
        out.extend_from_slice(&body);
        (out, then)
    })
    .await
}

#[tokio::test]
async fn transfer_codings_dlm_cannot_decode_fail_and_leave_no_file() {
    let body = content("coded.bin", 20_000);
    let mut framed = chunk(&body);
    framed.extend_from_slice(b"0\r\n\r\n");
    let chunked_then_identity =
        raw(head("200 OK", &[("Transfer-Encoding", "chunked, identity".into())]), framed, Then::Close).await;
    let unknown =
        raw(head("200 OK", &[("Transfer-Encoding", "identityx".into())]), body.clone(), Then::Close).await;
    let gzip =
        raw(head("200 OK", &[("Transfer-Encoding", "gzip, chunked".into())]), chunk(&body), Then::Close)
            .await;
    let mut h = Harness::with(|o| o.retries = 2);
    let ids: Vec<_> =
        [&chunked_then_identity, &unknown, &gzip].iter().map(|s| h.add(s.url("/coded.bin"))).collect();
    let results = h.finish_all(&ids).await;
    for (id, coding) in ids.iter().zip(["chunked, identity", "identityx", "gzip, chunked"]) {
        let e = failure(&results[id]);
        assert!(e.starts_with(&format!("unsupported transfer coding {coding:?}")), "{coding}: {e}");
        assert!(h.retry_reasons(*id).is_empty(), "{coding}: not worth another attempt");
    }
    assert_eq!(files_in(h.dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn identity_transfer_coding_with_a_length_ends_at_the_length_without_waiting_for_a_close() {
    let body = content("ident.bin", 30_000);
    // The connection stays open after the body; reading to the close would wait for the stall
    // timeout (30 s by default) and then retry.
    let server = raw(
        head(
            "200 OK",
            &[("Transfer-Encoding", "identity, identity".into()), ("Content-Length", "30000".into())],
        ),
        body.clone(),
        Then::Hang,
    )
    .await;
    let mut h = Harness::with(|o| o.read_timeout = std::time::Duration::from_secs(30));
    let id = h.add(server.url("/ident.bin"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &body);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_server_redirecting_to_the_same_url_a_few_times_is_followed() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/cookie.bin?size=5000&redirect_self=3"));
    assert_file(&completed_path(&h.finish(id).await), &content("cookie.bin", 5000));
    assert_eq!(server.requests_for("/f/cookie.bin").len(), 4);
}

#[tokio::test]
async fn a_true_redirect_loop_fails_after_ten_redirects_and_says_it_went_in_a_circle() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let looping = h.add(server.url("/loop/a"));
    let ten = h.add(server.url("/redirect/10/f/ten.bin?size=100"));
    let eleven = h.add(server.url("/redirect/11/f/eleven.bin?size=100"));
    let results = h.finish_all(&[looping, ten, eleven]).await;
    let e = failure(&results[&looping]);
    assert_eq!(
        e,
        format!("too many redirects (10) starting at {}; they went in a circle", server.url("/loop/a"))
    );
    assert_file(&completed_path(&results[&ten]), &content("ten.bin", 100));
    let e = failure(&results[&eleven]);
    assert!(e.starts_with("too many redirects (10) starting at http://"), "{e}");
    assert!(!e.contains("circle"), "{e}");
    assert_eq!(server.requests_for("/loop/a").len() + server.requests_for("/loop/b").len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_near_two_to_the_64_fail_clearly_without_a_panic_or_a_giant_file() {
    let mut h = Harness::with(|o| {
        o.retries = 1;
        o.connections = 4;
    });
    let mut servers = Vec::new();
    for length in [u64::MAX, u64::MAX - 1, 1 << 63, 1 << 50] {
        let server = raw(
            head(
                "200 OK",
                &[
                    ("Content-Length", length.to_string()),
                    ("Accept-Ranges", "bytes".into()),
                    ("ETag", "\"huge\"".into()),
                ],
            ),
            vec![1u8; 5000],
            Then::Close,
        )
        .await;
        servers.push((length, server));
    }
    let ids: Vec<_> = servers.iter().map(|(_, s)| h.add(s.url("/huge.bin"))).collect();
    let results = h.finish_all(&ids).await;
    for ((length, _), id) in servers.iter().zip(&ids) {
        let e = failure(&results[id]);
        assert!(!e.contains("panicked"), "{length}: {e}");
        // hyper refuses lengths that do not fit its own counter; the others are too big for
        // any disk and must say so before a byte is written.
        if *length <= 1 << 63 {
            assert!(e.starts_with("not enough disk space for"), "{length}: {e}");
        }
    }
    for name in files_in(h.dir.path()) {
        let len = std::fs::metadata(h.path(&name)).unwrap().len();
        assert!(len < MIB as u64, "{name} is {len} bytes long");
    }
}
