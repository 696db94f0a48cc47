#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dlm get` with a config file: values from the file are used, flags override them, and a
//! broken file stops dlm with exit status 2 and a message naming the file, line and column.
//! Runs the real binary against a small HTTP server on 127.0.0.1:0.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server saw: the most requests in flight at once, and every User-Agent.
#[derive(Default)]
struct Seen {
    active: AtomicUsize,
    max_active: AtomicUsize,
    agents: Mutex<Vec<String>>,
}

/// Serves `hello` for any path after a short delay, so concurrent requests overlap.
fn serve() -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let seen2 = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = Arc::clone(&seen2);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(ua) = line.to_ascii_lowercase().strip_prefix("user-agent:") {
                        seen.agents.lock().unwrap().push(ua.trim().to_string());
                    }
                    line.clear();
                }
                let now = seen.active.fetch_add(1, Ordering::SeqCst) + 1;
                seen.max_active.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(400));
                seen.active.fetch_sub(1, Ordering::SeqCst);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
            });
        }
    });
    (base, seen)
}

fn dlm(args: &[&str], config_env: Option<&Path>, home: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlm"));
    cmd.args(args).env("XDG_CONFIG_HOME", home.join("xdg")).env("HOME", home).env_remove("DLM_CONFIG");
    if let Some(path) = config_env {
        cmd.env("DLM_CONFIG", path);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn workers_from_the_config_file_and_the_flag_on_top() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, seen) = serve();
    let config = tmp.path().join("dlm.toml");
    std::fs::write(&config, "workers = 1\nuser_agent = \"from-config\"\n").unwrap();
    let out_dir = tmp.path().join("a");
    let urls: Vec<String> = (1..=3).map(|i| format!("{base}/f{i}")).collect();
    let mut args = vec!["get", "-q", "--config", config.to_str().unwrap(), "-o", out_dir.to_str().unwrap()];
    args.extend(urls.iter().map(String::as_str));
    let out = dlm(&args, None, tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(seen.max_active.load(Ordering::SeqCst), 1, "workers = 1 from the file");
    assert!(seen.agents.lock().unwrap().iter().all(|a| a == "from-config"));
    assert_eq!(std::fs::read(out_dir.join("f3")).unwrap(), b"hello");

    // The same file through $DLM_CONFIG, with flags overriding it.
    let (base, seen) = serve();
    let out_dir = tmp.path().join("b");
    let urls: Vec<String> = (1..=3).map(|i| format!("{base}/f{i}")).collect();
    let mut args = vec!["get", "-q", "-j", "3", "--user-agent", "from-flag", "-o", out_dir.to_str().unwrap()];
    args.extend(urls.iter().map(String::as_str));
    let out = dlm(&args, Some(&config), tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(seen.max_active.load(Ordering::SeqCst) >= 2, "-j 3 overrides workers = 1");
    assert!(seen.agents.lock().unwrap().iter().all(|a| a == "from-flag"));
}

#[test]
fn platform_config_file_is_found_and_download_dir_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, _seen) = serve();
    let dir = tmp.path().join("xdg/dlm");
    std::fs::create_dir_all(&dir).unwrap();
    let target = tmp.path().join("from-config");
    std::fs::write(dir.join("config.toml"), format!("download_dir = {:?}\n", target.to_str().unwrap()))
        .unwrap();
    let url = format!("{base}/file.bin");
    let out = dlm(&["get", "-q", &url], None, tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(target.join("file.bin")).unwrap(), b"hello");
}

#[test]
fn broken_config_is_a_clear_error_with_exit_status_2() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bad.toml");
    std::fs::write(&config, "workers = 4\nwrokers = 2\n").unwrap();
    let out = dlm(&["get", "--config", config.to_str().unwrap(), "http://127.0.0.1:1/x"], None, tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "config file {}:2:1: unknown key `wrokers`; did you mean `workers`?",
            config.display()
        )),
        "{err}"
    );

    // Through the environment, and the UI (no subcommand) refuses it too.
    std::fs::write(&config, "workers = \"lots\"\n").unwrap();
    let out = dlm(&[], Some(&config), tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(":1:11: `workers`: invalid type"), "{}", stderr(&out));

    // A named file that does not exist is an error, not silently the defaults.
    let missing = tmp.path().join("missing.toml");
    let out = dlm(&["get", "--config", missing.to_str().unwrap(), "http://127.0.0.1:1/x"], None, tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("cannot read config file {}", missing.display())),
        "{}",
        stderr(&out)
    );
}

/// Issue 9: `[keys]` mistakes passed silently for `dlm get` and `dlm ls` (only the UI looked at
/// them), and `rate_limit = "2 MB"` was taken as 2 MiB/s. Every command now refuses both with
/// the file, line and column.
#[test]
fn keys_and_decimal_rates_are_checked_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("dlm.toml");
    let state = tmp.path().join("state");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlm"));
        cmd.args(args).env("DLM_CONFIG", &config).env("DLM_STATE_DIR", &state).env_remove("DLM_RUNTIME_DIR");
        cmd.output().unwrap()
    };
    std::fs::write(&config, "workers = 2\n[keys]\npause = \"p spcae\"\n").unwrap();
    let want = format!(
        "config file {}:3:9: [keys] pause: unknown key \"spcae\"; did you mean `space`?",
        config.display()
    );
    for args in [&["get", "http://127.0.0.1:1/x"][..], &["ls"], &["add", "http://127.0.0.1:1/x"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(&want), "{args:?}: {}", stderr(&out));
    }
    std::fs::write(&config, "[keys]\npasue = \"x\"\n").unwrap();
    assert!(
        stderr(&run(&["ls"])).contains(":2:9: [keys] pasue: `pasue` is not an action; did you mean `pause`?")
    );
    std::fs::write(&config, "rate_limit = \"2 MB\"\n").unwrap();
    let err = stderr(&run(&["ls"]));
    assert!(err.contains(":1:14: `rate_limit`: size unit \"MB\" in \"2 MB\" is ambiguous"), "{err}");
    // The flag reads sizes the same way.
    std::fs::write(&config, "").unwrap();
    let out = run(&["get", "--limit-rate", "2MB", "http://127.0.0.1:1/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("write 2M for 2 MiB"), "{}", stderr(&out));
}
