//! Segmented downloads, connection caps and rate limits against the loopback server: bytes
//! must be identical to a single stream whatever the connections do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use dlm::engine::{AddRequest, Command, EngineEvent, ItemId, ItemLimits, RestoreAs};
use support::harness::{Harness, completed_path, files_in};
use support::{TestServer, assert_file, content};

const MIB: usize = 1 << 20;

/// `(start, end_inclusive)` of every ranged request for `path`.
fn ranges(server: &TestServer, path: &str) -> Vec<(u64, Option<u64>)> {
    server
        .requests_for(path)
        .iter()
        .filter_map(|r| r.range.as_deref())
        .map(|r| {
            let (a, b) = r.strip_prefix("bytes=").unwrap().split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().ok())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_connections_give_identical_bytes() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let id = h.add(server.url("/f/seg.bin?size=8388608&throttle=4000000"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("seg.bin", 8 * MIB));
    assert!(server.max_active() >= 3, "only {} connections at once", server.max_active());
    let ranged = ranges(&server, "/f/seg.bin");
    assert!(ranged.len() >= 3, "{ranged:?}");
    assert!(ranged.iter().all(|(_, end)| end.is_some()), "extra segments ask for bounded ranges");
    assert_eq!(files_in(h.dir.path()), vec!["seg.bin"], "no sidecar or part left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_and_stalling_connections_still_give_identical_bytes() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.connections = 4;
        o.read_timeout = Duration::from_millis(400);
    });
    let drops =
        h.add(server.url("/f/drops.bin?size=6291456&throttle=8000000&drop_after=700000&drop_times=4"));
    let stalls =
        h.add(server.url("/f/stalls.bin?size=6291456&throttle=8000000&stall_after=500000&stall_times=3"));
    let results = h.finish_all(&[drops, stalls]).await;
    assert_file(&completed_path(&results[&drops]), &content("drops.bin", 6 * MIB));
    assert_file(&completed_path(&results[&stalls]), &content("stalls.bin", 6 * MIB));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_goes_quiet_near_its_end_has_its_last_bytes_fetched_by_another() {
    let server = TestServer::start().await;
    // The stall timeout is longer than the test's patience: only taking the quiet range over
    // finishes the download in time. The first request stops after 700,000 bytes of its first
    // quarter and keeps its connection open: 348,576 bytes are left, too few to halve.
    let mut h = Harness::with(|o| {
        o.connections = 4;
        o.read_timeout = Duration::from_secs(60);
    });
    let id = h.add(server.url("/f/quiet.bin?size=4194304&stall_after=700000&stall_times=1"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("quiet.bin", 4 * MIB));
    let ranged = ranges(&server, "/f/quiet.bin");
    assert!(ranged.contains(&(700_000, Some(MIB as u64 - 1))), "the rest asked for again: {ranged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_extra_connections_does_not_fail_the_download() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 8);
    let id = h.add(server.url("/f/strict.bin?size=6291456&throttle=6000000&limit=2"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("strict.bin", 6 * MIB));
    assert!(server.requests_for("/f/strict.bin").len() > 2, "dlm did try more connections");
    assert!(server.max_active() <= 2, "the server never sent more than 2 bodies at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_segmented_download_resumes_only_the_missing_ranges() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let id = h.add(server.url("/f/pause.bin?size=8388608&throttle=2000000"));
    h.wait_for("progress", |e| matches!(e, EngineEvent::Progress { bytes, .. } if *bytes > 2_000_000)).await;
    h.send(Command::Pause(id));
    h.wait_for("pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    let part = h.path("pause.bin.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 8 * MIB as u64, "preallocated");
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.path("pause.bin.part.dlm")).unwrap()).unwrap();
    let missing: Vec<(u64, u64)> = serde_json::from_value(sidecar["missing"].clone()).unwrap();
    let missing_bytes: u64 = missing.iter().map(|(s, e)| e - s).sum();
    assert!(missing_bytes < 8 * MIB as u64 - 1_000_000, "{missing:?}");
    let before = server.requests_for("/f/pause.bin").len();

    h.send(Command::Resume(id));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("pause.bin", 8 * MIB));
    // Every byte asked for after the pause lies in a range the sidecar said was missing.
    for (start, _) in ranges(&server, "/f/pause.bin").into_iter().skip(before.saturating_sub(1)) {
        assert!(missing.iter().any(|(s, e)| *s <= start && start < *e), "asked for {start} again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_engine_continues_a_segmented_part() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    h.add(server.url("/f/crash.bin?size=8388608&throttle=2000000"));
    h.wait_for("progress", |e| matches!(e, EngineEvent::Progress { bytes, .. } if *bytes > 2_000_000)).await;
    // Quitting stops the transfers where they are, as a crash would (the sidecar is at most a
    // second behind, and it never claims bytes that were not written).
    let mut h = h
        .restart(|o| {
            o.connections = 4;
            o.continue_existing = true;
        })
        .await;
    let requests_before = server.requests_for("/f/crash.bin").len();
    let id = h.add(server.url("/f/crash.bin?size=8388608&throttle=2000000"));
    let path = completed_path(&h.finish(id).await);
    assert_eq!(path, h.path("crash.bin"));
    assert_file(&path, &content("crash.bin", 8 * MIB));
    let after: Vec<_> = server.requests_for("/f/crash.bin").into_iter().skip(requests_before).collect();
    // One plain request to learn the name, then ranged requests only.
    assert!(after.iter().skip(1).all(|r| r.range.is_some()), "{after:#?}");
}

/// Four items of four connections each against a cap of 3; returns the most bodies the server
/// sent at once. The server counts a body until it is sent or dlm closes its connection (it
/// checks every connection for a FIN or RST before counting a new body).
async fn peak_with_four_items_under_a_cap_of_3() -> usize {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.workers = 4;
        o.connections = 4;
        o.max_connections_per_host = 3;
    });
    let ids: Vec<ItemId> =
        (0..4).map(|i| h.add(server.url(&format!("/f/host{i}.bin?size=3145728&throttle=6000000")))).collect();
    let results = h.finish_all(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        assert_file(&completed_path(&results[id]), &content(&format!("host{i}.bin"), 3 * MIB));
    }
    server.max_active()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_cap_holds_exactly_across_items() {
    assert_eq!(peak_with_four_items_under_a_cap_of_3().await, 3, "16 connections wanted, 3 allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_given_back_after_a_cut_answer_is_not_taken_before_that_connection_closes() {
    // Each item has two pieces too small to split again: the first, open-ended answer is cut at
    // the end of its piece, and its worker then has nothing left to do and gives its place back
    // while the other piece is still running. The next item, waiting for that place, must not
    // connect before the cut connection is closed.
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.workers = 8;
        o.connections = 2;
        o.max_connections_per_host = 2;
    });
    let size = 600 * 1024;
    let ids: Vec<ItemId> =
        (0..32).map(|i| h.add(server.url(&format!("/f/cut{i}.bin?size={size}&throttle=6000000")))).collect();
    let results = h.finish_all(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        assert_file(&completed_path(&results[id]), &content(&format!("cut{i}.bin"), size));
        assert_eq!(ranges(&server, &format!("/f/cut{i}.bin")).len(), 1, "two pieces, one of them ranged");
    }
    assert_eq!(server.max_active(), 2, "two connections allowed");
}

/// Downloads 3 MiB under a global limit of 1 MiB/s; returns the time from adding the item to
/// its completion (which includes connecting: never shorter than the transfer itself).
async fn three_mib_at_one_mib_per_second() -> Duration {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.rate_limit = Some(MIB as u64));
    let added = Instant::now();
    let id = h.add(server.url("/f/limited.bin?size=3145728"));
    let path = completed_path(&h.finish(id).await);
    let took = added.elapsed();
    assert_file(&path, &content("limited.bin", 3 * MIB));
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_rate_limit_never_lets_a_download_run_faster() {
    // 3 MiB at 1 MiB/s with a 50 ms burst cannot take less than 2.95 s; a loaded machine only
    // makes it slower, so this bound cannot flake. How close to the rate it stays is measured
    // by the ignored test below (docs/measurements.md).
    let took = three_mib_at_one_mib_per_second().await;
    assert!(took >= Duration::from_millis(2800), "3 MiB in {took:?} under a 1 MiB/s limit");
}

/// `cargo test --test segmented -- --ignored --nocapture rate_limit_accuracy`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures wall-clock rate; a loaded machine skews it"]
async fn rate_limit_accuracy() {
    let took = three_mib_at_one_mib_per_second().await;
    let rate = 3.0 / took.as_secs_f64();
    eprintln!("1 MiB/s limit: 3 MiB in {took:.2?}, {rate:.3} MiB/s");
    assert!((0.9..=1.1).contains(&rate), "{rate:.3} MiB/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_change_live_globally_and_per_item() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.rate_limit = Some(100_000));
    let id = h.add(server.url("/f/live.bin?size=4194304"));
    h.wait_for("start", |e| matches!(e, EngineEvent::Started { .. })).await;
    h.send(Command::SetItemRateLimit { id, limit: Some(50_000) });
    h.wait_for("item limit", |e| {
        matches!(e, EngineEvent::ItemLimitsChanged { rate_limit: Some(50_000), .. })
    })
    .await;
    // Lifting both limits lets the rest arrive at loopback speed. Either limit left in place
    // would need 40 s or more for the 4 MiB, twice the harness's patience, so finishing at
    // all proves both were lifted (no clock is read here).
    h.send(Command::SetRateLimit(None));
    h.send(Command::SetItemRateLimit { id, limit: None });
    h.wait_for("global limit", |e| matches!(e, EngineEvent::RateLimitChanged { limit: None })).await;
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("live.bin", 4 * MIB));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_restored_with_an_item_apply_before_it_starts() {
    let server = TestServer::start().await;
    // The engine's default is one connection; the saved item had four.
    let mut h = Harness::new();
    let handle = h.engine.as_ref().unwrap().handle();
    let limits = ItemLimits { rate_limit: Some(64 << 20), connections: 4 };
    let url = server.url("/f/restored.bin?size=8388608&throttle=4000000");
    let id = handle.restore_with_limits(AddRequest::new(url), RestoreAs::Queued, Some(limits));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("restored.bin", 8 * MIB));
    let events = h.events_for(id);
    // The item's first snapshot already carries the saved limits.
    assert!(matches!(&events[0], EngineEvent::Added { item, .. } if item.limits == limits), "{events:?}");
    assert!(ranges(&server, "/f/restored.bin").len() >= 3, "not segmented: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_cap_counts_the_host_a_redirect_leads_to() {
    let origin = TestServer::start().await;
    let files = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.workers = 4;
        o.connections = 4;
        o.max_connections_per_host = 2;
    });
    let target = |i: usize| files.url(&format!("/f/away{i}.bin?size=3145728&throttle=6000000"));
    let ids: Vec<ItemId> = (0..4)
        .map(|i| {
            let encoded: String = url::form_urlencoded::byte_serialize(target(i).as_bytes()).collect();
            h.add(origin.url(&format!("/to?url={encoded}")))
        })
        .collect();
    let results = h.finish_all(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        assert_file(&completed_path(&results[id]), &content(&format!("away{i}.bin"), 3 * MIB));
    }
    let peak = files.max_active();
    assert!(peak <= 2, "2 connections allowed to the host the redirects lead to, it saw {peak}");
}

/// Leaves a preallocated `.part` of `size` zero bytes and a sidecar claiming `missing` for
/// `url`, as a damaged or hand-edited sidecar would.
fn damaged_part(h: &Harness, name: &str, url: &str, size: u64, missing: &str) {
    let part = h.path(&format!("{name}.part"));
    std::fs::File::create(&part).unwrap().set_len(size).unwrap();
    let sidecar =
        format!(r#"{{"url":{url:?},"validator":"\"{name}-v0\"","total":{size},"missing":{missing}}}"#);
    std::fs::write(h.path(&format!("{name}.part.dlm")), sidecar).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_sidecar_is_ignored_and_the_download_starts_over() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.connections = 4;
        o.continue_existing = true;
    });
    let size = 2 * MIB as u64;
    let cases = [
        ("beyond.bin", format!("[[0,{}]]", size + 1)),
        ("overlap.bin", "[[0,1500000],[1000000,2097152]]".to_string()),
        ("backwards.bin", "[[1000000,2097152],[0,1000000]]".to_string()),
        ("inverted.bin", "[[2000000,1000],[0,2097152]]".to_string()),
        ("huge.bin", format!("[[0,{}],[{},{}]]", u64::MAX - 1, u64::MAX - 1, u64::MAX)),
    ];
    let mut ids = Vec::new();
    for (name, missing) in &cases {
        let url = server.url(&format!("/f/{name}?size={size}"));
        damaged_part(&h, name, &url, size, missing);
        ids.push(h.add(url));
    }
    let results = h.finish_all(&ids).await;
    for ((name, missing), id) in cases.iter().zip(&ids) {
        let path = completed_path(&results[id]);
        assert_eq!(path, h.path(name), "{missing}");
        assert_file(&path, &content(name, size as usize));
    }
}
