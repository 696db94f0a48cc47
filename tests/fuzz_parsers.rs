//! Property tests (proptest) over everything that parses text a server or a person controls:
//! file names from Content-Disposition and URLs, the URL check, `Retry-After` and
//! `Content-Range`. Nothing may panic, and a sanitised name is always one safe path component.
//! The default case count keeps `cargo test` quick; `fuzz_for_minutes` (ignored) runs many more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Component, Path};
use std::time::{Duration, SystemTime};

use dlm::engine::naming::{MAX_NAME_BYTES, choose_name, filename_from_content_disposition, sanitize};
use dlm::engine::{parse_content_range, parse_download_url, parse_retry_after, redact_str};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Text biased towards what breaks name handling: separators, dots, quotes, escapes, control
/// characters, reserved names and multi-byte characters, plus arbitrary Unicode.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("\"".to_string()),
        Just(";".to_string()),
        Just("=".to_string()),
        Just("'".to_string()),
        Just("%".to_string()),
        Just("%2F".to_string()),
        Just("%00".to_string()),
        Just("%zz".to_string()),
        Just("\0".to_string()),
        Just("\r\n".to_string()),
        Just("\u{7f}".to_string()),
        Just("\u{85}".to_string()),
        Just(" ".to_string()),
        Just("CON".to_string()),
        Just("nul.txt".to_string()),
        Just("filename=".to_string()),
        Just("filename*=UTF-8''".to_string()),
        Just("attachment; ".to_string()),
        Just("é".to_string()),
        Just("😀".to_string()),
        Just(".tar.gz".to_string()),
        "[a-z]{1,8}".prop_map(|s| s),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Long names too: the length cap must hold on a character boundary.
fn any_name_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => hostile_text(),
        1 => (hostile_text(), 150usize..600, hostile_text())
            .prop_map(|(a, n, b)| format!("{a}{}{b}", "é".repeat(n))),
        1 => any::<String>(),
    ]
}

/// What every name dlm writes must be: one normal path component, nothing a shell or another
/// program could take for a folder, a hidden file or a device.
fn assert_safe_name(name: &str, from: &str) {
    assert!(!name.is_empty(), "empty name from {from:?}");
    assert!(name.len() <= MAX_NAME_BYTES, "{} bytes from {from:?}", name.len());
    assert!(name != "." && name != "..", "{name:?} from {from:?}");
    assert!(!name.starts_with('.'), "hidden name {name:?} from {from:?}");
    assert!(
        !name.chars().any(|c| c == '/' || c == '\\' || c == '\0' || c.is_control()),
        "{name:?} from {from:?}"
    );
    let components: Vec<_> = Path::new(name).components().collect();
    assert!(
        matches!(components.as_slice(), [Component::Normal(_)]),
        "{name:?} is not a single component (from {from:?})"
    );
}

fn check_sanitize(raw: &str) {
    if let Some(name) = sanitize(raw) {
        assert_safe_name(&name, raw);
        // Sanitising is idempotent: a safe name stays as it is.
        assert_eq!(sanitize(&name).as_deref(), Some(name.as_str()), "from {raw:?}");
    }
}

fn check_content_disposition(value: &str) {
    check_content_disposition_bytes(value.as_bytes());
}

/// Any bytes a server may put in the header (hyper passes every byte but control characters).
fn check_content_disposition_bytes(raw: &[u8]) {
    let _ = filename_from_content_disposition(raw);
    let base = url::Url::parse("http://example.com/dir/file.bin").unwrap();
    assert_safe_name(&choose_name(Some(raw), &base, None), &String::from_utf8_lossy(raw));
}

fn check_url_path(segment: &str) {
    // Whatever the path, the chosen name is safe; the URL itself may fail to parse.
    let text = format!("http://example.com/{segment}");
    if let Ok(url) = url::Url::parse(&text) {
        assert_safe_name(&choose_name(None, &url, Some("text/html")), &text);
    }
}

fn check_download_url(text: &str) {
    match parse_download_url(text) {
        Ok(url) => {
            assert!(matches!(url.scheme(), "http" | "https"), "{text:?} gave {url}");
            assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{text:?} gave {url}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
        }
    }
    // Redaction never panics.
    let _ = redact_str(text);
}

fn check_redaction(tail: &str) {
    let password = &format!("S3cr{tail}");
    let shown = redact_str(&format!("http://user:{password}@example.com/f"));
    assert!(!shown.contains(password), "{shown}");
    let shown = redact_str(&format!("http://user:{password}@exa mple/"));
    assert!(!shown.contains(password), "{shown}");
}

