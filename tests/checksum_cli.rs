//! Checksums through the real binary (issue 11): `dlm get --checksum`, `URL sha256=HEX` list
//! lines, `--checksum-file` as a file and as a URL, and the server's `Repr-Digest`; a mismatch
//! exits 1 with both hashes, keeps the `.part` and never gives the file its final name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::harness::files_in;
use support::process::{dlm_command, run, stderr};
use support::{TestServer, assert_file, content, sha256_hex};

fn get_into(dir: &Path) -> std::process::Command {
    let mut cmd = dlm_command();
    cmd.args(["get", "-o"]).arg(dir);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn checksum_flag_verifies_and_a_wrong_one_exits_1_keeping_the_part() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let right = sha256_hex(&content("a.bin", 50_000));
    let mut cmd = get_into(dir.path());
    cmd.arg(format!("--checksum=SHA256={}", right.to_uppercase())).arg(server.url("/f/a.bin?size=50000"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 succeeded, 0 failed, 1 verified"), "{}", stderr(&out));
    assert_file(&dir.path().join("a.bin"), &content("a.bin", 50_000));

    let wrong = "0".repeat(64);
    let mut cmd = get_into(dir.path());
    cmd.arg(format!("--checksum=sha256={wrong}")).arg(server.url("/f/b.bin?size=50000"));
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(
        err.contains(&wrong) && err.contains(&sha256_hex(&content("b.bin", 50_000))),
        "both hashes: {err}"
    );
    let files = files_in(dir.path());
    assert!(files.contains(&"b.bin.part".to_string()) && !files.contains(&"b.bin".to_string()), "{files:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_checksum_flags_are_usage_errors() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = get_into(dir.path());
    cmd.arg("--checksum=sha256=abcd").arg(server.url("/f/a.bin"));
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("64 hex digits"), "{}", stderr(&out));

    let mut cmd = get_into(dir.path());
    cmd.arg(format!("--checksum=sha256={}", "0".repeat(64))).arg(server.url("/f/a")).arg(server.url("/f/b"));
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--checksum is for one URL"), "{}", stderr(&out));
    assert!(server.requests().is_empty(), "nothing was fetched");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_lines_carry_checksums_and_a_bad_one_names_its_line() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    let text = format!(
        "{} sha256={}\n{}  md5=00000000000000000000000000000000\n{}\n",
        server.url("/f/ok.bin?size=3000"),
        sha256_hex(&content("ok.bin", 3000)),
        server.url("/f/no.bin?size=3000"),
        server.url("/f/plain.bin?size=3000"),
    );
    std::fs::write(&list, text).unwrap();
    let out_dir = dir.path().join("out");
    let mut cmd = get_into(&out_dir);
    cmd.arg("-i").arg(&list);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 succeeded, 1 failed, 1 verified"), "{err}");
    assert!(err.contains("checksum mismatch") && err.contains("(from list)"), "{err}");
    assert_file(&out_dir.join("ok.bin"), &content("ok.bin", 3000));
    assert!(!out_dir.join("no.bin").exists());

    std::fs::write(&list, format!("{}\n{} sha256=xyz\n", server.url("/f/a"), server.url("/f/b"))).unwrap();
    let mut cmd = get_into(&out_dir);
    cmd.arg("-i").arg(&list);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("{}:2: ", list.display())), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checksum_file_works_as_a_file_and_as_a_url() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sums = format!(
        "{}  one.bin\nSHA256 (two.bin) = {}\n",
        sha256_hex(&content("one.bin", 8000)),
        "1".repeat(64)
    );
    let file = dir.path().join("SHA256SUMS");
    std::fs::write(&file, &sums).unwrap();
    let sums_url = server.url(&format!(
        "/text/SHA256SUMS?body={}",
        url::form_urlencoded::byte_serialize(sums.as_bytes()).collect::<String>()
    ));
    for (i, source) in [file.display().to_string(), sums_url].into_iter().enumerate() {
        let out_dir = dir.path().join(format!("out{i}"));
        let mut cmd = get_into(&out_dir);
        cmd.args(["--checksum-file", &source, "-x", "2"]);
        cmd.arg(server.url("/f/one.bin?size=8000")).arg(server.url("/f/two.bin?size=8000"));
        let out = run(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{source}: {err}");
        assert!(err.contains("1 succeeded, 1 failed") && err.contains("(from file)"), "{source}: {err}");
        assert_file(&out_dir.join("one.bin"), &content("one.bin", 8000));
        assert!(!out_dir.join("two.bin").exists() && out_dir.join("two.bin.part").exists(), "{source}");
    }
    let mut cmd = get_into(dir.path());
    cmd.args(["--checksum-file", "/nonexistent/SUMS"]).arg(server.url("/f/x"));
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read checksum file"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_repr_digest_on_a_segmented_download_fails_the_binary() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = get_into(dir.path());
    cmd.args(["-x", "4"]).arg(server.url("/f/s.bin?size=3000000&repr=sha256&wrong=1"));
    cmd.arg(server.url("/f/t.bin?size=3000000&repr=sha512"));
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(from server-repr-digest)") && err.contains("1 failed, 1 verified"), "{err}");
    assert_file(&dir.path().join("t.bin"), &content("t.bin", 3_000_000));
    assert!(!dir.path().join("s.bin").exists() && dir.path().join("s.bin.part").exists());
}

/// `dlm get --json` prints a `verified` line, with the item's checksum as `dlm ls --json` shows
/// it, between the download's progress and its `done`.
#[tokio::test(flavor = "multi_thread")]
async fn get_json_says_verified_with_the_checksum_before_done() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let right = sha256_hex(&content("v.bin", 20_000));
    let mut cmd = get_into(dir.path());
    cmd.arg("--json").arg(format!("--checksum=sha256={right}")).arg(server.url("/f/v.bin?size=20000"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let at =
        |event: &str| lines.iter().position(|l| l["event"] == event).unwrap_or_else(|| panic!("no {event}"));
    let verified = &lines[at("verified")];
    assert!(at("verified") < at("done"), "verified comes before done");
    assert_eq!(verified["checksum"]["state"], "verified");
    assert_eq!(verified["checksum"]["algo"], "sha256");
    assert_eq!(verified["checksum"]["expected"], right.as_str());
    assert_eq!(verified["checksum"]["actual"], right.as_str());
}
