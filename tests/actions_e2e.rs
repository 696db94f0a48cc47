//! Hooks and terminal notifications through the real binary: `dlm get` with a config whose
//! hooks write their environment to files (run once, waited for, never failing a good
//! download), and `dlm get` and the UI in a real pseudo-terminal (portable-pty), whose raw
//! output is checked for the notification and taskbar sequences, and for their absence with
//! `notify = "off"`. Against the loopback test server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use support::process::{dlm_command, run, stderr};
use support::{TestServer, assert_file, content, wait_until};

const DEADLINE: Duration = Duration::from_secs(20);
/// The notification a WezTerm-like terminal gets when the queue finished (OSC 777).
const QUEUE_DONE: &str = "\x1b]777;notify;dlm: queue finished;";
/// The taskbar progress cleared (OSC 9;4, state 0).
const PROGRESS_CLEAR: &str = "\x1b]9;4;0;0\x1b\\";

/// A config file in `dir` with `body`; returns its path.
fn config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// A hook (TOML array) that appends its `DLM_*` environment to `file`.
fn env_hook(file: &Path) -> String {
    format!(
        r#"["sh", "-c", "env | grep ^DLM_ | sort >> '{}'; echo --- >> '{}'"]"#,
        file.display(),
        file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_get_runs_the_hooks_with_their_environment_and_waits_for_on_queue_done() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hooks = tempfile::tempdir().unwrap();
    let (complete, queue_done) = (hooks.path().join("complete.env"), hooks.path().join("queue.env"));
    // on_queue_done sleeps first: `dlm get` must still wait for it before it exits.
    let cfg = config(
        hooks.path(),
        &format!(
            "on_complete = {}\non_queue_done = [\"sh\", \"-c\", \"sleep 0.5; env | grep ^DLM_ | sort >> '{}'\"]\n",
            env_hook(&complete),
            queue_done.display()
        ),
    );
    let url = server.url("/f/alpha.bin?size=1000");
    let mut cmd = dlm_command();
    cmd.env("DLM_CONFIG", &cfg).args(["get", "-o", dir.path().to_str().unwrap(), &url]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("alpha.bin"), &content("alpha.bin", 1000));

    let env = std::fs::read_to_string(&complete).unwrap();
    let path = dir.path().join("alpha.bin");
    assert!(env.contains(&format!("DLM_PATH={}\n", path.display())), "{env}");
    assert!(env.contains("DLM_NAME=alpha.bin\n") && env.contains("DLM_SIZE=1000\n"), "{env}");
    assert!(env.contains("DLM_STATUS=done\n") && env.contains(&format!("DLM_URL={url}\n")), "{env}");
    assert_eq!(env.matches("---").count(), 1, "on_complete ran once: {env}");
    let done = std::fs::read_to_string(&queue_done).expect("on_queue_done ran before dlm get exited");
    assert_eq!(done, "DLM_DONE=1\nDLM_FAILED=0\n", "ran once, with the counts");
    // stderr is a pipe here: no escape sequences in it.
    assert!(!out.stderr.contains(&0x1b), "{:?}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_is_reported_and_leaves_a_good_download_successful() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hooks = tempfile::tempdir().unwrap();
    let cfg = config(
        hooks.path(),
        "on_complete = [\"sh\", \"-c\", \"echo hook broke >&2; exit 3\"]\non_queue_done = [\"/no/such/program\"]\n",
    );
    let url = server.url("/f/beta.bin?size=500");
    let mut cmd = dlm_command();
    cmd.env("DLM_CONFIG", &cfg).args(["get", "-q", "-o", dir.path().to_str().unwrap(), &url]);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_file(&dir.path().join("beta.bin"), &content("beta.bin", 500));
    assert!(err.contains("on_complete for beta.bin: failed") && err.contains("hook broke"), "{err}");
    assert!(err.contains("on_queue_done:"), "a hook that cannot start is said too: {err}");
}

/// Everything a program wrote to its pseudo-terminal so far, read by a thread.
struct Pty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    keys: Box<dyn Write + Send>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    /// Starts dlm with `args` in a terminal that says it is WezTerm (which shows OSC 777
    /// notifications and OSC 9;4 progress) and `config` as its config file.
    fn spawn(args: &[&str], config: &Path, state: &Path) -> Pty {
        let pty = native_pty_system().openpty(PtySize { rows: 30, cols: 100, ..PtySize::default() }).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_dlm"));
        cmd.args(args);
        for var in [
            "TMUX",
            "KITTY_WINDOW_ID",
            "WT_SESSION",
            "LC_TERMINAL",
            "VTE_VERSION",
            "HTTP_PROXY",
            "http_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env("TERM_PROGRAM", "WezTerm");
        cmd.env("DLM_CONFIG", config);
        cmd.env("DLM_STATE_DIR", state);
        cmd.env("DLM_RUNTIME_DIR", state);
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let keys = pty.master.take_writer().unwrap();
        Pty { child, output, keys, _master: pty.master }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    async fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) {
        wait_until(what, DEADLINE, || cond(&self.text())).await;
    }

    fn press(&mut self, key: &[u8]) {
        self.keys.write_all(key).unwrap();
        self.keys.flush().unwrap();
    }

    /// Waits for the exit, then for the last output to be read (the exit status is printed
    /// after the screen is restored, so `tail` comes last).
    async fn exit(&mut self, tail: &str) -> (u32, String) {
        let deadline = std::time::Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "dlm did not exit: {:?}", self.text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.wait_for("the last output", |t| t.contains(tail)).await;
        (status.exit_code(), self.text())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_get_on_a_terminal_notifies_when_the_queue_finishes_and_clears_the_taskbar() {
    let server = TestServer::start().await;
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg = config(state.path(), "");
    let url = server.url("/f/gamma.bin?size=2000");
    let mut pty = Pty::spawn(&["get", "-o", dir.path().to_str().unwrap(), &url], &cfg, state.path());
    let (code, out) = pty.exit("succeeded").await;
    assert_eq!(code, 0, "{out:?}");
    let note = out.find(&format!("{QUEUE_DONE}1 downloaded\x1b\\")).expect("queue notification");
    let clear = out.rfind(PROGRESS_CLEAR).expect("taskbar progress cleared at the end");
    assert!(note < clear, "cleared after the last notification: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_get_with_notify_off_writes_no_sequence_on_a_terminal() {
    let server = TestServer::start().await;
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg = config(state.path(), "notify = \"off\"\n");
    let url = server.url("/f/delta.bin?size=2000");
    let mut pty = Pty::spawn(&["get", "-o", dir.path().to_str().unwrap(), &url], &cfg, state.path());
    let (code, out) = pty.exit("succeeded").await;
    assert_eq!(code, 0, "{out:?}");
    assert!(!out.contains("\x1b]777") && !out.contains("\x1b]9;"), "{out:?}");
}

/// The UI downloads one file; `on_queue_done` leaves a mark, so the test knows the queue
/// finished whatever `notify` says; then `q`.
async fn ui_round(notify: &str) -> String {
    let server = TestServer::start().await;
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mark = state.path().join("queue-done");
    let cfg = config(
        state.path(),
        &format!("notify = \"{notify}\"\non_queue_done = [\"touch\", \"{}\"]\n", mark.display()),
    );
    let url = server.url("/f/eps.bin?size=3000");
    let mut pty = Pty::spawn(&["-o", dir.path().to_str().unwrap(), &url], &cfg, state.path());
    wait_until("on_queue_done to run", DEADLINE, || mark.exists()).await;
    // The hook's report reaches the message line: the loop has gone round since the queue
    // finished, so anything it had to write is written.
    pty.wait_for("the hook's report", |t| t.contains("on_queue_done")).await;
    pty.press(b"q");
    let (code, out) = pty.exit("dlm: 1 done").await;
    assert_eq!(code, 0, "{out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_notifies_when_the_queue_finishes_and_clears_the_taskbar_at_exit() {
    let out = ui_round("auto").await;
    let note = out.find(&format!("{QUEUE_DONE}1 downloaded\x1b\\")).expect("queue notification");
    let left = out.rfind("\x1b[?1049l").expect("alternate screen left");
    let clear = out.rfind(PROGRESS_CLEAR).expect("taskbar progress cleared");
    assert!(note < left && left < clear, "cleared after the screen was restored: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_with_notify_off_writes_no_notification_or_progress() {
    let out = ui_round("off").await;
    assert!(!out.contains("\x1b]777") && !out.contains("\x1b]9;"), "{out:?}");
}