fn check_retry_after(value: &str) {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let _ = parse_retry_after(value, now);
}

fn check_content_range(value: &str) {
    if let Some((start, end, len)) = parse_content_range(value) {
        assert!(start <= end && end < len, "{value:?} gave {start}-{end}/{len}");
    }
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn sanitize_gives_one_safe_component(raw in any_name_text()) {
        check_sanitize(&raw);
    }

    #[test]
    fn content_disposition_never_escapes(
        kind in prop_oneof![Just("attachment"), Just("inline"), Just("")],
        plain in any_name_text(),
        ext in any_name_text(),
        quoted in any::<bool>(),
    ) {
        let plain = if quoted { format!("\"{plain}\"") } else { plain };
        check_content_disposition(&format!("{kind}; filename={plain}; filename*=UTF-8''{ext}"));
        check_content_disposition(&format!("{kind}; filename*={ext}"));
        check_content_disposition(&plain);
    }

    #[test]
    fn content_disposition_bytes_never_escape(
        head in prop_oneof![Just(&b"attachment; filename="[..]), Just(&b"attachment; filename=\""[..]), Just(&b""[..])],
        raw in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        check_content_disposition_bytes(&[head, &raw].concat());
    }

    #[test]
    fn names_from_url_paths_are_safe(segment in any_name_text()) {
        check_url_path(&segment);
        check_url_path(&percent_encoding::utf8_percent_encode(&segment, percent_encoding::NON_ALPHANUMERIC).to_string());
    }

    #[test]
    fn url_check_never_panics(text in prop_oneof![
        any::<String>(),
        "(http|https|ftp|file|javascript|HTTP)://[a-zA-Z0-9.:@/%?#\\[\\]-]{0,40}",
        hostile_text().prop_map(|t| format!("http://{t}")),
    ]) {
        check_download_url(&text);
    }

    #[test]
    fn credentials_are_never_shown(password in "[A-Za-z0-9_~!$&()*+,;=-]{6,20}") {
        check_redaction(&password);
    }

    #[test]
    fn retry_after_never_panics(value in prop_oneof![
        any::<String>(),
        "[0-9]{0,30}",
        "[A-Za-z]{3}, [0-9]{1,3} [A-Za-z]{3} -?[0-9]{1,6} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3} GMT",
    ]) {
        check_retry_after(&value);
    }

    #[test]
    fn content_range_is_consistent(value in prop_oneof![
        any::<String>(),
        "bytes [0-9]{0,22}-[0-9]{0,22}/[0-9*]{0,22}",
        " ?bytes ?[0-9 ]{0,6}-[0-9 ]{0,6}/[0-9 ]{0,6}",
    ]) {
        check_content_range(&value);
    }
}

/// The long run for the report: `DLM_FUZZ_SECS=300 cargo test --test fuzz_parsers
/// -- --ignored --nocapture`. Runs every property in turn, in batches, until the time is up,
/// and prints how many cases ran.
#[test]
#[ignore = "long fuzz run; set DLM_FUZZ_SECS"]
fn fuzz_for_minutes() {
    let secs: u64 = std::env::var("DLM_FUZZ_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let batch = 5_000;
    let config = Config { cases: batch, failure_persistence: None, ..Config::default() };
    // A fresh runner (and random seed) per batch: a runner that has finished its cases runs
    // no more.
    let runner = || TestRunner::new(config.clone());
    // Counted in the properties themselves: what actually ran, not what was asked for.
    let total = std::sync::atomic::AtomicU64::new(0);
    let count = || total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let started = std::time::Instant::now();
    while std::time::Instant::now() < deadline {
        runner()
            .run(&any_name_text(), |s| {
                count();
                check_sanitize(&s);
                check_content_disposition(&s);
                check_content_disposition(&format!("attachment; filename*=UTF-8''{s}"));
                check_url_path(&s);
                Ok(())
            })
            .unwrap();
        runner()
            .run(&any::<String>(), |s| {
                count();
                check_download_url(&s);
                check_retry_after(&s);
                check_content_range(&s);
                Ok(())
            })
            .unwrap();
        runner()
            .run(&"bytes [0-9]{0,22}-[0-9]{0,22}/[0-9*]{0,22}", |s| {
                count();
                check_content_range(&s);
                Ok(())
            })
            .unwrap();
    }
    eprintln!("fuzz: {} cases in {:.0?}", total.into_inner(), started.elapsed());
}
