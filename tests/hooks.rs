//! Hooks with real processes: `sh -c` scripts written by the test get exactly the documented
//! environment (credentials never in it), a hook that never ends is killed at its timeout, a
//! failing one is reported, and a flood of them is bounded. The items come from a real engine
//! against the loopback server, folded into snapshots as a front end would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use dlm::engine::{EngineEvent, ItemSnapshot, Program};
use dlm::hooks::{Hook, HookConfig, HookReport, Hooks, MAX_RUNNING, MAX_WAITING};
use support::harness::{Harness, PATIENCE};
use support::process::ended;
use support::{TestServer, wait_until};
use tokio::sync::mpsc;

fn sh(script: &str) -> Option<Program> {
    Some(Program::new(vec!["sh".into(), "-c".into(), script.into(), "hook".into()]).unwrap())
}

/// Downloads `url` to its end with a real engine and returns the item as a front end folds it.
async fn finished_item(h: &mut Harness, url: &str) -> ItemSnapshot {
    let id = h.add(url);
    h.finish(id).await;
    let mut item: Option<ItemSnapshot> = None;
    for event in h.events_for(id) {
        match (event, &mut item) {
            (EngineEvent::Added { item: added, .. }, _) => item = Some((**added).clone()),
            (event, Some(item)) => {
                item.apply(event);
            }
            _ => {}
        }
    }
    item.unwrap()
}

async fn next_report(rx: &mut mpsc::Receiver<HookReport>) -> HookReport {
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("a hook report in time").unwrap()
}

/// The `DLM_*` lines of what `env` printed into `path`.
fn dlm_env(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn hooks_get_exactly_the_documented_environment_without_credentials() {
    let server = TestServer::start().await;
    let out = tempfile::tempdir().unwrap();
    let script = format!("env | grep '^DLM_' | sort > '{}/'\"$DLM_STATUS\"", out.path().display());
    let config = HookConfig { on_complete: sh(&script), on_error: sh(&script), ..HookConfig::default() };
    let (hooks, mut reports) = Hooks::new(config);
    let mut h = Harness::new();
    let with_login = |path: &str| server.url(path).replace("http://", "http://alice:s3cret@");

    let done = finished_item(&mut h, &with_login("/f/hooked.bin?size=1234")).await;
    hooks.item_finished(&done);
    let report = next_report(&mut reports).await;
    assert_eq!((report.hook, report.item, report.ok), (Hook::OnComplete, Some(done.id), true), "{report:?}");
    let dir = h.dir.path().display();
    let url = server.url("/f/hooked.bin?size=1234");
    assert_eq!(
        dlm_env(&out.path().join("done")),
        format!(
            "DLM_ERROR=\nDLM_ERROR_KIND=\nDLM_NAME=hooked.bin\nDLM_PATH={dir}/hooked.bin\nDLM_SIZE=1234\n\
             DLM_STATUS=done\nDLM_URL={url}\n"
        )
    );

    let failed = finished_item(&mut h, &with_login("/f/missing.bin?status=404")).await;
    hooks.item_finished(&failed);
    let report = next_report(&mut reports).await;
    assert_eq!((report.hook, report.ok), (Hook::OnError, true), "{report:?}");
    let env = dlm_env(&out.path().join("failed"));
    let url = server.url("/f/missing.bin?status=404");
    assert_eq!(
        env,
        format!(
            "DLM_ERROR=404 Not Found: {url}\nDLM_ERROR_KIND=http\nDLM_NAME=missing.bin\nDLM_PATH=\n\
             DLM_SIZE=0\nDLM_STATUS=failed\nDLM_URL={url}\n"
        )
    );
    assert!(!env.contains("s3cret") && !env.contains("alice"), "{env}");
}

#[tokio::test]
async fn on_queue_done_gets_the_counts() {
    let out = tempfile::NamedTempFile::new().unwrap();
    let script = format!("env | grep '^DLM_' | sort > '{}'", out.path().display());
    let (hooks, mut reports) = Hooks::new(HookConfig { on_queue_done: sh(&script), ..HookConfig::default() });
    hooks.queue_done(7, 2);
    let report = next_report(&mut reports).await;
    assert_eq!((report.hook, report.item, report.ok), (Hook::OnQueueDone, None, true));
    assert_eq!(dlm_env(out.path()), "DLM_DONE=7\nDLM_FAILED=2\n");
}

#[tokio::test]
async fn a_failing_hook_reports_its_failure_and_its_words() {
    let script = "echo 'disk quota exceeded' >&2; echo 'ignored stdout'; exit 4";
    let (hooks, mut reports) = Hooks::new(HookConfig { on_queue_done: sh(script), ..HookConfig::default() });
    hooks.queue_done(1, 0);
    let report = next_report(&mut reports).await;
    assert!(!report.ok);
    assert_eq!(report.message, "failed (exit status: 4): disk quota exceeded");
    let missing = Program::new(vec!["/nonexistent/hook".into()]).unwrap();
    let (hooks, mut reports) =
        Hooks::new(HookConfig { on_queue_done: Some(missing), ..HookConfig::default() });
    hooks.queue_done(1, 0);
    let report = next_report(&mut reports).await;
    assert!(!report.ok && report.message.starts_with("cannot start it: "), "{report:?}");
}

#[tokio::test]
async fn a_hook_that_never_ends_is_killed_with_its_children_at_the_timeout() {
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let script = format!("echo started >&2; sleep 1000 & echo $! > '{}'; wait", pid_file.path().display());
    let config =
        HookConfig { on_queue_done: sh(&script), timeout: Duration::from_secs(1), ..HookConfig::default() };
    let (hooks, mut reports) = Hooks::new(config);
    let asked = Instant::now();
    hooks.queue_done(1, 0);
    let report = next_report(&mut reports).await;
    assert!(!report.ok);
    assert_eq!(report.message, "killed after the 1s timeout: started");
    assert!(asked.elapsed() < Duration::from_secs(10), "took {:?}", asked.elapsed());
    let sleeper: u32 = std::fs::read_to_string(pid_file.path()).unwrap().trim().parse().unwrap();
    wait_until("the hook's child to be killed", PATIENCE, || ended(sleeper)).await;
}

#[tokio::test]
async fn hooks_run_at_most_a_few_at_once_and_the_rest_take_turns() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let script = format!("echo s >> '{0}'; sleep 0.1; echo e >> '{0}'", log.path().display());
    let (hooks, mut reports) = Hooks::new(HookConfig { on_queue_done: sh(&script), ..HookConfig::default() });
    let count = 3 * MAX_RUNNING;
    for _ in 0..count {
        hooks.queue_done(1, 0);
    }
    for _ in 0..count {
        assert!(next_report(&mut reports).await.ok);
    }
    let (mut running, mut most, mut starts) = (0usize, 0usize, 0usize);
    for line in std::fs::read_to_string(log.path()).unwrap().lines() {
        if line == "s" {
            (running, starts) = (running + 1, starts + 1);
            most = most.max(running);
        } else {
            running -= 1;
        }
    }
    assert_eq!(starts, count, "every hook ran");
    assert!((1..=MAX_RUNNING).contains(&most), "{most} hooks ran at once");
}

