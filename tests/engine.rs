//! The engine against a real loopback HTTP server: bytes on disk, names, resume, retries,
//! redirects and the failure messages a person sees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use dlm::engine::{AddRequest, Command, EngineEvent, ResumeHint};
use support::harness::{Harness, completed_path, failure, files_in};
use support::{TestServer, assert_file, content, content_version};

#[tokio::test]
async fn downloads_bytes_exactly_and_reports_start_and_completion() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/data.bin?size=300000"));
    let done = h.finish(id).await;
    let path = completed_path(&done);
    assert_eq!(path, h.path("data.bin"));
    assert_file(&path, &content("data.bin", 300_000));
    let started = h.events_for(id).into_iter().find_map(|e| match e {
        EngineEvent::Started { info, .. } => Some(info.clone()),
        _ => None,
    });
    let info = started.expect("a Started event");
    assert_eq!(
        (info.name.as_str(), info.total, info.offset, info.status),
        ("data.bin", Some(300_000), 0, 200)
    );
    assert!(info.resumable);
    assert_eq!(files_in(h.dir.path()), vec!["data.bin"], "no .part or sidecar left behind");
}

#[tokio::test]
async fn empty_and_chunked_bodies() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let empty = h.add(server.url("/f/empty.txt?size=0"));
    let chunked = h.add(server.url("/f/chunked.bin?size=100000&chunked=1"));
    let results = h.finish_all(&[empty, chunked]).await;
    assert_file(&completed_path(&results[&empty]), b"");
    assert_file(&completed_path(&results[&chunked]), &content("chunked.bin", 100_000));
}

#[tokio::test]
async fn names_come_from_content_disposition_then_url_and_never_escape_the_folder() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let cases = [
        ("/f/a?cd=attachment%3B%20filename%2A%3DUTF-8%27%27%25E2%2582%25AC%2520rates.txt", "€ rates.txt"),
        ("/f/b?cd=attachment%3B%20filename%3D%22..%2F..%2Fx%22", "x"),
        ("/f/c?cd=attachment%3B%20filename%3D%2Fetc%2Fpasswd", "passwd"),
        ("/f/d?cd=attachment%3B%20filename%3D%22..%22", "d"),
        ("/f/my%20file%2Ezip", "my file.zip"),
        ("/f/%2e%2e%2f%2e%2e%2fescape", "escape"),
    ];
    // Where `../../x` would land. The temp folder is shared with other programs, so only a
    // file that was not there before counts as an escape.
    let outside = h.dir.path().parent().unwrap().join("x");
    let was_there = outside.exists();
    let ids: Vec<_> = cases.iter().map(|(path, _)| h.add(server.url(path))).collect();
    for (id, (_, expected)) in ids.iter().zip(cases) {
        let path = completed_path(&h.finish(*id).await);
        assert_eq!(path, h.path(expected), "for {expected}");
    }
    let mut expected: Vec<String> = cases.iter().map(|(_, n)| n.to_string()).collect();
    expected.sort();
    assert_eq!(files_in(h.dir.path()), expected);
    assert!(was_there || !outside.exists(), "{} was written outside the folder", outside.display());
}

#[tokio::test]
async fn same_name_twice_gives_two_files_and_never_overwrites() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    std::fs::write(h.path("dup.bin"), b"mine, keep me").unwrap();
    let a = h.add(server.url("/f/dup.bin?size=1000"));
    let b = h.add(server.url("/f/dup.bin?size=2000"));
    let results = h.finish_all(&[a, b]).await;
    let mut paths = vec![completed_path(&results[&a]), completed_path(&results[&b])];
    paths.sort();
    assert_eq!(paths, vec![h.path("dup (1).bin"), h.path("dup (2).bin")]);
    assert_file(&h.path("dup.bin"), b"mine, keep me");
    let sizes: Vec<u64> = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).collect();
    assert!(sizes.contains(&1000) && sizes.contains(&2000));
}

