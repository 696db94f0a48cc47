//! The live worker cap, observed from both ends: the server counts bodies in flight and the
//! engine's events say what started. Gated bodies let the test decide when transfers end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use dlm::engine::{AddRequest, Command, EngineEvent, ItemId, ItemLimits, RestoreAs};
use support::harness::{Harness, completed_path};
use support::{TestServer, content, wait_until};

/// Items whose first connection has started and that have not finished, from the events.
fn running(events: &[EngineEvent]) -> HashSet<ItemId> {
    let mut set = HashSet::new();
    for e in events {
        match e {
            EngineEvent::Connecting { id, .. } => {
                set.insert(*id);
            }
            EngineEvent::Completed { id, .. }
            | EngineEvent::Failed { id, .. }
            | EngineEvent::Paused { id, .. }
            | EngineEvent::Cancelled { id } => {
                set.remove(id);
            }
            _ => {}
        }
    }
    set
}

/// Most items running at once at any point in the event history.
fn peak_running(events: &[EngineEvent]) -> usize {
    (1..=events.len()).map(|n| running(&events[..n]).len()).max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_cap_changes_live() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.workers = 2);
    let ids: Vec<ItemId> =
        (0..10).map(|i| h.add(server.url(&format!("/f/slow{i}.bin?size=50000&gate=1")))).collect();

    // Cap 2: two bodies in flight and no third connection while they are held.
    wait_until("2 bodies in flight", Duration::from_secs(10), || server.active() == 2).await;
    h.drain();
    assert_eq!(running(&h.events).len(), 2);

    // Raise to 5: three more start at once, without any transfer finishing.
    h.send(Command::SetWorkers(5));
    h.wait_for("cap 5", |e| matches!(e, EngineEvent::WorkersChanged { cap: 5 })).await;
    wait_until("5 bodies in flight", Duration::from_secs(5), || server.active() == 5).await;
    h.drain();
    assert_eq!(running(&h.events).len(), 5);
    assert_eq!(server.max_active(), 5);

    // Lower to 1: nothing is stopped, but no new item starts until only one runs.
    h.send(Command::SetWorkers(1));
    h.wait_for("cap 1", |e| matches!(e, EngineEvent::WorkersChanged { cap: 1 })).await;
    let lowered_at = h.events.len();
    server.release(4);
    let mut finished = 0;
    while finished < 4 {
        h.wait_for("a completion", |e| matches!(e, EngineEvent::Completed { .. })).await;
        finished += 1;
    }
    h.drain();
    let after = &h.events[lowered_at..];
    assert!(
        !after.iter().any(|e| matches!(e, EngineEvent::Connecting { attempt: 1, .. })),
        "an item started while more than one ran: {after:#?}"
    );
    assert_eq!(running(&h.events).len(), 1);

    // From now on items run one at a time until the queue is empty.
    server.release(100);
    let results = h.finish_all(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        let path = completed_path(&results[id]);
        support::assert_file(&path, &content(&format!("slow{i}.bin"), 50_000));
    }
    let tail_start = lowered_at;
    assert!(peak_running(&h.events[tail_start..]) <= 5);
    assert_eq!(server.max_active(), 5, "never more than the cap in flight");
}

#[tokio::test]
async fn never_more_than_the_cap_run() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.workers = 3);
    let ids: Vec<ItemId> =
        (0..12).map(|i| h.add(server.url(&format!("/f/t{i}.bin?size=20000&throttle=400000")))).collect();
    h.finish_all(&ids).await;
    assert!(peak_running(&h.events) <= 3, "peak {}", peak_running(&h.events));
    assert_eq!(peak_running(&h.events), 3);
    assert_eq!(server.max_active(), 3);
}

#[tokio::test]
async fn pause_all_and_resume_all() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.workers = 2);
    let ids: Vec<ItemId> =
        (0..4).map(|i| h.add(server.url(&format!("/f/p{i}.bin?size=30000&gate=1")))).collect();
    wait_until("2 bodies in flight", Duration::from_secs(10), || server.active() == 2).await;
    h.send(Command::PauseAll);
    for _ in 0..4 {
        h.wait_for("a pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    }
    server.release(100);
    h.send(Command::ResumeAll);
    let results = h.finish_all(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        support::assert_file(&completed_path(&results[id]), &content(&format!("p{i}.bin"), 30_000));
    }
}

#[tokio::test]
async fn shutdown_stops_transfers_and_keeps_their_parts() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    h.add(server.url("/f/kept.bin?size=100000&gate=1"));
    // The first KiB is on disk (a body in flight at the server is not enough: quitting skips
    // the command queue and may stop the transfer before it wrote anything).
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    let (events, dir) = h.shutdown().await;
    assert_eq!(events.last(), Some(&EngineEvent::Stopped));
    assert!(!dir.path().join("kept.bin").exists());
    assert_eq!(std::fs::metadata(dir.path().join("kept.bin.part")).unwrap().len(), 1024);
}

