#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Output into a pipe whose reader has gone: `dlm ls | head -2` ends quietly with status 0
//! (it printed "Broken pipe" and exited 2), and `dlm get` with nobody reading its progress
//! still finishes every download (`eprintln!` used to panic there). The real binary.

mod support;

use std::process::{Command, Stdio};

use support::{TestServer, assert_file, content};

/// The writing end of a pipe nobody will ever read: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

fn dlm(state: &std::path::Path) -> Command {
    let mut cmd = support::process::dlm_command();
    std::fs::write(state.join("none.toml"), "").unwrap();
    cmd.env("DLM_STATE_DIR", state).env_remove("DLM_RUNTIME_DIR").env("DLM_CONFIG", state.join("none.toml"));
    cmd
}

#[test]
fn ls_into_a_closed_pipe_ends_quietly() {
    let state = tempfile::tempdir().unwrap();
    let queue: Vec<String> = (0..50).map(|i| format!("http://h/{i}")).collect();
    let mut add = dlm(state.path());
    add.arg("add").args(&queue);
    assert!(add.output().unwrap().status.success());
    for args in [&["ls"][..], &["ls", "--json"]] {
        let out = dlm(state.path()).args(args).stdout(closed_pipe()).stderr(Stdio::piped()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe") && !err.contains("dlm:"), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_with_nobody_reading_stderr_still_downloads() {
    let server = TestServer::start().await;
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = (0..3).map(|i| server.url(&format!("/f/p{i}.bin?size=200000"))).collect();
    let mut cmd = dlm(state.path());
    cmd.args(["get", "-o", dir.path().to_str().unwrap()])
        .args(&urls)
        .stdout(Stdio::null())
        .stderr(closed_pipe());
    let out = support::process::run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for i in 0..3 {
        let name = format!("p{i}.bin");
        assert_file(&dir.path().join(&name), &content(&name, 200_000));
    }
}
