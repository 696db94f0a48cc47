#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The config example and fixture files: `config.example.toml` is exactly the defaults, every
//! file under `tests/configs/valid/` parses, and every file under `tests/configs/invalid/` fails
//! with the expected kind of message at the expected line and column.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dlm::config::{Config, ConfigError};
use dlm::engine::ConflictPolicy;
use dlm::notify::{NotifyMode, NotifyOn};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs").join(kind);
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn example_file_is_exactly_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    assert_eq!(Config::read(&path).unwrap(), Config::default());
}

#[test]
fn example_file_documents_every_option() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    // The unknown-key error lists every valid key; each must appear in the example.
    let ConfigError::Invalid { message, .. } =
        Config::parse("zzz_not_a_key = 1", Path::new("x")).unwrap_err()
    else {
        panic!("expected a parse error")
    };
    let keys = message.split_once("valid keys are ").unwrap().1;
    for key in keys.split(", ") {
        assert!(
            text.contains(&format!("\n{key} ="))
                || text.contains(&format!("\n# {key} ="))
                || text.contains(&format!("[{key}]")),
            "config.example.toml does not document `{key}`"
        );
    }
}

#[test]
fn every_valid_fixture_parses() {
    for path in fixtures("valid") {
        Config::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn full_fixture_sets_every_option() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/valid/full.toml");
    let c = Config::read(&path).unwrap();
    let o = c.engine_options();
    assert_eq!(o.download_dir, PathBuf::from("/srv/downloads"));
    assert_eq!((o.workers, o.connections, o.max_connections_per_host, o.retries), (8, 4, 4, 2));
    assert_eq!(o.retry_base_delay, Duration::from_secs(1));
    assert_eq!(o.retry_max_delay, Duration::from_secs(60));
    assert_eq!(o.connect_timeout, Duration::from_secs(5));
    assert_eq!(o.read_timeout, Duration::from_secs(90));
    assert_eq!((o.rate_limit, o.item_rate_limit), (Some(2 << 20), Some(512 << 10)));
    assert_eq!(o.user_agent, "Mozilla/5.0 (compatible; dlm)");
    assert_eq!(o.proxy.as_deref(), Some("socks5h://127.0.0.1:9050"));
    assert!(o.insecure && o.continue_existing && c.save_credentials);
    assert_eq!(o.ca_files, vec![PathBuf::from("/etc/ssl/extra.pem")]);
    assert_eq!(o.on_conflict, ConflictPolicy::Overwrite);
    assert_eq!(o.headers.len(), 2);
    assert_eq!(c.keys.get("pause").map(String::as_str), Some("x F5"));
    let refresh = o.refresh_command.as_deref().map(|p| p.argv().to_vec());
    assert_eq!(refresh, Some(vec!["/usr/local/bin/fresh-link".into(), "--bucket".into(), "media".into()]));
    assert_eq!(o.refresh_timeout, Duration::from_secs(10));
    let hooks = c.hook_config();
    assert_eq!(hooks.on_complete.as_ref().map(|p| p.name()), Some("notify-send"));
    assert_eq!(hooks.on_error.as_ref().map(|p| p.argv().len()), Some(3));
    assert_eq!(
        hooks.on_queue_done.as_ref().map(|p| p.argv()[2].as_str()),
        Some("echo \"$DLM_DONE done\" >> ~/dlm.log")
    );
    assert_eq!(hooks.timeout, Duration::from_secs(120));
    assert_eq!((c.notify, c.notify_on), (NotifyMode::Always, NotifyOn::Each));
}

/// File name → (line, column, text the message must contain).
const INVALID: &[(&str, usize, usize, &str)] = &[
    ("argv_blank_program.toml", 2, 19, "`refresh_command`: the program name (first element) is empty"),
    ("argv_empty.toml", 1, 15, "`on_complete`: expected [\"program\", \"arg\", …], found an empty list"),
    (
        "argv_shell_string.toml",
        1,
        12,
        "`on_error`: invalid type: string \"notify-send failed\", expected a list [\"program\", \"arg\", …] (it is run without a shell)",
    ),
    ("bad_conflict.toml", 1, 15, "unknown variant `ask`, expected one of `rename`, `skip`, `overwrite`"),
    ("bad_duration.toml", 1, 16, "`read_timeout`: invalid duration \"soon\""),
    ("bad_keys_action.toml", 4, 9, "[keys] pasue: `pasue` is not an action; did you mean `pause`?"),
    ("bad_keys_spec.toml", 2, 9, "[keys] pause: unknown key \"spcae\"; did you mean `space`?"),
    ("bad_notify.toml", 1, 10, "unknown variant `sometimes`, expected one of `auto`, `off`, `always`"),
    ("bad_proxy.toml", 1, 9, "`proxy`: expected a proxy URL starting with http://"),
    ("bad_rate.toml", 1, 14, "`rate_limit`: invalid size \"fast\""),
    ("bad_rule_host.toml", 2, 8, "`host`: `:` cannot be in a host pattern"),
    ("bad_schedule_time.toml", 5, 8, "`from`: expected a time of day such as \"09:00\""),
    ("binary_garbage.toml", 2, 1, "not a text file: invalid UTF-8"),
    ("control_chars.toml", 1, 1, "not a text file: it contains control characters"),
    (
        "decimal_rate.toml",
        1,
        14,
        "`rate_limit`: size unit \"MB\" in \"2 MB\" is ambiguous (10^3 or 2^10?): dlm reads K, M or G",
    ),
    ("duplicate_key.toml", 2, 1, "`retries`: duplicate key"),
    ("empty_schedule.toml", 1, 1, "this schedule sets nothing: give it rate_limit, workers or pause_all"),
    ("out_of_range.toml", 1, 11, "`workers`: expected a number of downloads from 1 to 64, found 100"),
    ("truncated_string.toml", 2, 18, "invalid basic string"),
    ("truncated_table.toml", 2, 9, "unclosed table, expected `]`"),
    ("truncated_value.toml", 1, 11, "`workers`:"),
    ("unknown_key.toml", 2, 1, "unknown key `conections`; did you mean `connections`?"),
    ("unknown_rule_key.toml", 3, 1, "unknown key `dri`; did you mean `dir`?"),
    ("unknown_table.toml", 1, 2, "unknown key `header`; did you mean `headers`?"),
    ("wrong_type_bool.toml", 1, 12, "`insecure`: invalid type: string \"yes\", expected a boolean"),
    (
        "wrong_type_list.toml",
        1,
        12,
        "`ca_files`: invalid type: string \"/etc/ssl/extra.pem\", expected a sequence",
    ),
    (
        "wrong_type_workers.toml",
        2,
        11,
        "`workers`: invalid type: string \"eight\", expected a number of downloads from 1 to 64",
    ),
];

#[test]
fn every_invalid_fixture_fails_with_its_message() {
    let files = fixtures("invalid");
    let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_string()).collect();
    let listed: Vec<_> = INVALID.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(names, listed, "every invalid fixture needs an expectation, and every expectation a file");
    let mut failures = Vec::new();
    for ((name, line, column, text), path) in INVALID.iter().zip(&files) {
        let err = Config::read(path).expect_err(name);
        let shown = err.to_string();
        let prefix = format!("config file {}:{line}:{column}: ", path.display());
        if !shown.starts_with(&prefix) || !shown.contains(text) {
            failures.push(format!("{name}: want {prefix}…{text}…\n  got {shown}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rules_and_schedules_fixture_sets_every_key() {
    use dlm::config::NetrcChoice;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/valid/rules_and_schedules.toml");
    let c = Config::read(&path).unwrap();
    assert_eq!(
        (c.cookies_file.as_deref(), &c.netrc),
        (Some(Path::new("/home/u/cookies.txt")), &Some(NetrcChoice::Off))
    );
    let [first, second] = &c.rules.0[..] else { panic!("two rules: {:?}", c.rules) };
    assert_eq!(
        (first.host.len(), first.path.len(), first.ext.as_slice()),
        (2, 1, &["iso".to_string(), "tar.gz".into()][..])
    );
    assert_eq!(
        (first.connections, first.max_connections_per_host, first.rate_limit),
        (Some(8), Some(4), Some(Some(2 << 20)))
    );
    assert_eq!(first.netrc, Some(NetrcChoice::File("/home/u/example.netrc".into())));
    assert_eq!((first.proxy.as_deref(), first.headers.len()), (Some("http://127.0.0.1:3128"), 1));
    assert_eq!(
        (second.dir.as_deref(), second.ext.as_slice()),
        (Some(Path::new("images")), &["img".to_string()][..])
    );
    let url = url::Url::parse("https://cdn1.example.net/files/a/b.tar.gz").unwrap();
    assert_eq!(c.rules.matching(&url, None).map(|m| m.label()).as_deref(), Some("example"));
    let s = &c.schedule.0;
    assert_eq!(s.len(), 3);
    assert_eq!(
        (s[0].name.as_deref(), s[0].rate_limit, s[1].workers, s[2].pause_all),
        (Some("office"), Some(Some(512 << 10)), Some(8), true)
    );
}

#[test]
fn missing_file_is_a_read_error_naming_it() {
    let err = Config::read(Path::new("/nonexistent/dlm.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().starts_with("cannot read config file /nonexistent/dlm.toml: "), "{err}");
}
