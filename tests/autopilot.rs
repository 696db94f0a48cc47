//! The connection autopilot (`connections = "auto"`, the default) against the loopback
//! server: it adds connections where each one helps, holds where the server refuses more,
//! replaces a connection that turns slow, and leaves a fast single stream alone. Assertions are
//! on decisions and counts (the reasons it reports, the server's connection counts), never on
//! how long anything took.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dlm::engine::{ConnectionsNote, EngineEvent, ItemId};
use support::harness::{Harness, completed_path};
use support::{TestServer, assert_file, content};

const MIB: usize = 1 << 20;

/// Every connections note reported for `id`, in order.
fn notes_of(h: &Harness, id: ItemId) -> Vec<ConnectionsNote> {
    h.events_for(id)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::ConnectionsChanged { note, .. } => Some(note.clone()),
            _ => None,
        })
        .collect()
}

fn reasons(notes: &[ConnectionsNote]) -> Vec<&str> {
    notes.iter().map(|n| n.reason.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reaches_its_ceiling_at_once_on_a_long_download_from_a_server_limiting_each_connection() {
    let server = TestServer::start().await;
    // 2 MB/s per connection: one connection would take 25 s for this file.
    let mut h = Harness::with(|o| o.max_connections_auto = 4);
    let id = h.add(server.url("/f/paced.bin?size=50331648&throttle=2000000"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("paced.bin", 48 * MIB));
    let notes = notes_of(&h, id);
    assert!(
        server.max_active() >= 3,
        "only {} connections at once; {:?}",
        server.max_active(),
        reasons(&notes)
    );
    assert!(server.max_active() <= 4, "above auto's maximum: {}", server.max_active());
    // One stream would take long: the early look tries the ceiling at once, not two.
    assert_eq!(
        notes.first().map(|n| n.reason.as_str()),
        Some("trying 4 conns — 1 would take a while"),
        "after one stream"
    );
    assert!(
        notes.iter().any(|n| n.reason.starts_with("4 conns (the most allowed)") && n.limit == 4),
        "{:?}",
        reasons(&notes)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_stops_adding_where_another_connection_gives_nothing() {
    let server = TestServer::start().await;
    // 3 MB/s shared by every connection: a second one only splits the same rate.
    let mut h = Harness::new();
    let id = h.add(server.url("/f/shared.bin?size=16777216&shared_rate=3000000"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("shared.bin", 16 * MIB));
    let notes = notes_of(&h, id);
    assert!(server.max_active() <= 2, "{} at once; {:?}", server.max_active(), reasons(&notes));
    assert!(notes.iter().any(|n| n.reason.starts_with("held at 2 — +1 gave")), "{:?}", reasons(&notes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_download_over_a_shared_link_gives_back_the_connections_that_did_not_help() {
    let server = TestServer::start().await;
    // 3 MB/s shared by every connection: one stream would take 17 s, so auto tries its ceiling
    // (16, the default) at once, finds the rate no better, and closes all but what it is worth.
    let mut h = Harness::new();
    let id = h.add(server.url("/f/link.bin?size=50331648&shared_rate=3000000"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("link.bin", 48 * MIB));
    let notes = notes_of(&h, id);
    assert!(server.max_active() > 2, "the ceiling was tried: {}; {:?}", server.max_active(), reasons(&notes));
    let back = notes.iter().find(|n| n.reason.starts_with("back to ") && n.reason.contains(" — 16 gave "));
    let back = back.unwrap_or_else(|| panic!("{:?}", reasons(&notes)));
    assert!(back.active <= 2, "{back:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_holds_at_three_when_the_server_refuses_the_fourth_connection() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/three.bin?size=33554432&throttle=2000000&limit=3"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("three.bin", 32 * MIB));
    assert!(server.max_active() <= 3, "the server never sent more than 3 bodies at once");
    let notes = notes_of(&h, id);
    let held = notes.iter().find(|n| n.reason == "host limit 3 — 503 on the 4th");
    assert_eq!(held.map(|n| n.limit), Some(3), "{:?}", reasons(&notes));
    assert!(h.retry_reasons(id).is_empty(), "a refusal is backing off, not failing");

    // The host's limit holds for the rest of the session: the next download starts with it
    // and is never refused.
    let again = h.add(server.url("/f/again.bin?size=33554432&throttle=2000000&limit=3"));
    let path = completed_path(&h.finish(again).await);
    assert_file(&path, &content("again.bin", 32 * MIB));
    let notes = notes_of(&h, again);
    assert!(!notes.is_empty() && notes.iter().all(|n| n.limit <= 3), "{:?}", reasons(&notes));
    assert!(notes.iter().all(|n| !n.reason.contains("503")), "{:?}", reasons(&notes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_turns_slow_mid_file_is_replaced() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    // The second request crawls at 50 kB/s after its first 256 KiB; the others run at 2 MB/s.
    let url = "/f/turns.bin?size=25165824&throttle=2000000&slow_nth=2&slow_after=262144&slow_rate=50000";
    let id = h.add(server.url(url));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("turns.bin", 24 * MIB));
    let notes = notes_of(&h, id);
    let replaced: Vec<&str> =
        reasons(&notes).into_iter().filter(|r| r.starts_with("replaced conn")).collect();
    assert_eq!(replaced.len(), 1, "{:?}", reasons(&notes));
    assert!(replaced[0].ends_with("× median"), "{replaced:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_single_stream_stays_one_connection() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/fast.bin?size=33554432"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("fast.bin", 32 * MIB));
    assert_eq!(server.max_active(), 1);
    assert_eq!(server.requests_for("/f/fast.bin").len(), 1, "no second connection was tried");
    let notes = notes_of(&h, id);
    assert!(notes.iter().all(|n| n.active <= 1), "{:?}", reasons(&notes));
}