/// The rule in `scheduler.rs`: when several stop requests reach a running transfer before it
/// has stopped, the strongest wins (restart < quit < pause < cancel < cancel and delete <
/// remove), and resume withdraws a pending pause. Each case sends its commands back to back
/// to a transfer held mid-body by the gate, so all of them arrive before it stops.
#[tokio::test]
async fn the_strongest_of_several_stop_requests_wins() {
    use EngineEvent as E;
    type Case = (&'static str, fn(ItemId) -> Vec<Command>, fn(&EngineEvent) -> bool);
    let cases: [Case; 7] = [
        (
            "pause while a new connection count restarts it",
            |id| vec![Command::SetItemConnections { id, connections: 2 }, Command::Pause(id)],
            |e| matches!(e, E::Paused { .. }),
        ),
        (
            "a new connection count after a pause",
            |id| vec![Command::Pause(id), Command::SetItemConnections { id, connections: 2 }],
            |e| matches!(e, E::Paused { .. }),
        ),
        (
            "cancel after remove",
            |id| vec![Command::Remove(id), Command::Cancel { id, delete_partial: false }],
            |e| matches!(e, E::Removed { .. }),
        ),
        (
            "pause after cancel",
            |id| vec![Command::Cancel { id, delete_partial: false }, Command::Pause(id)],
            |e| matches!(e, E::Cancelled { .. }),
        ),
        (
            "cancel keeping the .part after cancel deleting it",
            |id| {
                vec![
                    Command::Cancel { id, delete_partial: true },
                    Command::Cancel { id, delete_partial: false },
                ]
            },
            |e| matches!(e, E::Cancelled { .. }),
        ),
        (
            "remove after a cancel deleting the .part",
            |id| vec![Command::Cancel { id, delete_partial: true }, Command::Remove(id)],
            |e| matches!(e, E::Removed { .. }),
        ),
        // Withdrawn: the item is queued again and finishes once the gate opens.
        (
            "resume before the pause took effect",
            |id| vec![Command::Pause(id), Command::Resume(id)],
            |e| matches!(e, E::Completed { .. }),
        ),
    ];
    for (i, (what, commands, expected)) in cases.into_iter().enumerate() {
        let server = TestServer::start().await;
        let mut h = Harness::new();
        let name = format!("rule{i}.bin");
        let id = h.add(server.url(&format!("/f/{name}?size=300000&gate=1")));
        h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
        for command in commands(id) {
            h.send(command);
        }
        server.release(10);
        let end = h
            .wait_for(what, |e| {
                e.item() == Some(id)
                    && matches!(
                        e,
                        E::Paused { .. } | E::Removed { .. } | E::Cancelled { .. } | E::Completed { .. }
                    )
            })
            .await;
        assert!(expected(&end), "{what}: ended with {end:?}");
        let part = h.path(&format!("{name}.part"));
        match end {
            // A pause keeps the bytes, and resuming finishes the file.
            E::Paused { bytes, .. } => {
                assert_eq!(std::fs::metadata(&part).unwrap().len(), bytes, "{what}");
                h.send(Command::Resume(id));
                let done = h.finish(id).await;
                support::assert_file(&completed_path(&done), &content(&name, 300_000));
            }
            E::Cancelled { .. } | E::Removed { .. } if what.contains("deleting") => {
                assert!(!part.exists(), "{what}: the request to delete the .part was forgotten");
            }
            E::Completed { ref path, .. } => support::assert_file(path, &content(&name, 300_000)),
            _ => {}
        }
        let (events, _dir) = h.shutdown().await;
        let ends = events
            .iter()
            .filter(|e| {
                e.item() == Some(id)
                    && matches!(e, E::Paused { .. } | E::Removed { .. } | E::Cancelled { .. })
            })
            .count();
        assert!(ends <= 1, "{what}: one stop, one outcome: {events:#?}");
    }
}

#[tokio::test]
async fn quitting_leaves_a_pending_pause_paused() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/quit.bin?size=300000&gate=1"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    h.send(Command::Pause(id));
    let (events, _dir) = h.shutdown().await;
    assert!(events.iter().any(|e| matches!(e, EngineEvent::Paused { id: i, .. } if *i == id)), "{events:#?}");
}

/// A restored item's own limits are in its first snapshot and, as `restore_with_limits`
/// promises, in an `ItemLimitsChanged` right after `Added`, for front ends that fold events
/// rather than snapshots (without it the TUI showed a restored item with default limits).
#[tokio::test]
async fn restored_limits_are_announced_right_after_added() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let limits = ItemLimits { rate_limit: Some(8 << 20), connections: 3 };
    let request = AddRequest::new(server.url("/f/limited.bin?size=1000"));
    let id =
        h.engine.as_ref().unwrap().handle().restore_with_limits(request, RestoreAs::Paused, Some(limits));
    h.wait_for("the restored item paused", |e| matches!(e, EngineEvent::Paused { .. })).await;
    let events: Vec<EngineEvent> = h.events_for(id).into_iter().cloned().collect();
    assert!(matches!(&events[0], EngineEvent::Added { item, .. } if item.limits == limits), "{events:#?}");
    assert_eq!(events[1], EngineEvent::ItemLimitsChanged { id, rate_limit: Some(8 << 20), connections: 3 });
    assert!(matches!(events[2], EngineEvent::Paused { .. }), "{events:#?}");
}
