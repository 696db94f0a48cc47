//! Rate limits never hold up the person: at 1 byte a second a single read owes hours, yet
//! pause, cancel and quitting act at once, and lifting or raising a limit wakes a transfer
//! that is sleeping off its debt. The engine against the loopback server, and the real binary
//! interrupted with SIGINT.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use dlm::engine::{Command, EngineEvent};
use support::harness::{Harness, completed_path};
use support::process::{Background, dlm_command};
use support::{TestServer, assert_file, content};

/// What "at once" means here: the fix makes these take milliseconds; before it they took
/// hours. The bound is generous for a loaded two-core machine.
const PROMPT: Duration = Duration::from_secs(3);

fn started(e: &EngineEvent) -> bool {
    matches!(e, EngineEvent::Started { .. })
}

#[tokio::test]
async fn pause_under_a_one_byte_per_second_limit_pauses_at_once_and_resume_finishes() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.item_rate_limit = Some(1));
    let id = h.add(server.url("/f/slow.bin?size=100000"));
    h.wait_for("start", started).await;
    let asked = Instant::now();
    h.send(Command::Pause(id));
    let paused = h.wait_for("pause", |e| matches!(e, EngineEvent::Paused { .. })).await;
    assert!(asked.elapsed() < PROMPT, "pausing took {:?}", asked.elapsed());
    let EngineEvent::Paused { bytes, .. } = paused else { unreachable!() };
    assert_eq!(std::fs::metadata(h.path("slow.bin.part")).unwrap().len(), bytes, "what was read is kept");

    h.send(Command::SetItemRateLimit { id, limit: None });
    h.send(Command::Resume(id));
    assert_file(&completed_path(&h.finish(id).await), &content("slow.bin", 100_000));
}

#[tokio::test]
async fn cancel_and_shutdown_under_a_one_byte_per_second_limit_act_at_once() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.rate_limit = Some(1));
    let cancelled = h.add(server.url("/f/c.bin?size=100000"));
    h.wait_for("start", started).await;
    let asked = Instant::now();
    h.send(Command::Cancel { id: cancelled, delete_partial: true });
    h.wait_for("cancel", |e| matches!(e, EngineEvent::Cancelled { .. })).await;
    assert!(asked.elapsed() < PROMPT, "cancelling took {:?}", asked.elapsed());

    h.add(server.url("/f/q.bin?size=100000"));
    h.wait_for("start", started).await;
    let asked = Instant::now();
    let (events, _dir) = tokio::time::timeout(Duration::from_secs(20), h.shutdown())
        .await
        .expect("shutdown waited for the rate limit");
    assert!(asked.elapsed() < PROMPT, "shutting down took {:?}", asked.elapsed());
    assert_eq!(events.last(), Some(&EngineEvent::Stopped));
}

/// Lifting the global limit, or raising an item's, wakes a transfer that owes hours.
#[tokio::test]
async fn lifting_or_raising_a_limit_wakes_a_transfer_sleeping_off_its_debt() {
    for global in [true, false] {
        let server = TestServer::start().await;
        let mut h =
            Harness::with(|o| if global { o.rate_limit = Some(1) } else { o.item_rate_limit = Some(1) });
        let id = h.add(server.url("/f/wake.bin?size=200000"));
        h.wait_for("start", started).await;
        let asked = Instant::now();
        // Lifted, or raised to 100 MiB/s: 200 kB take milliseconds at the new rate.
        h.send(if global {
            Command::SetRateLimit(None)
        } else {
            Command::SetItemRateLimit { id, limit: Some(100 << 20) }
        });
        let done = h.finish(id).await;
        let took = asked.elapsed();
        assert!(took < PROMPT, "finishing after the change took {took:?} (global limit: {global})");
        assert_file(&completed_path(&done), &content("wake.bin", 200_000));
    }
}

/// The report: `dlm get --limit-rate 1K` took 5–6 s to obey Ctrl-C, and at 1 B/s it
/// would take hours. The real binary, a real SIGINT.
#[tokio::test(flavor = "multi_thread")]
async fn dlm_get_at_one_byte_per_second_exits_130_promptly_on_ctrl_c() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm_command();
    cmd.args(["get", "--limit-rate", "1", "-o"]).arg(dir.path()).arg(server.url("/f/int.bin?size=100000"));
    let part = dir.path().join("int.bin.part");
    let (status, took, err) = tokio::task::spawn_blocking(move || {
        let mut dlm = Background::spawn(cmd);
        // The body's first read puts the transfer to sleep for hours; what it read goes to the
        // `.part` before that long wait, so the file appearing says the transfer is asleep.
        dlm.wait_for_line("started int.bin", Duration::from_secs(20));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !part.exists() {
            assert!(Instant::now() < deadline, "no .part before the long wait");
            std::thread::sleep(Duration::from_millis(10));
        }
        dlm.interrupt();
        let (status, took) = dlm.wait_at_most(Duration::from_secs(20));
        (status, took, dlm.stderr.join("\n"))
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(took < PROMPT, "exiting took {took:?}: {err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        std::fs::metadata(dir.path().join("int.bin.part")).unwrap().len() > 0,
        "the partial file is kept: {err}"
    );
}
