//! Bad input through the real binary: a batch of broken URLs gets one clear message each and
//! the good ones still download; every damaged saved-queue fixture in `tests/states/` is moved
//! aside with a notice (never a panic), and `dlm ls` still answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dlm::state::StateStore;
use support::{TestServer, assert_file, content};

fn dlm(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlm"));
    for var in
        ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "DLM_CONFIG"]
    {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).env("XDG_CONFIG_HOME", home.join(".config"));
    cmd.env("DLM_STATE_DIR", home.join("state")).env("DLM_RUNTIME_DIR", home.join("run"));
    cmd
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_broken_urls_reports_each_and_downloads_the_rest() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let long = format!("http://example.com/{}", "a".repeat(10_000));
    let lines = [
        server.url("/f/first.bin?size=1000"),
        "not a url".to_string(),
        "http://exa mple.com/x".to_string(),
        "file:///etc/passwd".to_string(),
        "ftp://user:ftp-s3cret@example.com/f".to_string(),
        "javascript:alert(1)".to_string(),
        "http://".to_string(),
        "http://[::1".to_string(),
        "example.com/no-scheme".to_string(),
        long,
        "http://bücher.invalid/buch.pdf".to_string(),
        "http://user:pa55-s3cret@nonexistent.invalid/x".to_string(),
        server.url("/f/last.bin?size=2000"),
    ];
    let list = dir.path().join("urls.txt");
    std::fs::write(&list, lines.join("\n")).unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "--retries", "0", "-o"]).arg(dir.path().join("out")).arg("-i").arg(&list);
    let out = run(cmd).await;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_file(&dir.path().join("out/first.bin"), &content("first.bin", 1000));
    assert_file(&dir.path().join("out/last.bin"), &content("last.bin", 2000));
    let at = |n: usize| format!("{}:{n}: ", list.display());
    for (line, words) in [
        (2, "invalid URL \"not a url\": contains spaces"),
        (3, "contains spaces"),
        (4, "not an http(s) URL: file:///etc/passwd"),
        (5, "not an http(s) URL: ftp://***@example.com/f"),
        (6, "not an http(s) URL: javascript:alert(1)"),
        (7, "invalid URL \"http://\""),
        (8, "invalid URL \"http://[::1\""),
        (9, "not an absolute URL (it needs http:// or https://)"),
        (10, "longer than 8192 bytes"),
    ] {
        let prefix = at(line);
        assert!(
            err.lines().any(|l| l.contains(&prefix) && l.contains(words)),
            "no line {prefix:?} with {words:?} in {err}"
        );
    }
    // A Unicode host is looked up by its IDNA (punycode) name, and the message shows it.
    assert!(err.contains("xn--bcher-kva.invalid"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(err.contains("2 succeeded"), "{err}");
    let long_line = err.lines().find(|l| l.contains("longer than")).unwrap();
    assert!(long_line.len() < 300, "a long URL is shortened in messages: {long_line}");
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/states"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_damaged_state_fixture_is_set_aside_with_a_notice() {
    let files = fixtures();
    assert!(files.len() >= 10);
    for file in files {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::at(tmp.path());
        std::fs::copy(&file, store.queue_path()).unwrap();
        let loaded = store.load().unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(loaded.queue.items.is_empty(), "{}", file.display());
        let notice = loaded.notice.unwrap_or_else(|| panic!("{}: no notice", file.display()));
        assert!(notice.contains("could not be used") && notice.contains("moved to"), "{notice}");
        assert!(!store.queue_path().exists(), "{}", file.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dlm_ls_on_a_damaged_queue_says_so_and_carries_on() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/states/binary_garbage.json"),
        state.join("queue.json"),
    )
    .unwrap();
    let mut cmd = dlm(home.path());
    cmd.arg("ls");
    let out = run(cmd).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("could not be used") && err.contains("empty queue"), "{err}");
}

#[test]
fn a_folder_where_the_queue_file_should_be_is_set_aside_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::at(tmp.path());
    std::fs::create_dir(store.queue_path()).unwrap();
    let notice = store.load().unwrap().notice.unwrap();
    assert!(notice.contains("not a regular file"), "{notice}");
}
