//! Property tests (proptest) over the parsers of files and text that hold secrets: `.netrc`,
//! `cookies.txt`, header files and pasted curl commands, plus the rule globs and schedule
//! times. Nothing may panic, and no error message may carry the secret the input held (a
//! password, a cookie value, a header value).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use dlm::config::glob::{HostGlob, PathGlob};
use dlm::config::schedule::{Clock, Days};
use dlm::engine::{CookieJar, Netrc};
use proptest::prelude::*;

const SECRET: &str = "S3CRET";

/// Pieces that break tokenisers: quotes, escapes, comments, line ends, keywords.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("machine".to_string()),
        Just("default".to_string()),
        Just("login".to_string()),
        Just("password".to_string()),
        Just("account".to_string()),
        Just("macdef".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("#".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just("\r\n".to_string()),
        Just("é".to_string()),
        Just("😀".to_string()),
        "[a-z0-9.]{1,8}".prop_map(|s| s),
        any::<char>().prop_map(String::from),
    ]
}

fn text_with(secret_chance: u32) -> impl Strategy<Value = String> {
    let part = prop_oneof![secret_chance => Just(SECRET.to_string()), 10 => piece()];
    prop::collection::vec(part, 0..40).prop_map(|v| v.concat())
}

/// A cookie field: no tab or line end, so it stays the field it was put in.
fn field() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..4)
        .prop_map(|v| v.concat().replace(['\t', '\n', '\r'], ""))
        .prop_filter("no secret outside the value", |f| !f.contains(SECRET))
}

/// A curl option with a secret in its value, or a harmless one.
fn curl_part() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("-H 'X-Token: {SECRET}'")),
        Just(format!("-H '{SECRET}'")),
        Just(format!("-H 'Bad Name: {SECRET}'")),
        Just(format!("-b 'sid={SECRET}'")),
        Just(format!("-b {SECRET}")),
        Just(format!("-u 'bob:{SECRET}'")),
        Just(format!("--data-raw 'p={SECRET}'")),
        Just(format!("-d{SECRET}")),
        Just(format!("-H$'X: {SECRET}\\x'")),
        Just(format!("--cookie=a={SECRET}")),
        Just("--compressed".to_string()),
        Just("-sSL".to_string()),
        Just("-X GET".to_string()),
        Just("-X POST".to_string()),
        Just("'https://h.example/f?a=1'".to_string()),
        Just("--zzz".to_string()),
        Just("\\\n".to_string()),
        Just("^".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        piece(),
    ]
}

proptest! {
    #[test]
    fn netrc_errors_never_show_a_token(text in text_with(2)) {
        if let Err(e) = Netrc::parse(&text, Path::new("n")) {
            let shown = e.to_string();
            prop_assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn cookie_errors_never_show_a_value(
        fields in prop::collection::vec(field(), 6),
        value in text_with(3).prop_map(|v| format!("{}{SECRET}", v.replace(['\n', '\r'], ""))),
        before in text_with(0),
    ) {
        let text = format!("{before}\n{}\t{value}\n", fields.join("\t"));
        if let Err(e) = CookieJar::parse(&text, Path::new("c")) {
            let shown = e.to_string();
            prop_assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn header_file_errors_never_show_a_value(text in text_with(2)) {
        if let Err(e) = dlm::headers::parse_file(&text, Path::new("h")) {
            let shown = e.to_string();
            prop_assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn curl_errors_and_debug_never_show_a_secret(parts in prop::collection::vec(curl_part(), 0..8)) {
        let text = format!("curl {}", parts.join(" "));
        match dlm::curl::parse(&text) {
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(!shown.contains(SECRET), "{text}\n{shown}");
            }
            Ok(request) => {
                let shown = format!("{request:?}");
                prop_assert!(!shown.contains(SECRET), "{text}\n{shown}");
            }
        }
    }

    #[test]
    fn curl_never_panics_on_any_text(text in prop_oneof![text_with(1), any::<String>()]) {
        let _ = dlm::curl::parse(&text);
        let _ = dlm::curl::parse(&format!("curl {text}"));
    }

    #[test]
    fn globs_and_times_never_panic(pattern in text_with(0), subject in text_with(0)) {
        if let Ok(g) = HostGlob::new(&pattern) {
            let _ = g.matches(&subject);
        }
        if let Ok(g) = PathGlob::new(&pattern) {
            let _ = g.matches(&subject);
        }
        let _ = (Clock::parse(&pattern, true), Days::parse(&pattern));
    }
}
