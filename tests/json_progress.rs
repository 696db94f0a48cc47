//! `dlm get --json` as a script reads it: the real binary against the loopback test server,
//! every stdout line parsed as JSON, the documented events and fields checked, credentials
//! never printed, and the item fields the same as `dlm ls --json`'s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;
use support::TestServer;
use support::process::{dlm_command, run, stderr};

/// The fields of an item as `dlm ls --json` prints it (for an item with default limits and no
/// validator yet).
const ITEM_FIELDS: [&str; 8] = ["id", "url", "dir", "name", "state", "bytes", "total", "error"];

/// Every stdout line, each of which must be one JSON object with an `event`.
fn lines(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).unwrap();
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(value["event"].is_string(), "no event: {line}");
            value
        })
        .collect()
}

fn named<'a>(events: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> {
    events.iter().filter(move |e| e["event"] == name)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn has_item_fields(event: &Value) {
    for field in ITEM_FIELDS {
        assert!(event.get(field).is_some(), "no {field} in {event}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_json_prints_every_event_as_a_parsable_line_then_a_summary_and_no_credentials() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // `dXNlcjpodW50ZXIy` is `user:hunter2`: the server insists on the login in the URL.
    let with_login = server.url("/f/login.bin?size=1000&auth=dXNlcjpodW50ZXIy").replacen(
        "http://",
        "http://user:hunter2@",
        1,
    );
    let mut cmd = dlm_command();
    cmd.args(["get", "--json", "--retries", "2", "-o"]).arg(dir.path());
    cmd.arg(server.url("/f/slow.bin?size=2000000&throttle=2000000"));
    cmd.arg(&with_login);
    cmd.arg(server.url("/f/busy.bin?size=500&status=503&status_times=1&retry_after=0"));
    cmd.arg(server.url("/f/missing.bin?size=10&status=404"));
    cmd.arg("ftp://example.com/nope");
    let out = run(cmd).await;
    let err = stderr(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}\n{stdout}");
    assert!(!stdout.contains("hunter2") && !err.contains("hunter2"), "{stdout}\n{err}");
    let events = lines(&out.stdout);

    let one = |name: &str, file: &str| {
        named(&events, name)
            .find(|e| e["name"] == file || e["url"].as_str().is_some_and(|u| u.contains(file)))
            .unwrap_or_else(|| panic!("no {name} for {file}: {stdout}"))
            .clone()
    };
    // Every item is added, with the listing's fields.
    assert_eq!(named(&events, "added").count(), 4, "{stdout}");
    named(&events, "added").for_each(has_item_fields);
    let login = one("added", "login.bin");
    assert!(login["url"].as_str().unwrap().starts_with("http://***@127.0.0.1:"), "{login}");

    let started = one("started", "slow.bin");
    has_item_fields(&started);
    assert_eq!((&started["total"], &started["offset"]), (&Value::from(2_000_000), &Value::from(0)));

    let retrying = one("retrying", "busy.bin");
    assert_eq!(retrying["attempt"], 1, "{retrying}");
    assert!(retrying["delay"].is_f64() && retrying["reason"].as_str().unwrap().contains("503"), "{retrying}");

    for file in ["slow.bin", "login.bin", "busy.bin"] {
        let done = one("done", file);
        has_item_fields(&done);
        assert_eq!((&done["state"], &done["skipped"]), (&Value::from("done"), &Value::from(false)));
        let path = Path::new(done["path"].as_str().unwrap());
        assert_eq!(path, dir.path().join(file));
        assert_eq!(std::fs::metadata(path).unwrap().len(), done["bytes"].as_u64().unwrap());
    }

    let failed = one("failed", "missing.bin");
    has_item_fields(&failed);
    assert_eq!(failed["state"], "failed");
    assert_eq!(
        (&failed["error"]["kind"], &failed["error"]["status"]),
        (&Value::from("http"), &Value::from(404))
    );
    assert!(failed["error"]["message"].as_str().unwrap().contains("404"), "{failed}");
    assert!(err.contains("404"), "errors still go to stderr briefly: {err}");

    let rejected = named(&events, "rejected").next().unwrap();
    assert_eq!(rejected["origin"], "argument 5", "{rejected}");

    // Progress for the slow file, but at most about four lines a second per item.
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary", "{stdout}");
    let progress = named(&events, "progress").filter(|e| e["name"] == "slow.bin").count() as f64;
    let seconds = summary["seconds"].as_f64().unwrap();
    assert!(progress >= 1.0 && progress <= seconds * 4.0 + 2.0, "{progress} lines in {seconds} s");

    assert_eq!(
        (&summary["done"], &summary["failed"], &summary["exit_code"], &summary["interrupted"]),
        (&Value::from(3), &Value::from(2), &Value::from(1), &Value::from(false)),
        "{summary}"
    );
    assert!(summary["bytes"].as_u64().unwrap() >= 2_001_500, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_json_items_have_the_field_names_of_dlm_ls_json() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url("/f/same.bin?size=100");
    let folder = home.path().to_str().unwrap();
    let with_state = |args: &[&str]| {
        let mut cmd = dlm_command();
        cmd.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path().join(".config"));
        cmd.env("DLM_STATE_DIR", home.path().join("state")).env("DLM_RUNTIME_DIR", home.path().join("run"));
        cmd.args(args);
        cmd
    };
    let out = run(with_state(&["get", "--json", "-o", folder, &url])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let events = lines(&out.stdout);
    let added = events.iter().find(|e| e["event"] == "added").unwrap();

    // The same URL queued with no dlm running, then listed.
    let out = run(with_state(&["add", "-o", folder, &url])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(with_state(&["ls", "--json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut event_fields = keys(added);
    event_fields.remove("event");
    assert_eq!(event_fields, keys(&listed[0]));
    assert_eq!(event_fields, ITEM_FIELDS.iter().map(|f| f.to_string()).collect());
    // The values mean the same too.
    let pick = |v: &Value| {
        ["url", "dir", "state"].iter().map(|f| (f.to_string(), v[f].clone())).collect::<HashMap<_, _>>()
    };
    assert_eq!(pick(added), pick(&listed[0]));
}
