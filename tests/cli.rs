//! `dlm get` as a person or a script runs it: the real binary against the loopback test
//! server, checking exit status, files on disk and what is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use support::process::{dlm_command, run, stderr};
use support::{TestServer, assert_file, content};

fn dlm() -> Command {
    dlm_command()
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_urls_and_prints_a_summary() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm();
    cmd.args(["get", "-o"]).arg(dir.path());
    cmd.arg(server.url("/f/one.bin?size=70000")).arg(server.url("/f/two.bin?size=1234"));
    let out = run(cmd).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_file(&dir.path().join("one.bin"), &content("one.bin", 70_000));
    assert_file(&dir.path().join("two.bin"), &content("two.bin", 1234));
    assert!(err.contains("2 succeeded, 0 failed"), "{err}");
    assert!(
        err.contains("done ") && err.contains("one.bin"),
        "log lines when stderr is not a terminal: {err}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn input_file_skips_comments_reports_bad_lines_and_downloads_the_rest() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    let text = format!(
        "# my list\n\n  {}  \nftp://example.com/nope\n{}\n",
        server.url("/f/a.bin?size=100"),
        server.url("/f/b.bin?size=200")
    );
    std::fs::write(&list, text).unwrap();
    let out_dir = dir.path().join("out");
    let mut cmd = dlm();
    cmd.args(["get", "-o"]).arg(&out_dir).arg("-i").arg(&list);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}:4: not an http(s) URL: ftp://example.com/nope", list.display())),
        "{err}"
    );
    assert!(err.contains("2 succeeded, 1 failed"), "{err}");
    assert_file(&out_dir.join("a.bin"), &content("a.bin", 100));
    assert_file(&out_dir.join("b.bin"), &content("b.bin", 200));
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_urls_from_stdin() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm();
    cmd.args(["get", "-q", "-i", "-", "-o"]).arg(dir.path());
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let urls = format!("{}\n{}\n", server.url("/f/s1.bin?size=10"), server.url("/f/s2.bin?size=20"));
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(urls.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "-q prints nothing on success: {}", stderr(&out));
    assert_file(&dir.path().join("s1.bin"), &content("s1.bin", 10));
    assert_file(&dir.path().join("s2.bin"), &content("s2.bin", 20));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_errors_give_exit_1_and_the_reason() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm();
    cmd.args(["get", "-q", "-o"]).arg(dir.path()).arg(server.url("/missing.iso"));
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), format!("dlm: 404 Not Found: {}", server.url("/missing.iso")));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing left on disk");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_with_a_hint() {
    let out = run({
        let mut c = dlm();
        c.arg("get");
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no URLs given"), "{}", stderr(&out));

    let out = run({
        let mut c = dlm();
        c.args(["get", "-i", "/nonexistent/list.txt"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read URL list /nonexistent/list.txt"), "{}", stderr(&out));

    let out = run({
        let mut c = dlm();
        c.args(["get", "-j", "0", "http://x/"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn help_describes_the_commands_and_options() {
    let out = run({
        let mut c = dlm();
        c.arg("--help");
        c
    })
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("get") && text.contains("terminal"), "{text}");
    let out = run({
        let mut c = dlm();
        c.args(["get", "--help"]);
        c
    })
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--input-file",
        "--jobs",
        "--connections",
        "--retries",
        "--connect-timeout",
        "--read-timeout",
        "--header",
        "--user-agent",
        "--proxy",
        "--insecure",
        "--quiet",
        "Exit status",
    ] {
        assert!(text.contains(flag), "get --help lacks {flag}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_item_clearly_and_leaves_no_final_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A file-size limit stands in for a full disk: writes past it fail with EFBIG, which dlm
    // reports as a full disk. SIGXFSZ is ignored so the write fails instead of killing dlm.
    let script = format!(
        "trap '' XFSZ; ulimit -f 200; exec {} get -o {} {} {}",
        env!("CARGO_BIN_EXE_dlm"),
        dir.path().display(),
        server.url("/f/huge.bin?size=2000000"),
        server.url("/f/small.bin?size=1000"),
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("disk full writing {}", dir.path().join("huge.bin.part").display())),
        "{err}"
    );
    assert!(!Path::new(&dir.path().join("huge.bin")).exists());
    assert_file(&dir.path().join("small.bin"), &content("small.bin", 1000));
}

#[tokio::test(flavor = "multi_thread")]
async fn running_twice_with_continue_skips_what_is_complete() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/f/again.bin?size=5000");
    for round in 0..2 {
        let mut cmd = dlm();
        cmd.args(["get", "--continue", "-o"]).arg(dir.path()).arg(&url);
        let out = run(cmd).await;
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        if round == 1 {
            assert!(err.contains("1 already complete"), "{err}");
        }
    }
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files, vec!["again.bin"]);
}
