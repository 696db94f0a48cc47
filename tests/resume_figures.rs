#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The figures a front end shows for a segmented download continued from an earlier run. Its
//! `.part` is preallocated to the full size, so only the sidecar says how many bytes are real:
//! a restored paused item reports those (not the file's length), a resumed one starts counting
//! from them (so rates count only bytes received in this attempt), and `dlm get`'s summary
//! counts only what it fetched. Real engine, real binary, the loopback test server.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use dlm::engine::{
    AddRequest, Command, Engine, EngineEvent, EngineOptions, ItemId, ItemLimits, RestoreAs, ResumeHint,
};
use support::{TestServer, assert_file, content};
use tokio::sync::mpsc::Receiver;

const SIZE: u64 = 1_000_000;
/// What the earlier run left missing: 700,000 bytes in two ranges, the first from 100,000.
const MISSING: [(u64, u64); 2] = [(100_000, 400_000), (600_000, SIZE)];
const ON_DISK: u64 = 300_000;

/// A test server, a folder, and in it the leftovers of an interrupted download of its URL.
async fn leftovers() -> (TestServer, tempfile::TempDir, String) {
    leftovers_missing(&MISSING).await
}

/// `leftovers` with other ranges still to fetch.
async fn leftovers_missing(missing: &[(u64, u64)]) -> (TestServer, tempfile::TempDir, String) {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.url(&format!("/f/seg.bin?size={SIZE}"));
    interrupted_segmented_part(dir.path(), &url, missing);
    (server, dir, url)
}

/// Leaves `dir/seg.bin.part` as a four-connection download interrupted with `missing` still
/// to fetch: the real bytes everywhere else, zeros (as preallocated) in the gaps, and the
/// sidecar listing the gaps.
fn interrupted_segmented_part(dir: &Path, url: &str, missing: &[(u64, u64)]) -> PathBuf {
    let mut bytes = content("seg.bin", SIZE as usize);
    for &(a, b) in missing {
        bytes[a as usize..b as usize].fill(0);
    }
    let part = dir.join("seg.bin.part");
    std::fs::write(&part, &bytes).unwrap();
    let sidecar = serde_json::json!({
        "url": url, "validator": "\"seg.bin-v0\"", "total": SIZE, "missing": missing,
    });
    std::fs::write(dir.join("seg.bin.part.dlm"), sidecar.to_string()).unwrap();
    part
}

/// An engine in `dir` with the leftover download of `url` restored as `state`, over four
/// connections, as a restarted dlm would hand it over.
fn restore(dir: &Path, url: String, state: RestoreAs) -> (Engine, Receiver<EngineEvent>, ItemId) {
    let options = EngineOptions { download_dir: dir.to_path_buf(), ..EngineOptions::default() };
    let (engine, events) = Engine::start(options).unwrap();
    let hint = ResumeHint {
        file_name: "seg.bin".into(),
        validator: Some("\"seg.bin-v0\"".into()),
        total: Some(SIZE),
        ranges_unreliable: false,
        start_over: false,
    };
    let request = AddRequest { resume: Some(hint), ..AddRequest::new(url) };
    let limits = Some(ItemLimits { rate_limit: None, connections: 4 });
    let id = engine.handle().restore_with_limits(request, state, limits);
    (engine, events, id)
}