#[tokio::test]
async fn a_dropped_connection_resumes_with_range_and_if_range() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/drop.bin?size=500000&drop_after=200000&drop_times=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("drop.bin", 500_000));
    let reqs = server.requests_for("/f/drop.bin");
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!(reqs[0].range, None);
    let range = reqs[1].range.as_deref().expect("second request is ranged");
    let offset: u64 = range.strip_prefix("bytes=").unwrap().strip_suffix('-').unwrap().parse().unwrap();
    assert!(offset > 0 && offset <= 200_000, "resumed from {offset}");
    assert_eq!(reqs[1].if_range.as_deref(), Some("\"drop.bin-v0\""));
    assert!(h.events_for(id).iter().any(|e| matches!(e, EngineEvent::Retrying { .. })));
}

#[tokio::test]
async fn resume_uses_last_modified_when_there_is_no_etag() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/lm.bin?size=300000&lastmod=1&drop_after=100000&drop_times=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("lm.bin", 300_000));
    let reqs = server.requests_for("/f/lm.bin");
    assert_eq!(reqs[1].if_range.as_deref(), Some("Sun, 06 Nov 1994 08:00:37 GMT"));
    assert!(reqs[1].range.is_some());
}

#[tokio::test]
async fn a_server_that_ignores_range_still_gives_correct_bytes() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/norange.bin?size=400000&ranges=0&drop_after=150000&drop_times=2"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("norange.bin", 400_000));
    assert_eq!(server.requests_for("/f/norange.bin").len(), 3);
}

#[tokio::test]
async fn content_that_changes_between_attempts_is_restarted_not_spliced() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    // Every request is a new version; the first is cut short. If-Range makes the server send
    // the whole new version, which must replace the old bytes entirely.
    let id = h.add(server.url("/f/chg.bin?size=300000&changing=1&drop_after=100000&drop_times=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content_version("chg.bin", 2, 300_000));
}

#[tokio::test]
async fn a_206_with_another_etag_or_wrong_content_range_restarts_from_zero() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let lying = h.add(server.url("/f/lie.bin?size=300000&lying_206=1&drop_after=100000&drop_times=1"));
    let bad = h.add(server.url("/f/badcr.bin?size=300000&bad_range=1&drop_after=100000&drop_times=1"));
    let results = h.finish_all(&[lying, bad]).await;
    assert_file(&completed_path(&results[&lying]), &content("lie.bin", 300_000));
    assert_file(&completed_path(&results[&bad]), &content("badcr.bin", 300_000));
    // After the bad 206, a request without Range fetched the whole file again.
    for path in ["/f/lie.bin", "/f/badcr.bin"] {
        let reqs = server.requests_for(path);
        assert_eq!(reqs.len(), 3, "{path}: {reqs:#?}");
        assert!(reqs[1].range.is_some() && reqs[2].range.is_none(), "{path}");
    }
    // The answer that started the file over reports that ranges cannot be trusted, so a saved
    // queue can remember it (`ResumeHint::ranges_unreliable`).
    for id in [lying, bad] {
        let last_start = h.events_for(id).into_iter().rev().find_map(|e| match e {
            EngineEvent::Started { info, .. } => Some(info.clone()),
            _ => None,
        });
        assert!(last_start.is_some_and(|i| i.ranges_unreliable && !i.resumable), "{id}");
    }
}

#[tokio::test]
async fn a_complete_part_file_answered_with_416_is_published() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let bytes = content("whole.bin", 5000);
    std::fs::write(h.path("whole.bin.part"), &bytes).unwrap();
    let id = h.add_request(AddRequest {
        url: server.url("/f/whole.bin?size=5000"),
        dir: None,
        resume: Some(ResumeHint {
            file_name: "whole.bin".into(),
            validator: Some("\"whole.bin-v0\"".into()),
            total: Some(5000),
            ranges_unreliable: false,
            start_over: false,
        }),
        ..AddRequest::default()
    });
    let path = completed_path(&h.finish(id).await);
    assert_eq!(path, h.path("whole.bin"));
    assert_file(&path, &bytes);
    assert_eq!(server.requests_for("/f/whole.bin")[0].range.as_deref(), Some("bytes=5000-"));
}

