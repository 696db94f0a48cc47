//! Running the real `dlm` binary from tests: a command with the user's proxy, config and
//! certificate settings taken out of its environment, a way to run it without blocking the
//! in-process test server, and the peak memory of a running process.

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