#[tokio::test]
async fn a_flood_of_hooks_never_blocks_is_bounded_and_quitting_kills_the_running_ones() {
    let pids = tempfile::NamedTempFile::new().unwrap();
    let script = format!("sleep 1000 & echo $! >> '{}'; wait", pids.path().display());
    let config =
        HookConfig { on_queue_done: sh(&script), timeout: Duration::from_secs(600), ..HookConfig::default() };
    let (hooks, mut reports) = Hooks::new(config);
    let asked = Instant::now();
    for _ in 0..MAX_RUNNING + MAX_WAITING + 10 {
        hooks.queue_done(1, 0);
    }
    assert!(asked.elapsed() < Duration::from_secs(2), "starting hooks took {:?}", asked.elapsed());
    // Beyond the running and waiting ones, hooks are skipped at once, and say so.
    for _ in 0..10 {
        let report = next_report(&mut reports).await;
        assert_eq!(report.message, format!("skipped: {MAX_WAITING} hooks already waiting"));
    }
    let started = || {
        std::fs::read_to_string(pids.path())
            .unwrap()
            .lines()
            .map(|l| l.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    wait_until("the first hooks to start", PATIENCE, || started().len() == MAX_RUNNING).await;
    hooks.stop();
    drop(hooks);
    let mut after_stop = Vec::new();
    while let Some(report) = tokio::time::timeout(PATIENCE, reports.recv()).await.expect("reports end") {
        after_stop.push(report.message);
    }
    assert_eq!(after_stop, vec!["stopped: dlm is quitting"; MAX_RUNNING], "the waiting ones never start");
    assert_eq!(started().len(), MAX_RUNNING);
    for pid in started() {
        wait_until("a hook's child to be killed", PATIENCE, || ended(pid)).await;
    }
}

#[tokio::test]
async fn hooks_that_never_end_hold_up_no_download_and_the_queue_still_notifies() {
    use dlm::actions::Actions;
    use dlm::notify::{Notifier, NotifyMode, NotifyOn};

    let server = TestServer::start().await;
    let config = HookConfig {
        on_complete: sh("exec sleep 1000"),
        on_queue_done: sh("exec sleep 1000"),
        timeout: Duration::from_secs(600),
        ..HookConfig::default()
    };
    let (hooks, _reports) = Hooks::new(config);
    let foot = |name: &str| (name == "TERM").then(|| "foot".to_string());
    let mut actions = Actions::new(hooks, Notifier::new(NotifyMode::Auto, NotifyOn::Each, true, foot));
    let mut h = Harness::new();
    let count = 2 * MAX_RUNNING;
    let ids: Vec<_> = (0..count).map(|n| h.add(server.url(&format!("/f/h{n}.bin?size=20000")))).collect();
    let mut items = std::collections::HashMap::new();
    let mut written = Vec::new();
    let mut done = 0;
    while done < count {
        let event = h.wait_for("an event", |_| true).await;
        let Some(id) = event.item() else { continue };
        let item: &mut ItemSnapshot = match &event {
            EngineEvent::Added { item, .. } => items.entry(id).or_insert_with(|| (**item).clone()),
            _ => items.get_mut(&id).unwrap(),
        };
        item.apply(&event);
        done += usize::from(matches!(event, EngineEvent::Completed { .. }));
        written.extend(actions.apply(&event, Some(item)));
    }
    assert_eq!(ids.len(), count);
    let text = String::from_utf8(written).unwrap();
    assert_eq!(text.matches("\x1b]777;notify;dlm: download done;").count(), count, "{text:?}");
    assert!(
        text.ends_with(&format!("\x1b]777;notify;dlm: queue finished;{count} downloaded\x1b\\")),
        "{text:?}"
    );
    actions.stop();
}
