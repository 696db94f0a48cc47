#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What `dlm add` carries, through the real binary: a checksum per URL (`--checksum`, `URL
//! sha256=HEX` list lines) and a `--checksum-file` reach a running dlm and the saved queue
//! when none runs; a rule's `checksum_file` checks the items it matches; a rule's `dir`
//! applies to a `dlm add` without `-o` but never over one; `dlm add --curl` sends the
//! command's headers, cookies and login to the running dlm, and none of them is ever saved
//! or listed.

mod support;

use std::path::{Path, PathBuf};

use dlm::config::{Config, Rules};
use dlm::engine::{ChecksumSource, ChecksumState, EngineEvent, ErrorKind, ItemId, ItemSnapshot};
use dlm::session::SessionConfig;
use dlm::state::StateStore;
use support::process::{dlm_in, dlm_in_async, text};
use support::session::{self, Running};
use support::{TestServer, assert_file, content, sha256_hex};

fn rules(text: &str) -> Rules {
    Config::parse(text, Path::new("test.toml")).unwrap().rules
}

/// A running dlm whose state and socket are in `state`, downloading into `dl`, with `rules`.
fn running(state: &Path, dl: &Path, rules_text: &str) -> Running {
    std::fs::create_dir_all(dl).unwrap();
    let config = SessionConfig {
        store: Some(StateStore::at(state)),
        socket: Some(state.join("dlm.sock")),
        rules: rules(rules_text),
        ..SessionConfig::default()
    };
    session::start_with(dl, config).unwrap()
}

/// The first event `pred` accepts: one seen already (waiting for another item may have
/// received it), else the next.
async fn first(s: &mut Running, what: &str, pred: impl Fn(&EngineEvent) -> bool) -> EngineEvent {
    let seen = s.seen.iter().find_map(|e| match e {
        dlm::session::SessionEvent::Engine(e) if pred(e) => Some(e.clone()),
        _ => None,
    });
    match seen {
        Some(e) => e,
        None => s.wait_for(what, pred).await,
    }
}

/// The item added whose URL holds `part`; returns its snapshot.
async fn added(s: &mut Running, part: &str) -> ItemSnapshot {
    match first(s, part, |e| matches!(e, EngineEvent::Added { item, .. } if item.url.contains(part))).await {
        EngineEvent::Added { item, .. } => *item,
        _ => unreachable!(),
    }
}

/// How item `id` ended: `Ok(path)` when it completed, else the failure's kind and message.
async fn ended(s: &mut Running, id: ItemId) -> Result<PathBuf, (ErrorKind, String)> {
    let end = first(
        s,
        "the end",
        |e| matches!(e, EngineEvent::Completed { id: i, .. } | EngineEvent::Failed { id: i, .. } if *i == id),
    )
    .await;
    match end {
        EngineEvent::Completed { path, .. } => Ok(path),
        EngineEvent::Failed { error, .. } => Err((error.kind, error.message)),
        _ => unreachable!(),
    }
}

