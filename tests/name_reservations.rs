//! Many downloads with one name: each gets its own file (`same (1734).bin`), and picking the
//! names stays linear, in the engine and against a folder that already holds thousands of
//! them. (Issue 9: the search started at `same.bin` every time and checked every number
//! below, under a lock, on the async threads.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dlm::engine::reservations::NameReservations;
use support::harness::{Harness, completed_path, files_in};
use support::{TestServer, assert_file, content};

/// Generous bounds for a loaded machine. Measured (debug build): the folder takes 0.04 s
/// with the linear search and took 41 s with the quadratic one; the 2,000 downloads take
/// 2.4 s and took 19 s.
const NAMES_WITHIN: Duration = Duration::from_secs(5);
const DOWNLOADS_WITHIN: Duration = Duration::from_secs(12);

#[test]
fn two_thousand_more_names_next_to_two_thousand_files_are_found_quickly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("same.bin"), b"").unwrap();
    for n in 1..2000 {
        std::fs::write(dir.path().join(format!("same ({n}).bin")), b"").unwrap();
    }
    let names: NameReservations = NameReservations::default();
    let started = Instant::now();
    let got: HashSet<_> = (0..2000).map(|_| names.reserve_unique(dir.path(), "same.bin").unwrap()).collect();
    let took = started.elapsed();
    assert_eq!(got.len(), 2000, "distinct names");
    assert!(got.iter().all(|p| !p.exists()), "none of them is on disk");
    assert!(took < NAMES_WITHIN, "2,000 names took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_downloads_named_same_bin_get_two_thousand_files() {
    const COUNT: usize = 2000;
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.workers = 16);
    let started = Instant::now();
    // Different queries, one path: every answer is named `same.bin` and has the same bytes.
    let ids: Vec<_> = (0..COUNT).map(|i| h.add(server.url(&format!("/f/same.bin?size=512&v={i}")))).collect();
    let results = h.finish_all(&ids).await;
    let took = started.elapsed();
    let paths: HashSet<_> = ids.iter().map(|id| completed_path(&results[id])).collect();
    assert_eq!(paths.len(), COUNT, "every download has its own file");
    for path in &paths {
        assert_file(path, &content("same.bin", 512));
    }
    let files = files_in(h.dir.path());
    assert_eq!(files.len(), COUNT, "no .part or extra files left");
    assert!(files.contains(&"same.bin".to_string()) && files.contains(&"same (1999).bin".to_string()));
    eprintln!("{COUNT} downloads named same.bin: {took:?}");
    assert!(took < DOWNLOADS_WITHIN, "{COUNT} downloads took {took:?}");
}