#[tokio::test]
async fn a_restored_part_continues_where_it_stopped() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let full = content("half.bin", 200_000);
    std::fs::write(h.path("half.bin.part"), &full[..120_000]).unwrap();
    let id = h.add_request(AddRequest {
        url: server.url("/f/half.bin?size=200000"),
        dir: None,
        resume: Some(ResumeHint {
            file_name: "half.bin".into(),
            validator: Some("\"half.bin-v0\"".into()),
            total: Some(200_000),
            ranges_unreliable: false,
            start_over: false,
        }),
        ..AddRequest::default()
    });
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &full);
    let reqs = server.requests_for("/f/half.bin");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].range.as_deref(), Some("bytes=120000-"));
}

/// "This URL's ranges cannot be trusted" survives a restart through the resume hint: the
/// restored item is one stream from the first byte, with connections to spare and a `.part`
/// on disk, and says so in its snapshot; the same item without the note splits.
#[tokio::test]
async fn a_restored_item_whose_ranges_were_unreliable_neither_splits_nor_continues() {
    // Well above twice the smallest piece worth a connection of its own (256 KiB).
    let size = 2 << 20;
    for unreliable in [true, false] {
        let server = TestServer::start().await;
        let mut h = Harness::with(|o| o.connections = 4);
        let name = format!("wary-{unreliable}.bin");
        let full = content(&name, size);
        std::fs::write(h.path(&format!("{name}.part")), &full[..100_000]).unwrap();
        let id = h.add_request(AddRequest {
            url: server.url(&format!("/f/{name}?size={size}")),
            dir: None,
            resume: Some(ResumeHint {
                file_name: name.clone(),
                validator: Some(format!("\"{name}-v0\"")),
                total: Some(size as u64),
                ranges_unreliable: unreliable,
                start_over: false,
            }),
            ..AddRequest::default()
        });
        let added = h.wait_for("Added", |e| matches!(e, EngineEvent::Added { .. })).await;
        let EngineEvent::Added { item, .. } = added else { unreachable!() };
        assert_eq!(item.ranges_unreliable, unreliable);
        assert_file(&completed_path(&h.finish(id).await), &full);
        let reqs = server.requests_for(&format!("/f/{name}"));
        let started: Vec<_> = h
            .events_for(id)
            .into_iter()
            .filter_map(|e| match e {
                EngineEvent::Started { info, .. } => Some(info.clone()),
                _ => None,
            })
            .collect();
        if unreliable {
            assert_eq!(reqs.len(), 1, "one stream: {reqs:?}");
            assert_eq!(reqs[0].range, None, "from the first byte");
            assert!(started.iter().all(|i| i.ranges_unreliable && !i.resumable), "{started:?}");
        } else {
            assert!(reqs.len() > 1, "with ranges trusted the rest is split: {reqs:?}");
            assert_eq!(reqs[0].range.as_deref(), Some("bytes=100000-"));
            assert!(started.iter().all(|i| !i.ranges_unreliable), "{started:?}");
        }
    }
}

#[tokio::test]
async fn retries_5xx_and_429_honouring_retry_after() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let a = h.add(server.url("/f/busy.bin?size=1000&status=503&status_times=2&retry_after=0"));
    let b = h.add(server.url("/f/slow.bin?size=1000&status=429&status_times=1&retry_after=1"));
    let results = h.finish_all(&[a, b]).await;
    assert_file(&completed_path(&results[&a]), &content("busy.bin", 1000));
    assert_file(&completed_path(&results[&b]), &content("slow.bin", 1000));
    assert_eq!(server.requests_for("/f/busy.bin").len(), 3);
    let delays: Vec<Duration> = h
        .events_for(b)
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Retrying { delay, reason, .. } => {
                assert!(reason.starts_with("429 Too Many Requests: http://"), "{reason}");
                Some(*delay)
            }
            _ => None,
        })
        .collect();
    assert_eq!(delays, vec![Duration::from_secs(1)], "Retry-After: 1 is honoured");
}