/// The state the checksum of `id` reached, from the events seen.
fn checksum_state(s: &Running, id: ItemId) -> Option<ChecksumState> {
    s.seen.iter().rev().find_map(|e| match e {
        dlm::session::SessionEvent::Engine(EngineEvent::Checksum { id: i, checksum }) if *i == id => {
            Some(checksum.state)
        }
        _ => None,
    })
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_add_with_a_checksum_reaches_the_running_dlm_and_a_wrong_one_fails_the_item() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    let mut s = running(&state, &dl, "");
    let dir = dl.to_str().unwrap();

    let right = sha256_hex(&content("a.bin", 20_000));
    let out = dlm_in_async(
        &["add", "-o", dir, "--checksum", &format!("sha256={right}"), &server.url("/f/a.bin?size=20000")],
        &state,
    )
    .await;
    ok(&out);
    let a = added(&mut s, "a.bin?size=20000").await;
    assert!(a.checksum.is_some(), "the checksum came with the add: {a:?}");
    assert_file(&ended(&mut s, a.id).await.unwrap(), &content("a.bin", 20_000));
    assert_eq!(checksum_state(&s, a.id), Some(ChecksumState::Verified));

    let wrong = "0".repeat(64);
    let out = dlm_in_async(
        &["add", "-o", dir, "--checksum", &format!("sha256={wrong}"), &server.url("/f/b.bin?size=20000")],
        &state,
    )
    .await;
    ok(&out);
    let b = added(&mut s, "b.bin?size=20000").await;
    let (kind, message) = ended(&mut s, b.id).await.unwrap_err();
    assert_eq!(kind, ErrorKind::Checksum, "{message}");
    assert!(message.contains(&wrong), "{message}");
    assert!(!dl.join("b.bin").exists() && dl.join("b.bin.part").exists(), "never the final name");

    // List lines carry theirs too, and a checksum file checks the URLs it names.
    let c_right = sha256_hex(&content("c.bin", 5_000));
    let list = tmp.path().join("urls.txt");
    std::fs::write(
        &list,
        format!(
            "{} sha256={c_right}\n{}\n",
            server.url("/f/c.bin?size=5000"),
            server.url("/f/d.bin?size=5000")
        ),
    )
    .unwrap();
    let sums = format!("{}  d.bin\n", "1".repeat(64));
    let sums_url =
        server.url(&format!("/text/SHA256SUMS?body={}", sums.replace(' ', "%20").replace('\n', "%0A")));
    let out =
        dlm_in_async(&["add", "-o", dir, "-i", list.to_str().unwrap(), "--checksum-file", &sums_url], &state)
            .await;
    ok(&out);
    let c = added(&mut s, "c.bin?size=5000").await;
    let d = added(&mut s, "d.bin?size=5000").await;
    assert_eq!(c.checksum.as_ref().map(|c| c.source), Some(ChecksumSource::List), "a list line says so");
    assert_eq!(a.checksum.as_ref().map(|c| c.source), Some(ChecksumSource::User));
    assert!(ended(&mut s, c.id).await.is_ok());
    assert_eq!(checksum_state(&s, c.id), Some(ChecksumState::Verified));
    let (kind, message) = ended(&mut s, d.id).await.unwrap_err();
    assert_eq!(kind, ErrorKind::Checksum, "the file's line for d.bin is wrong on purpose: {message}");

    // A bad checksum or a checksum file that cannot be had adds nothing and says why.
    let out = dlm_in_async(&["add", "--checksum", "sha256=abcd", &server.url("/f/e.bin")], &state).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("64 hex digits"), "{}", text(&out.stderr));
    let out = dlm_in_async(
        &["add", "--checksum-file", &server.url("/f/gone?status=404"), &server.url("/f/e.bin")],
        &state,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("checksum file: cannot fetch"), "{}", text(&out.stderr));
    s.close().await.saved.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_add_list_lines_with_checksums_are_saved_with_the_queue_when_no_dlm_runs() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    std::fs::create_dir_all(&dl).unwrap();
    std::fs::write(state.join("no-config.toml"), "").unwrap();
    let right = sha256_hex(&content("r.bin", 8_000));
    let list = tmp.path().join("urls.txt");
    let (r_url, w_url, f_url) = (
        server.url("/f/r.bin?size=8000"),
        server.url("/f/w.bin?size=8000"),
        server.url("/f/f.bin?size=8000"),
    );
    std::fs::write(&list, format!("{r_url} sha256={right}\n{w_url} SHA256:{}\n{f_url}\n", "2".repeat(64)))
        .unwrap();
    let sums = tmp.path().join("SUMS");
    std::fs::write(&sums, format!("{}  f.bin\n", sha256_hex(&content("f.bin", 8_000)))).unwrap();
    let out = dlm_in(
        &[
            "add",
            "-o",
            dl.to_str().unwrap(),
            "-i",
            list.to_str().unwrap(),
            "--checksum-file",
            sums.to_str().unwrap(),
        ],
        &state,
    );
    ok(&out);
    assert!(
        text(&out.stdout).contains("dlm is not running: added 3 to the saved queue"),
        "{}",
        text(&out.stdout)
    );

    let queue = StateStore::at(&state).load().unwrap().queue;
    let saved: Vec<_> =
        queue.items.values().map(|i| i.checksum.as_ref().map(|c| c.expected.clone())).collect();
    assert_eq!(
        saved,
        [Some(right.clone()), Some("2".repeat(64)), Some(sha256_hex(&content("f.bin", 8_000)))]
    );
    let out = dlm_in(&["ls", "--json"], &state);
    assert!(text(&out.stdout).contains(&right), "ls --json shows the expected checksum");

    // The next dlm checks them.
    let mut s = running(&state, &dl, "");
    let mut ends = Vec::new();
    for id in queue.items.keys() {
        ends.push(ended(&mut s, ItemId(*id)).await.map_err(|(kind, _)| kind));
    }
    assert_eq!(ends, [Ok(dl.join("r.bin")), Err(ErrorKind::Checksum), Ok(dl.join("f.bin"))]);
    s.close().await.saved.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_checksum_file_verifies_items_that_match_it() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    let sums = format!(
        "{}  good.bin\n{}  bad.bin\n",
        sha256_hex(&content("checked/good.bin", 9_000)),
        "3".repeat(64)
    );
    let sums_path = format!("/text/SHA256SUMS?body={}", sums.replace(' ', "%20").replace('\n', "%0A"));
    let mut s = running(
        &state,
        &dl,
        &format!(
            "[[rule]]\npath = \"/f/checked/**\"\nchecksum_file = \"{}\"\n[[rule]]\npath = \"/f/broken/**\"\nchecksum_file = \"{}\"\n",
            server.url(&sums_path),
            server.url("/f/nothing?status=404")
        ),
    );
    s.add(server.url("/f/checked/good.bin?size=9000"));
    let good = added(&mut s, "good.bin?size=9000").await;
    assert!(ended(&mut s, good.id).await.is_ok());
    assert_eq!(checksum_state(&s, good.id), Some(ChecksumState::Verified));
    s.add(server.url("/f/checked/bad.bin?size=9000"));
    let bad = added(&mut s, "bad.bin?size=9000").await;
    let (kind, message) = ended(&mut s, bad.id).await.unwrap_err();
    assert_eq!(kind, ErrorKind::Checksum, "{message}");
    s.add(server.url("/f/unlisted.bin?size=100"));
    let other = added(&mut s, "unlisted.bin?size=100").await;
    assert!(ended(&mut s, other.id).await.is_ok(), "an item no rule matches is not checked");
    assert_eq!(server.requests_for("/text/SHA256SUMS").len(), 1, "fetched once for the session");

    // A checksum file that cannot be fetched fails the items of its rule, saying which.
    s.add(server.url("/f/broken/x.bin?size=100"));
    let x = added(&mut s, "x.bin?size=100").await;
    let (kind, message) = ended(&mut s, x.id).await.unwrap_err();
    assert_eq!(kind, ErrorKind::Checksum);
    assert!(message.contains("checksum file") && message.contains("/f/nothing"), "{message}");
    assert!(!dl.join("x.bin").exists(), "never downloaded unchecked");
    s.close().await.saved.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_dir_applies_to_dlm_add_without_a_folder_but_not_over_an_explicit_one() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    let rule = "[[rule]]\next = \"iso\"\ndir = \"images\"\n";
    let mut s = running(&state, &dl, rule);
    let out = dlm_in_async(&["add", &server.url("/f/a.iso?size=100")], &state).await;
    ok(&out);
    let a = added(&mut s, "a.iso?size=100").await;
    assert_eq!(
        ended(&mut s, a.id).await.unwrap(),
        dl.join("images/a.iso"),
        "the rule's dir, in the download folder"
    );
    let mine = tmp.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let out =
        dlm_in_async(&["add", "-o", mine.to_str().unwrap(), &server.url("/f/b.iso?size=100")], &state).await;
    ok(&out);
    let b = added(&mut s, "b.iso?size=100").await;
    assert_eq!(ended(&mut s, b.id).await.unwrap(), mine.join("b.iso"), "-o wins over the rule");
    let out = dlm_in_async(&["add", &server.url("/f/c.txt?size=100")], &state).await;
    ok(&out);
    let c = added(&mut s, "c.txt?size=100").await;
    let shell = std::fs::canonicalize(&state).unwrap();
    assert_eq!(c.dir, shell, "no rule: the shell's folder, as before");
    s.close().await.saved.unwrap();

    // With no dlm running, the saved item gets the rule's folder (inside the config's
    // download_dir) the same way, and -o still wins.
    let saved = tempfile::tempdir().unwrap();
    let config = saved.path().join("no-config.toml");
    std::fs::write(&config, format!("download_dir = \"{}\"\n{rule}", dl.display())).unwrap();
    let out =
        dlm_in(&["add", &server.url("/f/d.iso?size=100"), &server.url("/f/e.txt?size=100")], saved.path());
    ok(&out);
    let out = dlm_in(&["add", "-o", mine.to_str().unwrap(), &server.url("/f/f.iso?size=100")], saved.path());
    ok(&out);
    let queue = StateStore::at(saved.path()).load().unwrap().queue;
    let dirs: Vec<_> = queue.items.values().map(|i| i.dir.clone().unwrap()).collect();
    assert_eq!(dirs, [dl.join("images"), dl.clone(), mine]);
    assert!(dl.join("images").is_dir(), "made, as a running dlm makes it");
}