async fn next(events: &mut Receiver<EngineEvent>, what: &str) -> EngineEvent {
    tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("engine stopped before {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_segmented_item_reports_the_bytes_on_disk_and_resumes_counting_from_them() {
    let (server, dir, url) = leftovers().await;
    let (engine, mut events, id) = restore(dir.path(), url, RestoreAs::Paused);
    let handle = engine.handle();

    let paused = loop {
        if let EngineEvent::Paused { id: i, bytes } = next(&mut events, "the restored pause").await
            && i == id
        {
            break bytes;
        }
    };
    assert_eq!(paused, ON_DISK, "the sidecar's count, not the preallocated length");

    handle.send(Command::Resume(id));
    let mut started = None;
    let mut first_progress = None;
    loop {
        match next(&mut events, "the download to finish").await {
            EngineEvent::Started { info, .. } => started = Some(info.offset),
            EngineEvent::Progress { bytes, .. } if first_progress.is_none() => first_progress = Some(bytes),
            EngineEvent::Completed { bytes, .. } => {
                assert_eq!(bytes, SIZE);
                break;
            }
            EngineEvent::Failed { error, .. } => panic!("{error}"),
            _ => {}
        }
    }
    // A front end counts what arrives in this attempt from `offset`; the first missing byte
    // (100,000) there made 200,000 bytes already on disk look received in the first instant.
    assert_eq!(started, Some(ON_DISK), "Started.offset is what is on disk");
    assert!(first_progress.is_none_or(|b| b >= ON_DISK), "progress counts from there: {first_progress:?}");
    assert_file(&dir.path().join("seg.bin"), &content("seg.bin", SIZE as usize));
    for r in server.requests_for("/f/seg.bin") {
        let from: u64 = r
            .range
            .as_deref()
            .and_then(|v| v.strip_prefix("bytes=")?.split('-').next()?.parse().ok())
            .unwrap();
        assert!(MISSING.iter().any(|&(a, b)| a <= from && from < b), "asked for {from}.., which was on disk");
    }
    engine.shutdown().await;
}

/// `dlm get --continue` on the same leftovers: the summary counts the 700,000 bytes fetched,
/// not everything after the first missing byte (900,000), and the log says where it continued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_get_counts_only_what_it_fetched_when_continuing_a_segmented_part() {
    let (_server, dir, url) = leftovers().await;
    let mut cmd = support::process::dlm_command();
    cmd.args(["get", "-x", "4", "--continue", "-o", dir.path().to_str().unwrap(), &url])
        .env("DLM_CONFIG", dir.path().join("none.toml"));
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    let out = support::process::run(cmd).await;
    let err = support::process::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_file(&dir.path().join("seg.bin"), &content("seg.bin", SIZE as usize));
    let fetched = dlm::format::bytes(SIZE - ON_DISK);
    assert!(err.contains(&format!("1 succeeded, 0 failed; {fetched} in ")), "want {fetched}:\n{err}");
    let at = dlm::format::bytes(ON_DISK);
    assert!(err.contains(&format!("continuing at {at}")), "want {at}:\n{err}");
}

/// A segmented part whose first byte is still missing (its first connection had written
/// nothing) continues with a ranged, validated request from byte 0: nothing on disk is asked
/// for again. Without `Range`, the `200` made dlm drop the map and fetch the whole file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segmented_part_missing_its_first_byte_continues_with_ranges_only_for_the_gaps() {
    let missing = [(0, 200_000), (600_000, SIZE)];
    let (server, dir, url) = leftovers_missing(&missing).await;
    let (engine, mut events, _) = restore(dir.path(), url, RestoreAs::Queued);
    let mut started = None;
    loop {
        match next(&mut events, "the download to finish").await {
            EngineEvent::Started { info, .. } => started = Some(info.offset),
            EngineEvent::Completed { bytes, .. } => {
                assert_eq!(bytes, SIZE);
                break;
            }
            EngineEvent::Failed { error, .. } => panic!("{error}"),
            _ => {}
        }
    }
    assert_eq!(started, Some(400_000), "Started.offset is what is on disk");
    assert_file(&dir.path().join("seg.bin"), &content("seg.bin", SIZE as usize));
    let requests = server.requests_for("/f/seg.bin");
    assert!(!requests.is_empty());
    for r in requests {
        let range = r.range.as_deref().unwrap_or_else(|| panic!("a request without Range: {r:?}"));
        let from: u64 = range.strip_prefix("bytes=").and_then(|v| v.split('-').next()?.parse().ok()).unwrap();
        assert!(missing.iter().any(|&(a, b)| a <= from && from < b), "asked for {from}.., which was on disk");
        assert!(r.if_range.is_some(), "every continuation is validated: {r:?}");
    }
    engine.shutdown().await;
}
