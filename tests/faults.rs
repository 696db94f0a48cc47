//! Hostile and broken servers that `tests/engine.rs` does not already cover: connections that
//! drop again and again, bodies longer than announced, chunked bodies cut short, a `206` for
//! another file, a 503 storm, and a server that is down and then comes back. Every test checks
//! the bytes on disk, and that nothing incomplete ever carries a final name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use dlm::engine::EngineEvent;
use support::harness::{Harness, completed_path, failure, files_in};
use support::raw::{RawServer, Then, chunk, cut_then_ranged, head, range_start};
use support::{TestServer, assert_file, content};

#[tokio::test]
async fn a_connection_that_keeps_dropping_still_finishes_by_resuming_each_time() {
    let server = TestServer::start().await;
    // Two retries only: the budget starts again after every attempt that made progress, so
    // twelve drops in a row still end in a complete file.
    let mut h = Harness::with(|o| o.retries = 2);
    let id = h.add(server.url("/f/flaky.bin?size=400000&drop_after=25000&drop_times=12"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("flaky.bin", 400_000));
    let reqs = server.requests_for("/f/flaky.bin");
    assert_eq!(reqs.len(), 13, "twelve dropped attempts and a last one");
    // Every retry continued from what was on disk, never from zero.
    for r in &reqs[1..] {
        let start: u64 =
            r.range.as_deref().unwrap().trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
        assert!(start > 0, "{reqs:#?}");
    }
    assert_eq!(files_in(h.dir.path()), vec!["flaky.bin"]);
}

#[tokio::test]
async fn more_bytes_than_content_length_are_not_saved() {
    // The server announces 1000 bytes and sends 1500. The extra 500 are not part of the body
    // (HTTP/1.1 frames by length); the file must be exactly the announced bytes.
    let body = content("over.bin", 1500);
    let server = RawServer::start(move |_, _| {
        let mut out = head("200 OK", &[("Content-Length", "1000".into()), ("ETag", "\"o1\"".into())]);
        out.extend_from_slice(&body);
        (out, Then::Close)
    })
    .await;
    let mut h = Harness::new();
    let id = h.add(server.url("/over.bin"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("over.bin", 1500)[..1000]);
}

#[tokio::test]
async fn a_chunked_body_cut_short_is_retried_from_zero_and_never_published() {
    let full = content("chunky.bin", 50_000);
    let body = full.clone();
    // The first two connections stop in the middle of the second chunk and close; the third
    // sends the whole body. Without a length the bytes cannot be continued, so each retry
    // starts over and the file must not splice attempts.
    let server = RawServer::start(move |n, _| {
        let mut out = head("200 OK", &[("Transfer-Encoding", "chunked".into())]);
        out.extend(chunk(&body[..20_000]));
        if n <= 2 {
            out.extend_from_slice(format!("{:x}\r\n", 30_000).as_bytes());
            out.extend_from_slice(&body[20_000..25_000]);
        } else {
            out.extend(chunk(&body[20_000..]));
            out.extend_from_slice(b"0\r\n\r\n");
        }
        (out, Then::Close)
    })
    .await;
    let mut h = Harness::with(|o| o.retries = 3);
    let id = h.add(server.url("/chunky.bin"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &full);
    assert_eq!(server.connections(), 3);
    assert!(
        server.heads.lock().unwrap().iter().all(|h| range_start(h).is_none()),
        "no Range without a length"
    );
    assert_eq!(h.retry_reasons(id).len(), 2);
}

#[tokio::test]
async fn a_chunked_body_that_is_always_cut_short_fails_and_leaves_no_final_file() {
    let body = content("never.bin", 40_000);
    let server = RawServer::start(move |_, _| {
        let mut out = head("200 OK", &[("Transfer-Encoding", "chunked".into())]);
        out.extend(chunk(&body[..10_000]));
        out.extend_from_slice(b"ffff\r\nonly a little");
        (out, Then::Close)
    })
    .await;
    let mut h = Harness::with(|o| o.retries = 1);
    let id = h.add(server.url("/never.bin"));
    let error = failure(&h.finish(id).await);
    // Both attempts ended at the same byte (the whole first chunk and 13 of the second).
    assert!(
        error.starts_with("the server keeps cutting the body short at 10013 bytes (2 attempts"),
        "{error}"
    );
    assert!(error.ends_with(&server.url("/never.bin")), "{error}");
    assert!(!h.path("never.bin").exists(), "{:?}", files_in(h.dir.path()));
}

#[tokio::test]
async fn a_206_for_another_file_length_restarts_instead_of_splicing() {
    // Connection 1: 200 with 100 000 bytes announced, cut after 40 000. Connection 2 asks to
    // continue at 40 000 and gets a 206 whose Content-Range says the file is 90 000 bytes: not
    // the file we have half of. Connection 3 (from zero) gets the whole, right file.
    let other = content("other.bin", 90_000);
    let server = cut_then_ranged(content("cr.bin", 100_000), 40_000, move |start| {
        let start = start as usize;
        let headers = [
            ("Content-Range", format!("bytes {start}-89999/90000")),
            ("Content-Length", (90_000 - start).to_string()),
            ("ETag", "\"same\"".to_string()),
        ];
        let mut out = head("206 Partial Content", &headers);
        out.extend_from_slice(&other[start..]);
        out
    })
    .await;
    let mut h = Harness::new();
    let id = h.add(server.url("/cr.bin"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("cr.bin", 100_000));
    let heads = server.heads.lock().unwrap().clone();
    assert_eq!(heads.iter().map(|h| range_start(h)).collect::<Vec<_>>(), vec![None, Some(40_000), None]);
}

#[tokio::test]
async fn a_503_storm_with_retry_after_is_waited_out() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.retries = 10);
    // Eight refusals in a row, each with Retry-After: 0 (a real server would say more; the
    // delay itself is covered by retries_5xx_and_429_honouring_retry_after).
    let id = h.add(server.url("/f/storm.bin?size=80000&status=503&status_times=8&retry_after=0"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("storm.bin", 80_000));
    let reasons = h.retry_reasons(id);
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    assert!(reasons.iter().all(|r| r.starts_with("503 Service Unavailable")), "{reasons:?}");
}

#[tokio::test]
async fn a_503_storm_longer_than_the_retry_budget_fails_clearly_and_others_go_on() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.retries = 3);
    let storm = h.add(server.url("/f/busy.bin?size=1000&status=503&retry_after=0"));
    let fine = h.add(server.url("/f/calm.bin?size=5000"));
    let results = h.finish_all(&[storm, fine]).await;
    let e = failure(&results[&storm]);
    assert!(e.starts_with("503 Service Unavailable: http://"), "{e}");
    assert_eq!(server.requests_for("/f/busy.bin").len(), 4);
    assert_file(&completed_path(&results[&fine]), &content("calm.bin", 5000));
    assert_eq!(files_in(h.dir.path()), vec!["calm.bin"]);
}

#[tokio::test]
async fn a_server_that_is_down_then_comes_back_completes_the_item() {
    // Reserve a port, then close it: connections are refused until the server starts there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut h = Harness::with(|o| {
        o.retries = 50;
        o.retry_max_delay = Duration::from_millis(20);
    });
    let id = h.add(format!("http://{port}/f/back.bin?size=120000"));
    h.wait_for(
        "a refused connection",
        |e| matches!(e, EngineEvent::Retrying { reason, .. } if reason.starts_with("cannot connect")),
    )
    .await;
    let listener = tokio::net::TcpListener::bind(port).await.unwrap();
    let server = TestServer::start_on(listener);
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("back.bin", 120_000));
    assert_eq!(server.requests_for("/f/back.bin").len(), 1);
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_times_out_and_is_retried() {
    // The first connection gets no status line at all; the stall timeout must cover waiting
    // for the answer, not only the body.
    let body = content("silent.bin", 30_000);
    let server = RawServer::start(move |n, _| {
        if n == 1 {
            return (Vec::new(), Then::Hang);
        }
        let mut out = head("200 OK", &[("Content-Length", "30000".into())]);
        out.extend_from_slice(&body);
        (out, Then::Close)
    })
    .await;
    let mut h = Harness::with(|o| {
        o.connect_timeout = Duration::from_millis(300);
        o.read_timeout = Duration::from_millis(300);
    });
    let id = h.add(server.url("/silent.bin"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("silent.bin", 30_000));
    let reasons = h.retry_reasons(id);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].starts_with("no answer from http://"), "{reasons:?}");
}