#[tokio::test]
async fn never_retries_404_or_403_and_says_what_happened() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let missing = h.add(server.url("/nothing-here"));
    let forbidden = h.add(server.url("/f/secret?status=403"));
    let results = h.finish_all(&[missing, forbidden]).await;
    assert_eq!(failure(&results[&missing]), format!("404 Not Found: {}", server.url("/nothing-here")));
    assert_eq!(
        failure(&results[&forbidden]),
        format!("403 Forbidden: {}", server.url("/f/secret?status=403"))
    );
    assert_eq!(server.requests_for("/nothing-here").len(), 1);
    assert_eq!(server.requests_for("/f/secret").len(), 1);
    assert!(files_in(h.dir.path()).is_empty());
}

#[tokio::test]
async fn gives_up_after_the_retry_budget() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.retries = 2);
    let id = h.add(server.url("/f/down.bin?status=500"));
    let error = failure(&h.finish(id).await);
    assert!(error.starts_with("500 Internal Server Error"), "{error}");
    assert_eq!(server.requests_for("/f/down.bin").len(), 3, "first attempt plus two retries");
}

#[tokio::test]
async fn a_stall_times_out_and_the_retry_resumes() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.read_timeout = Duration::from_millis(300));
    let id = h.add(server.url("/f/stall.bin?size=200000&stall_after=50000&stall_times=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("stall.bin", 200_000));
    let reasons: Vec<String> = h
        .events_for(id)
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Retrying { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].contains("stalled"), "{reasons:?}");
    assert!(server.requests_for("/f/stall.bin")[1].range.is_some());
}

#[tokio::test]
async fn short_bodies_are_retried_and_never_published() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.retries = 1);
    let once = h.add(server.url("/f/short1.bin?size=100000&short=1000&short_times=1"));
    let always = h.add(server.url("/f/short2.bin?size=100000&short=1000"));
    let results = h.finish_all(&[once, always]).await;
    assert_file(&completed_path(&results[&once]), &content("short1.bin", 100_000));
    let error = failure(&results[&always]);
    assert!(error.contains("100000"), "{error}");
    assert!(!h.path("short2.bin").exists(), "an incomplete file never gets the final name");
}

#[tokio::test]
async fn redirects_are_followed_loops_and_bad_schemes_fail_clearly() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let ok = h.add(server.url("/redirect/3/f/moved.bin?size=2000"));
    let looping = h.add(server.url("/loop/a"));
    let ftp = h.add(server.url("/to?url=ftp://example.com/x"));
    let too_many = h.add(server.url("/redirect/15/f/far.bin"));
    let results = h.finish_all(&[ok, looping, ftp, too_many]).await;
    assert_file(&completed_path(&results[&ok]), &content("moved.bin", 2000));
    let final_url = h.events_for(ok).iter().find_map(|e| match e {
        EngineEvent::Started { info, .. } => Some(info.final_url.clone()),
        _ => None,
    });
    assert_eq!(final_url, Some(server.url("/f/moved.bin?size=2000")));
    let e = failure(&results[&looping]);
    assert!(e.starts_with("too many redirects (10) starting at http://"), "{e}");
    assert!(e.ends_with("they went in a circle"), "{e}");
    assert_eq!(failure(&results[&ftp]), "redirected to a URL that is not http(s): ftp://example.com/x");
    assert!(failure(&results[&too_many]).starts_with("too many redirects"));
}

#[tokio::test]
async fn bytes_on_disk_are_the_resource_even_when_the_server_could_compress() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/page.txt?size=50000&gzip=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("page.txt", 50_000));
    let sent = server.requests_for("/f/page.txt")[0].headers.get("accept-encoding").cloned();
    assert_eq!(sent.unwrap(), "identity");
}