/// `alice:s3cr3t-pw` in Basic auth.
const ALICE: &str = "YWxpY2U6czNjcjN0LXB3";
const SECRETS: [&str; 3] = ["tok-secret", "cookie-secret", "s3cr3t-pw"];

/// Every byte percent-encoded: the server reads the same text, a person does not.
fn hidden(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn has_no_secret(what: &str, text: &str) {
    for secret in SECRETS.iter().chain(&[ALICE]) {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

/// Every file the saved queue is made of, as text.
fn saved_text(state: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(state).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file()
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            all.push_str(&text);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlm_add_curl_sends_the_headers_and_cookies_of_the_command() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().to_path_buf(), tmp.path().join("dl"));
    std::fs::write(state.join("no-config.toml"), "").unwrap();
    // Refused with words when no dlm runs, and nothing is saved.
    // The server is told what to demand percent-encoded, so the URL itself (which is listed
    // and saved, as it should be) does not hold the secrets in the clear.
    let demanding = server.url(&format!(
        "/f/private.bin?size=4000&need_header={}&cookie={}&auth={}",
        hidden("X-Token:tok-secret"),
        hidden("sid=cookie-secret"),
        hidden(ALICE)
    ));
    let command = format!(
        "curl '{demanding}' -H 'X-Token: tok-secret' -H 'Cookie: sid=cookie-secret' -u 'alice:s3cr3t-pw' --compressed"
    );
    let out = dlm_in(&["add", "--curl", &command], &state);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("dlm is not running") && err.contains("never saved"), "{err}");
    has_no_secret("the refusal", &err);
    assert!(StateStore::at(&state).load().unwrap().queue.items.is_empty());

    let mut s = running(&state, &dl, "[[rule]]\nheaders = { X-Rule = \"r\" }\n");
    // The command's secrets travel over the control socket: only its owner may connect.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.join("dlm.sock")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is owner-only");
    let out = dlm_in_async(&["add", "--curl", &command], &state).await;
    ok(&out);
    has_no_secret("dlm add's output", &format!("{}{}", text(&out.stdout), text(&out.stderr)));
    let item = added(&mut s, "/private.bin?").await;
    assert_file(&ended(&mut s, item.id).await.unwrap(), &content("private.bin", 4000));
    let asked = &server.requests_for("/f/private.bin")[0];
    let header = |name: &str| asked.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(header("x-token").as_deref(), Some("tok-secret"));
    assert_eq!(header("x-rule").as_deref(), Some("r"), "a matched rule's headers go along");
    assert_eq!(item.rule.as_deref(), Some("rule 1"));

    // `--curl -` reads the command from standard input; `-k` is said to be ignored.
    let mut cmd = support::process::dlm_command();
    cmd.args(["add", "--curl", "-"])
        .current_dir(&state)
        .env("DLM_STATE_DIR", &state)
        .env_remove("DLM_RUNTIME_DIR")
        .env("DLM_CONFIG", state.join("no-config.toml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let stdin_command = command.replace("private.bin", "second.bin") + " -k";
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin_command.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    ok(&out);
    assert!(text(&out.stderr).contains("-k (--insecure) was ignored"), "{}", text(&out.stderr));
    let second = added(&mut s, "/second.bin?").await;
    assert!(ended(&mut s, second.id).await.is_ok(), "the stdin command's headers went too");

    // No secret in `dlm ls --json`, the events or the saved queue.
    let out = dlm_in_async(&["ls", "--json"], &state).await;
    assert!(text(&out.stdout).contains("private.bin"), "{}", text(&out.stdout));
    has_no_secret("ls --json", &text(&out.stdout));
    has_no_secret("the session's events", &format!("{:?}", s.seen));
    s.close().await.saved.unwrap();
    has_no_secret("the saved queue", &saved_text(&state));

    // A command dlm cannot repeat is refused with words, naming no value.
    let out = dlm_in(&["add", "--curl", "curl -d 'pw=tok-secret' http://h/x"], &state);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("request body"), "{}", text(&out.stderr));
    has_no_secret("the refusal", &text(&out.stderr));
}

#[test]
fn a_rule_checksum_file_that_is_empty_or_a_bad_url_is_a_config_error_with_its_place() {
    let err = |text: &str| Config::parse(text, Path::new("dlm.toml")).unwrap_err().to_string();
    let empty = err("[[rule]]\nhost = \"h\"\nchecksum_file = \"\"\n");
    assert!(empty.contains("dlm.toml:3:") && empty.contains("checksum file"), "{empty}");
    let bad = err("[[rule]]\nchecksum_file = \"http://\"\n");
    assert!(bad.contains("dlm.toml:2:"), "{bad}");
    let rules = rules("[[rule]]\nchecksum_file = \"~/SUMS\"\n");
    assert!(!rules.0[0].checksum_file.as_deref().unwrap().starts_with('~'), "~/ is expanded");
}