#[tokio::test]
async fn a_body_that_stalls_before_its_first_byte_times_out() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.read_timeout = Duration::from_millis(300));
    let id = h.add(server.url("/f/zero.bin?size=50000&stall_after=0&stall_times=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("zero.bin", 50_000));
    assert!(h.retry_reasons(id)[0].contains("stalled"));
}

#[tokio::test]
async fn an_absurd_retry_after_is_capped_at_an_hour_and_the_item_can_still_be_cancelled() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/later.bin?status=503&retry_after=999999999"));
    let e = h.wait_for("retry", |e| matches!(e, EngineEvent::Retrying { .. })).await;
    let EngineEvent::Retrying { delay, .. } = e else { unreachable!() };
    assert_eq!(delay, Duration::from_secs(3600));
    h.send(dlm::engine::Command::Cancel { id, delete_partial: true });
    assert!(matches!(h.finish(id).await, EngineEvent::Cancelled { .. }));
}

#[tokio::test]
async fn broken_framing_and_header_bombs_fail_clearly_without_a_file() {
    let server = RawServer::start(|_, req| {
        let path = req.split(' ').nth(1).unwrap_or("").to_string();
        let out = match path.as_str() {
            "/bad-length" => b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\nhello".to_vec(),
            "/two-lengths" => {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!".to_vec()
            }
            "/header-bomb" => {
                let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..20_000 {
                    out.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(50)).as_bytes());
                }
                out.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
                out
            }
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        (out, Then::Close)
    })
    .await;
    let mut h = Harness::with(|o| o.retries = 1);
    let ids: Vec<_> =
        ["/bad-length", "/two-lengths", "/header-bomb"].iter().map(|p| h.add(server.url(p))).collect();
    let results = h.finish_all(&ids).await;
    for (id, path) in ids.iter().zip(["/bad-length", "/two-lengths", "/header-bomb"]) {
        let e = failure(&results[id]);
        assert!(e.contains(&server.url(path)), "{path}: {e}");
    }
    assert!(files_in(h.dir.path()).is_empty(), "{:?}", files_in(h.dir.path()));
}

