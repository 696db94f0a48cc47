//! Running the real `dlm` binary from tests: a command with the user's proxy, config and
//! certificate settings taken out of its environment, a way to run it without blocking the
//! in-process test server, the peak memory of a running process, and whether one has ended.

use std::process::{Command, Output};

/// `dlm` with an environment that cannot leak the developer's own settings into a test.
pub fn dlm_command() -> Command {
    // Cargo names the built binary for integration tests; the bench server, which shares this
    // module, never runs it.
    let mut cmd = Command::new(option_env!("CARGO_BIN_EXE_dlm").unwrap_or("dlm"));
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "DLM_CONFIG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `dlm ARGS` as run from another shell against the queue in `state_dir`: run in that folder,
/// with that state (so its control socket is `state_dir/dlm.sock`) and an empty config file
/// (`state_dir/no-config.toml`, written when missing).
pub fn dlm_in(args: &[&str], state_dir: &std::path::Path) -> Output {
    let config = state_dir.join("no-config.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    dlm_command()
        .args(args)
        .current_dir(state_dir)
        .env("DLM_STATE_DIR", state_dir)
        .env_remove("DLM_RUNTIME_DIR")
        .env("DLM_CONFIG", config)
        .output()
        .unwrap()
}

/// `dlm_in` off the async runtime, so a dlm running in the test's process goes on meanwhile.
pub async fn dlm_in_async(args: &[&str], state_dir: &std::path::Path) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let dir = state_dir.to_path_buf();
    tokio::task::spawn_blocking(move || dlm_in(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir))
        .await
        .unwrap()
}

/// Output as text, for messages and assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the binary off the async runtime so the in-process test server keeps serving.
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Peak resident memory of a process so far, in KiB (Linux `VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A `dlm` started in the background with its stderr read line by line, to interrupt it at a
/// chosen moment and time how long it takes to end.
pub struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every stderr line seen so far, for failure messages.
    pub stderr: Vec<String>,
}

impl Background {
    /// Spawns `cmd` with stderr piped (stdout discarded).
    pub fn spawn(mut cmd: Command) -> Self {
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, stderr: Vec::new() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (off the async runtime's threads: call from `spawn_blocking` or a plain test)
    /// until a stderr line contains `text`.
    pub fn wait_for_line(&mut self, text: &str, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while !self.stderr.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stderr.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no stderr line with {text:?} within {timeout:?}: {:#?}", self.stderr);
                }
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    }

    /// Waits up to `timeout` for the process to end; kills it and panics if it does not.
    /// Returns the exit status and how long it took from the call.
    pub fn wait_at_most(
        &mut self,
        timeout: std::time::Duration,
    ) -> (std::process::ExitStatus, std::time::Duration) {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.stderr.extend(self.lines.try_iter());
                return (status, start.elapsed());
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.stderr.extend(self.lines.try_iter());
                panic!("dlm still running {timeout:?} after being asked to stop: {:#?}", self.stderr);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A failed assertion must not leave a dlm behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether process `pid` has ended: gone, or a zombie nobody has reaped yet (a killed child
/// that was reparented waits for its new parent).
pub fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}