#[tokio::test]
async fn invalid_urls_fail_with_a_message_and_the_rest_continue() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let ftp = h.add("ftp://example.com/file");
    let junk = h.add("not a url");
    let good = h.add(server.url("/f/fine.bin?size=10"));
    let results = h.finish_all(&[ftp, junk, good]).await;
    assert_eq!(failure(&results[&ftp]), "not an http(s) URL: ftp://example.com/file");
    assert!(failure(&results[&junk]).starts_with("invalid URL \"not a url\""));
    completed_path(&results[&good]);
}

#[tokio::test]
async fn connection_refused_and_garbage_servers_fail_clearly() {
    let garbage = TestServer::garbage().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut h = Harness::with(|o| o.retries = 1);
    let refused = h.add(format!("http://{closed}/x"));
    let nonsense = h.add(format!("http://{garbage}/x"));
    let results = h.finish_all(&[refused, nonsense]).await;
    let e = failure(&results[&refused]);
    assert!(e.starts_with(&format!("cannot connect to http://{closed}/x")), "{e}");
    let e = failure(&results[&nonsense]);
    assert!(e.contains(&format!("http://{garbage}/x")), "{e}");
}

#[tokio::test]
async fn unwritable_destination_fails_with_the_path_and_leaves_others_alone() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let not_a_dir = h.path("plain-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let bad = h.add_request(AddRequest {
        url: server.url("/f/big.bin?size=600000"),
        dir: Some(not_a_dir.clone()),
        ..AddRequest::default()
    });
    let good = h.add(server.url("/f/good.bin?size=600000"));
    let results = h.finish_all(&[bad, good]).await;
    let e = failure(&results[&bad]);
    assert!(e.starts_with(&format!("cannot write {}", not_a_dir.join("big.bin.part").display())), "{e}");
    assert_file(&completed_path(&results[&good]), &content("good.bin", 600_000));
}

#[tokio::test]
async fn pause_keeps_the_part_and_resume_continues_it() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/gated.bin?size=400000&gate=1"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    h.send(Command::Pause(id));
    let paused = h.wait_for("pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    let EngineEvent::Paused { bytes, .. } = paused else { unreachable!() };
    assert_eq!(bytes, 1024, "the gated server sent 1 KiB before pausing");
    assert_eq!(std::fs::metadata(h.path("gated.bin.part")).unwrap().len(), 1024);
    assert!(!h.path("gated.bin").exists());
    server.release(1);
    h.send(Command::Resume(id));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("gated.bin", 400_000));
    assert_eq!(server.requests_for("/f/gated.bin")[1].range.as_deref(), Some("bytes=1024-"));
}

#[tokio::test]
async fn cancel_deletes_the_partial_only_when_asked_and_retry_reuses_it() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let keep = h.add(server.url("/f/keep.bin?size=100000&gate=1"));
    let drop = h.add(server.url("/f/drop.bin?size=100000&gate=1"));
    let has_first_kib = |h: &Harness, id| {
        h.events.iter().any(|e| matches!(e, EngineEvent::Progress { id: i, bytes: 1024 } if *i == id))
    };
    while !(has_first_kib(&h, keep) && has_first_kib(&h, drop)) {
        h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { .. })).await;
    }
    h.send(Command::Cancel { id: keep, delete_partial: false });
    h.send(Command::Cancel { id: drop, delete_partial: true });
    h.finish_all(&[keep, drop]).await;
    assert!(matches!(h.terminal(keep), Some(EngineEvent::Cancelled { .. })));
    assert_eq!(files_in(h.dir.path()), vec!["keep.bin.part", "keep.bin.part.dlm"]);
    server.release(1);
    h.send(Command::Retry(keep));
    h.wait_for("requeued", |e| matches!(e, EngineEvent::Queued { id } if *id == keep)).await;
    let path = completed_path(&h.wait_for("done", |e| matches!(e, EngineEvent::Completed { .. })).await);
    assert_file(&path, &content("keep.bin", 100_000));
    h.send(Command::Remove(keep));
    h.wait_for("removed", |e| matches!(e, EngineEvent::Removed { .. })).await;
}

