//! Memory per item the engine holds: 100,000 items queued behind a held transfer, measured as
//! the growth of this process's resident memory (its own test binary, so no other test's
//! allocations are counted). The terminal UI keeps every item in the engine for as long as it
//! is listed, so this is what a long queue costs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dlm::engine::EngineEvent;
use support::TestServer;
use support::harness::Harness;

/// Resident memory of this process now, in bytes (Linux `VmRSS`).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_queued_item_costs_the_engine_well_under_a_kibibyte() {
    const ITEMS: u64 = 100_000;
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.workers = 1);
    // One worker, held by a gated body: everything added after it stays queued.
    h.add(server.url("/f/held.bin?size=100000&gate=1"));
    h.wait_for("the held transfer", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    h.events.clear();
    let before = rss_bytes();
    let mut added = 0;
    for i in 0..ITEMS {
        h.add(server.url(&format!("/some/folder/file-{i:06}.iso")));
        // Take the events as they come, as a front end does, so none pile up in the channel.
        if i % 1000 == 999 {
            while added < i {
                if matches!(h.wait_for("Added", |_| true).await, EngineEvent::Added { .. }) {
                    added += 1;
                }
            }
            h.events.clear();
        }
    }
    while added < ITEMS {
        if matches!(h.wait_for("Added", |_| true).await, EngineEvent::Added { .. }) {
            added += 1;
        }
    }
    h.events.clear();
    let per_item = rss_bytes().saturating_sub(before) / ITEMS;
    eprintln!("the engine holds about {per_item} bytes per queued item");
    assert!(per_item < 400, "{per_item} bytes per queued item");
    server.release(1);
}
