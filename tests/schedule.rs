#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `[[schedule]]` driven by a real session with a clock the test moves (no waiting for
//! real minutes): a window's limit reaches the engine when the session starts and goes back
//! to the configured one when the window ends; a pause window pauses what is added and
//! resumes it at its end; the header's words come with each change.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dlm::config::{Config, Schedule};
use dlm::engine::EngineEvent;
use dlm::session::{Clock, ScheduleClock, SessionConfig, SessionEvent};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use support::TestServer;
use support::session::{self, Running};

fn schedule(text: &str) -> Schedule {
    Config::parse(text, Path::new("test.toml")).unwrap().schedule
}

/// The time the session reads, which the test sets, and how many times it was read.
#[derive(Default)]
struct TestClock {
    now: Mutex<Option<Timestamp>>,
    reads: AtomicUsize,
}

impl TestClock {
    fn at(text: &str) -> Arc<TestClock> {
        let clock = Arc::new(TestClock::default());
        clock.set(text);
        clock
    }

    fn set(&self, text: &str) {
        *self.now.lock().unwrap() = Some(text.parse().unwrap());
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

/// A session whose clock is `now` (UTC), looked at every 20 ms instead of every minute.
fn start(dir: &Path, text: &str, now: &Arc<TestClock>) -> Running {
    let read = Arc::clone(now);
    let clock: Clock = Arc::new(move || {
        read.reads.fetch_add(1, Ordering::SeqCst);
        read.now.lock().unwrap().unwrap()
    });
    let clock = ScheduleClock { clock, tz: TimeZone::UTC, every: Duration::from_millis(20) };
    session::start_with(dir, SessionConfig { schedule: schedule(text), clock, ..SessionConfig::default() })
        .unwrap()
}

/// Receives events until `n` schedule texts came; returns them.
async fn schedule_events(s: &mut Running, n: usize) -> Vec<Option<String>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while schedule_texts(s).len() < n {
        let event = tokio::time::timeout_at(deadline, s.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for the schedule; events so far: {:#?}", s.seen))
            .expect("the session stopped");
        s.seen.push(event);
    }
    schedule_texts(s)
}

fn schedule_texts(s: &Running) -> Vec<Option<String>> {
    s.seen
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Schedule(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_limit_applies_at_start_and_the_configured_one_comes_back_at_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    // Monday 09:30 UTC, inside the weekday window.
    let now = TestClock::at("2026-11-23T09:30:00Z");
    let mut s = start(
        tmp.path(),
        "[[schedule]]\ndays = \"mon-fri\"\nfrom = \"09:00\"\nto = \"17:00\"\nrate_limit = \"512K\"\n",
        &now,
    );
    s.wait_for("the window's limit", |e| *e == EngineEvent::RateLimitChanged { limit: Some(512 << 10) })
        .await;
    now.set("2026-11-23T17:00:01Z");
    s.wait_for("the configured limit back", |e| *e == EngineEvent::RateLimitChanged { limit: None }).await;
    assert_eq!(
        schedule_events(&mut s, 2).await,
        [Some("limit 512K until 17:00 · schedule".to_string()), None]
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_set_by_hand_hold_until_the_windows_end() {
    let tmp = tempfile::tempdir().unwrap();
    let now = TestClock::at("2026-11-23T09:30:00Z");
    let mut s = start(tmp.path(), "[[schedule]]\nfrom = \"09:00\"\nto = \"17:00\"\nworkers = 2\n", &now);
    s.wait_for("the window's workers", |e| *e == EngineEvent::WorkersChanged { cap: 2 }).await;
    s.handle.send(dlm::engine::Command::SetWorkers(7));
    s.wait_for("the hand's workers", |e| *e == EngineEvent::WorkersChanged { cap: 7 }).await;
    // Each tick reads the clock: let several pass inside the window, then end it.
    let before = now.reads();
    s.until("a few ticks", Duration::from_secs(5), || now.reads() >= before + 3).await;
    now.set("2026-11-23T17:00:00Z");
    s.wait_for("the configured workers back", |e| *e == EngineEvent::WorkersChanged { cap: 4 }).await;
    let caps: Vec<usize> = s
        .seen
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Engine(EngineEvent::WorkersChanged { cap }) => Some(*cap),
            _ => None,
        })
        .collect();
    assert_eq!(caps, [4, 2, 7, 4], "the engine's start, the window, the hand (kept), the window's end");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_window_pauses_what_is_added_and_resumes_it_at_its_end() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let now = TestClock::at("2026-11-23T01:30:00Z");
    let mut s = start(tmp.path(), "[[schedule]]\nfrom = \"01:00\"\nto = \"02:00\"\npause_all = true\n", &now);
    assert_eq!(schedule_events(&mut s, 1).await, [Some("paused until 02:00 · schedule".to_string())]);
    s.add(server.url("/f/night.bin?size=1000"));
    let id = s.wait_for("the pause", |e| matches!(e, EngineEvent::Paused { .. })).await.item().unwrap();
    now.set("2026-11-23T02:00:00Z");
    s.wait_for("the download", |e| matches!(e, EngineEvent::Completed { id: i, .. } if *i == id)).await;
    s.close().await;
}