#[tokio::test]
async fn redirects_to_file_and_javascript_urls_are_refused() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let file = h.add(server.url("/to?url=file:///etc/passwd"));
    let js = h.add(server.url("/to?url=javascript:alert(1)"));
    let results = h.finish_all(&[file, js]).await;
    assert_eq!(failure(&results[&file]), "redirected to a URL that is not http(s): file:///etc/passwd");
    assert!(failure(&results[&js]).starts_with("redirected to a URL that is not http(s): javascript:"));
    assert!(files_in(h.dir.path()).is_empty());
}

#[tokio::test]
async fn silent_segment_requests_time_out_and_the_segmented_download_completes() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.connections = 4;
        o.connect_timeout = Duration::from_millis(300);
        o.read_timeout = Duration::from_millis(300);
    });
    // The first request streams slowly enough that segments are asked for; the first three
    // segment requests are never answered.
    let id = h.add(server.url("/f/quiet.bin?size=3000000&throttle=3000000&silent_ranged=3"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("quiet.bin", 3_000_000));
    let ranged = server.requests_for("/f/quiet.bin").iter().filter(|r| r.range.is_some()).count();
    assert!(ranged >= 3, "{ranged} ranged requests");
}

#[tokio::test]
async fn a_206_to_a_request_without_range_is_refused_and_never_saved() {
    let server = RawServer::start(|_, _| {
        let mut out = head(
            "206 Partial Content",
            &[("Content-Range", "bytes 100-199/1000".into()), ("Content-Length", "100".into())],
        );
        out.extend_from_slice(&[7u8; 100]);
        (out, Then::Close)
    })
    .await;
    let mut h = Harness::with(|o| o.retries = 1);
    let id = h.add(server.url("/piece.bin"));
    let e = failure(&h.finish(id).await);
    assert!(e.contains("206 to a request without Range"), "{e}");
    assert!(files_in(h.dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_announcing_a_total_near_two_to_the_64_is_not_spliced_and_does_not_panic() {
    let server = cut_then_ranged(content("edge.bin", 100_000), 40_000, |start| {
        let max = u64::MAX;
        let headers = [
            ("Content-Range", format!("bytes {start}-{}/{max}", max - 1)),
            ("Content-Length", "10".into()),
            ("ETag", "\"same\"".to_string()),
        ];
        head("206 Partial Content", &headers)
    })
    .await;
    let mut h = Harness::new();
    let id = h.add(server.url("/edge.bin"));
    assert_file(&completed_path(&h.finish(id).await), &content("edge.bin", 100_000));
}