#[tokio::test]
async fn headers_and_user_agent_are_sent() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.headers = vec![("X-Token".into(), "abc".into())];
        o.user_agent = "tester/1".into();
    });
    let id = h.add(server.url("/f/h.bin"));
    h.finish(id).await;
    let req = &server.requests_for("/f/h.bin")[0];
    assert_eq!(req.headers.get("x-token").unwrap(), "abc");
    assert_eq!(req.headers.get("user-agent").unwrap(), "tester/1");
}

#[tokio::test]
async fn continue_existing_skips_complete_files_and_resumes_parts() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let full = content("c.bin", 300_000);
    // A first run is interrupted mid-body: it leaves the part file and its sidecar.
    h.add(server.url("/f/c.bin?size=300000&gate=1"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    let mut h = h.restart(|o| o.continue_existing = true).await;
    std::fs::write(h.path("done.bin"), content("done.bin", 777)).unwrap();
    // The first run's abandoned body may still hold a place at the gate; open it for all.
    server.release(100);
    let again = h.add(server.url("/f/c.bin?size=300000&gate=1"));
    let done = h.add(server.url("/f/done.bin?size=777"));
    let results = h.finish_all(&[again, done]).await;
    assert!(matches!(results[&done], EngineEvent::Completed { skipped: true, .. }));
    assert_file(&completed_path(&results[&again]), &full);
    let reqs = server.requests_for("/f/c.bin");
    assert_eq!(reqs.last().unwrap().range.as_deref(), Some("bytes=1024-"), "{reqs:#?}");
}

#[tokio::test]
async fn continue_existing_continues_a_part_without_sidecar_with_a_validated_range() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.continue_existing = true);
    let full = content("orphan.bin", 300_000);
    // Left by a run against a server without ranges, or by another tool: no sidecar.
    std::fs::write(h.path("orphan.bin.part"), &full[..100_000]).unwrap();
    let id = h.add(server.url("/f/orphan.bin?size=300000"));
    let path = completed_path(&h.finish(id).await);
    assert_eq!(path, h.path("orphan.bin"));
    assert_file(&path, &full);
    let reqs = server.requests_for("/f/orphan.bin");
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!(reqs[1].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(reqs[1].if_range.as_deref(), Some("\"orphan.bin-v0\""));
    assert_eq!(files_in(h.dir.path()), vec!["orphan.bin"]);
}

#[tokio::test]
async fn continue_existing_starts_a_part_over_in_place_when_the_server_cannot_continue() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.continue_existing = true);
    // No ranges; ranges but nothing to check the old bytes against; a `.part` as long as the
    // file (complete, or preallocated with holes: nobody can tell).
    // (name, server options, `.part` length, requests: the first answer already says whether
    // the bytes can be continued, except that a server without ranges has to be asked).
    let cases = [
        ("norange.bin", "ranges=0", 100_000, 2),
        ("novalidator.bin", "etag=0", 100_000, 1),
        ("full.bin", "", 300_000, 1),
    ];
    let mut ids = Vec::new();
    for (name, options, len, _) in cases {
        std::fs::write(h.path(&format!("{name}.part")), vec![0u8; len]).unwrap();
        ids.push(h.add(server.url(&format!("/f/{name}?size=300000&{options}"))));
    }
    let results = h.finish_all(&ids).await;
    for ((name, _, _, requests), id) in cases.iter().zip(&ids) {
        let path = completed_path(&results[id]);
        assert_eq!(path, h.path(name));
        assert_file(&path, &content(name, 300_000));
        let reqs = server.requests_for(&format!("/f/{name}"));
        assert_eq!(reqs.len(), *requests, "{name}: {reqs:#?}");
    }
    assert_eq!(files_in(h.dir.path()), vec!["full.bin", "norange.bin", "novalidator.bin"]);
}
