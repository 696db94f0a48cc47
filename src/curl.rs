//! A browser's "Copy as cURL" read back: the URL, the headers and the cookies of one GET, so
//! a download that needs the browser's login can be added as one item (the TUI's add box,
//! `dlm add --curl`). Both the POSIX form and Chrome's `cmd` form are read (`curl::words`).
//! Options that only shape curl's own output are ignored; a command that sends a body or
//! another method is refused, since dlm could not repeat it. `add` makes it an add request. Pure; depends on `headers`,
//! the engine's `Credentials` and `url`.
//!
//! The command holds secrets (cookies, `Authorization`): `Debug` shows header names only, and
//! errors name options, never values.

mod add;
mod words;

pub use add::INSECURE_IGNORED;

use std::fmt;

use url::Url;

use crate::engine::{Credentials, redact_url};
use crate::headers::parse_line;

pub use words::WordsError;

/// What a pasted curl command asks for.
#[derive(Clone, PartialEq, Eq)]
pub struct CurlRequest {
    pub url: Url,
    /// Request headers in the order given, without `Cookie` (see `cookies`) and without those
    /// dlm sets itself (see `DROPPED`). `User-Agent` and `Referer` from `-A`/`-e` are here.
    pub headers: Vec<(String, String)>,
    /// Every cookie of `-b` and `Cookie:` headers as one `Cookie:` value (`a=1; b=2`), for
    /// `CookieJar::from_header` with `url`: they go to that host only.
    pub cookies: Option<String>,
    /// `-u user[:password]`: Basic credentials for `url`'s host only.
    pub user: Option<Credentials>,
    /// `-k`/`--insecure` was given; dlm does not turn off certificate checks for one item, so
    /// the front end should say it ignored it.
    pub insecure: bool,
}

impl fmt::Debug for CurlRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("CurlRequest")
            .field("url", &redact_url(&self.url))
            .field("headers", &names)
            .field("cookies", &self.cookies.as_ref().map(|_| "***"))
            .field("user", &self.user)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Why a pasted command was refused. Never holds a value from the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurlError {
    #[error("not a curl command: paste what the browser's \"Copy as cURL\" gives (it starts with `curl`)")]
    NotCurl,
    #[error(transparent)]
    Words(#[from] WordsError),
    #[error("the curl command has no URL")]
    NoUrl,
    #[error("the curl command has more than one URL: paste one command for one download")]
    SeveralUrls,
    #[error("the curl command's URL is not valid: {0}")]
    BadUrl(String),
    #[error("`{0}` needs a value")]
    MissingValue(String),
    #[error("unknown curl option `{0}`")]
    UnknownOption(String),
    #[error("the command sends a request body (`{0}`): dlm downloads with GET and cannot repeat it")]
    Body(String),
    #[error("the command uses the {0} method: dlm downloads with GET")]
    Method(String),
    #[error("`{option}`: {problem}")]
    Header { option: String, problem: String },
    #[error("`-b` names a cookies file; use --load-cookies FILE (or `cookies_file` in a rule) for that")]
    CookieFile,
}

/// Headers a pasted command may carry that dlm leaves out: it sets them itself, or they would
/// change what the server sends (a compressed body saved as is, a `304` for a cached copy),
/// or they are for a proxy, or they describe a body.
pub const DROPPED: &[&str] = &[
    "accept-encoding",
    "range",
    "if-range",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "host",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
    "transfer-encoding",
    "expect",
    "content-length",
    "content-type",
    "proxy-authorization",
    "proxy-connection",
];

/// What an option does here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Header,
    Cookie,
    UserAgent,
    Referer,
    User,
    Request,
    Url,
    Insecure,
    /// Changes only how curl works or prints: ignored.
    Flag,
    /// Takes a value that changes only how curl works (`-o`, timeouts): ignored.
    Skip,
    /// Sends a body: refused.
    Body,
    /// `-I`: asks for headers only, refused like another method.
    Head,
}

/// Long names, and the short letter where curl has one.
const OPTIONS: &[(&str, Option<char>, Kind)] = &[
    ("header", Some('H'), Kind::Header),
    ("cookie", Some('b'), Kind::Cookie),
    ("user-agent", Some('A'), Kind::UserAgent),
    ("referer", Some('e'), Kind::Referer),
    ("user", Some('u'), Kind::User),
    ("request", Some('X'), Kind::Request),
    ("url", None, Kind::Url),
    ("insecure", Some('k'), Kind::Insecure),
    ("compressed", None, Kind::Flag),
    ("location", Some('L'), Kind::Flag),
    ("location-trusted", None, Kind::Flag),
    ("silent", Some('s'), Kind::Flag),
    ("show-error", Some('S'), Kind::Flag),
    ("include", Some('i'), Kind::Flag),
    ("verbose", Some('v'), Kind::Flag),
    ("globoff", Some('g'), Kind::Flag),
    ("get", Some('G'), Kind::Flag),
    ("path-as-is", None, Kind::Flag),
    ("fail", Some('f'), Kind::Flag),
    ("remote-name", Some('O'), Kind::Flag),
    ("remote-header-name", Some('J'), Kind::Flag),
    ("progress-bar", Some('#'), Kind::Flag),
    ("no-buffer", Some('N'), Kind::Flag),
    ("ipv4", Some('4'), Kind::Flag),
    ("ipv6", Some('6'), Kind::Flag),
    ("http1.0", Some('0'), Kind::Flag),
    ("http1.1", None, Kind::Flag),
    ("http2", None, Kind::Flag),
    ("http2-prior-knowledge", None, Kind::Flag),
    ("http3", None, Kind::Flag),
    ("output", Some('o'), Kind::Skip),
    ("max-time", Some('m'), Kind::Skip),
    ("connect-timeout", None, Kind::Skip),
    ("retry", None, Kind::Skip),
    ("max-redirs", None, Kind::Skip),
    ("data", Some('d'), Kind::Body),
    ("data-raw", None, Kind::Body),
    ("data-binary", None, Kind::Body),
    ("data-ascii", None, Kind::Body),
    ("data-urlencode", None, Kind::Body),
    ("json", None, Kind::Body),
    ("form", Some('F'), Kind::Body),
    ("form-string", None, Kind::Body),
    ("upload-file", Some('T'), Kind::Body),
    ("head", Some('I'), Kind::Head),
];

impl Kind {
    fn takes_value(self) -> bool {
        !matches!(self, Kind::Flag | Kind::Insecure | Kind::Head)
    }
}

/// Whether pasted text is meant as a curl command rather than URLs: its first word is `curl`
/// (or `curl.exe`, perhaps with a path, perhaps quoted for `cmd`).
pub fn looks_like_curl(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default().trim_matches(['"', '\'', '^']);
    let program = first.rsplit(['/', '\\']).next().unwrap_or_default().to_ascii_lowercase();
    program == "curl" || program == "curl.exe"
}

impl CurlRequest {
    /// What the command brings besides its URL, by count and never by value, for a preview:
    /// `headers: 2, cookies: 1, login`.
    pub fn summary(&self) -> String {
        let cookies = self.cookies.as_deref().map_or(0, |c| c.split(';').filter(|p| p.contains('=')).count());
        let mut text = format!("headers: {}, cookies: {cookies}", self.headers.len());
        if self.user.is_some() {
            text.push_str(", login");
        }
        text
    }
}

/// Reads one pasted curl command.
pub fn parse(text: &str) -> Result<CurlRequest, CurlError> {
    let words = if words::is_cmd(text) { words::cmd(text) } else { words::posix(text)? };
    let mut words = words.into_iter();
    let program = words.next().ok_or(CurlError::NotCurl)?;
    let program = program.rsplit(['/', '\\']).next().unwrap_or_default().to_ascii_lowercase();
    if program != "curl" && program != "curl.exe" {
        return Err(CurlError::NotCurl);
    }

    let mut built = Builder::default();
    let mut options_end = false;
    while let Some(word) = words.next() {
        if options_end || !word.starts_with('-') || word == "-" {
            built.url(word)?;
        } else if word == "--" {
            options_end = true;
        } else if let Some(long) = word.strip_prefix("--") {
            // Named up to any `=`: curl has no `--name=value` form, so what follows is a value.
            let name = word.split('=').next().unwrap_or_default();
            let kind = long_option(long).ok_or_else(|| CurlError::UnknownOption(name.to_string()))?;
            let value = if kind.takes_value() {
                Some(words.next().ok_or_else(|| CurlError::MissingValue(word.clone()))?)
            } else {
                None
            };
            built.apply(kind, &word, value)?;
        } else {
            // A cluster of short options (`-sSL`); the first that takes a value takes the rest
            // of the word, or the next word (`-H'X: y'`, `-o file`).
            let letters: Vec<char> = word.chars().skip(1).collect();
            for (i, letter) in letters.iter().enumerate() {
                let name = format!("-{letter}");
                let kind = short_option(*letter).ok_or_else(|| CurlError::UnknownOption(name.clone()))?;
                if kind.takes_value() {
                    let rest: String = letters[i + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        words.next().ok_or_else(|| CurlError::MissingValue(name.clone()))?
                    } else {
                        rest
                    };
                    built.apply(kind, &name, Some(value))?;
                    break;
                }
                built.apply(kind, &name, None)?;
            }
        }
    }
    built.finish()
}

fn long_option(name: &str) -> Option<Kind> {
    let found = |n: &str| OPTIONS.iter().find(|(long, ..)| *long == n).map(|(.., kind)| *kind);
    // `--no-compressed` and friends turn a flag off: still nothing to do.
    found(name).or_else(|| name.strip_prefix("no-").and_then(found).filter(|k| *k == Kind::Flag))
}

fn short_option(letter: char) -> Option<Kind> {
    OPTIONS.iter().find(|(_, short, _)| *short == Some(letter)).map(|(.., kind)| *kind)
}

#[derive(Default)]
struct Builder {
    url: Option<String>,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    user: Option<Credentials>,
    insecure: bool,
}

impl Builder {
    fn url(&mut self, url: String) -> Result<(), CurlError> {
        if self.url.is_some() {
            return Err(CurlError::SeveralUrls);
        }
        self.url = Some(url);
        Ok(())
    }

    fn apply(&mut self, kind: Kind, option: &str, value: Option<String>) -> Result<(), CurlError> {
        let value = value.unwrap_or_default();
        match kind {
            Kind::Header => self.header(option, &value)?,
            Kind::Cookie if value.contains('=') => self.cookies.push(value),
            Kind::Cookie => return Err(CurlError::CookieFile),
            Kind::UserAgent => self.headers.push(("User-Agent".into(), value)),
            // curl's `;auto` suffix asks it to set the Referer on redirects; the URL is before.
            Kind::Referer => {
                let referer = value.strip_suffix(";auto").unwrap_or(&value);
                if !referer.is_empty() {
                    self.headers.push(("Referer".into(), referer.to_string()));
                }
            }
            Kind::User => {
                let (login, password) = match value.split_once(':') {
                    Some((l, p)) => (l.to_string(), Some(p.to_string())),
                    None => (value, None),
                };
                self.user = Some(Credentials { login, password });
            }
            Kind::Request if value.eq_ignore_ascii_case("GET") => {}
            Kind::Request => return Err(CurlError::Method(value.to_ascii_uppercase())),
            Kind::Url => self.url(value)?,
            Kind::Insecure => self.insecure = true,
            Kind::Flag | Kind::Skip => {}
            Kind::Body => return Err(CurlError::Body(option.to_string())),
            Kind::Head => return Err(CurlError::Method("HEAD".into())),
        }
        Ok(())
    }

    /// One `-H`: `Name: value`; `Name;` sends an empty header and `Name:` removes one, as in
    /// curl (there is nothing of curl's own to remove here, so it is dropped).
    fn header(&mut self, option: &str, text: &str) -> Result<(), CurlError> {
        let bad = |problem: String| CurlError::Header { option: option.to_string(), problem };
        let (name, value) = match text.trim_end().strip_suffix(';') {
            Some(name) if !name.contains(':') => (name.trim().to_string(), String::new()),
            _ => {
                let (name, value) = parse_line(text).map_err(bad)?;
                if value.is_empty() {
                    return Ok(());
                }
                (name, value)
            }
        };
        if name.is_empty() || name.starts_with(':') {
            return Ok(());
        }
        let lower = name.to_ascii_lowercase();
        if lower == "cookie" {
            self.cookies.push(value);
        } else if !DROPPED.contains(&lower.as_str()) {
            self.headers.push((name, value));
        }
        Ok(())
    }

    fn finish(self) -> Result<CurlRequest, CurlError> {
        let text = self.url.ok_or(CurlError::NoUrl)?;
        let url = Url::parse(&text).map_err(|e| CurlError::BadUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(CurlError::BadUrl("dlm downloads http:// and https:// URLs".into()));
        }
        let cookies: Vec<String> =
            self.cookies.iter().map(|c| c.trim().trim_end_matches(';').trim().to_string()).collect();
        let cookies = cookies.into_iter().filter(|c| !c.is_empty()).collect::<Vec<_>>().join("; ");
        Ok(CurlRequest {
            url,
            headers: self.headers,
            cookies: (!cookies.is_empty()).then_some(cookies),
            user: self.user,
            insecure: self.insecure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// Chrome's "Copy as cURL" (bash), trimmed.
    const CHROME: &str = r#"curl 'https://dl.example.com/files/big.iso?sig=abc' \
  -H 'accept: text/html,application/xhtml+xml' \
  -H 'accept-language: en-US,en;q=0.9' \
  -b 'session=s3cr3t; theme=dark' \
  -H 'referer: https://example.com/downloads' \
  -H $'sec-ch-ua: "Chromium";v="124", "Not\'A Brand";v="99"' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64)' \
  -H 'accept-encoding: gzip, deflate, br' \
  --compressed"#;

    /// Firefox's "Copy as cURL", trimmed.
    const FIREFOX: &str = "curl 'https://dl.example.com/f.zip' --compressed -H 'User-Agent: Mozilla/5.0' \
        -H 'Accept: */*' -H 'Cookie: a=1; b=2' -H 'Authorization: Bearer tok3n' -H 'Connection: keep-alive' \
        -H 'If-None-Match: \"x\"' -H 'Sec-Fetch-Mode: navigate'";

    #[test]
    fn chrome_bash_command() {
        let r = parse(CHROME).unwrap();
        assert_eq!(r.url.as_str(), "https://dl.example.com/files/big.iso?sig=abc");
        assert_eq!(
            r.headers,
            h(&[
                ("accept", "text/html,application/xhtml+xml"),
                ("accept-language", "en-US,en;q=0.9"),
                ("referer", "https://example.com/downloads"),
                ("sec-ch-ua", "\"Chromium\";v=\"124\", \"Not'A Brand\";v=\"99\""),
                ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
            ])
        );
        assert_eq!(r.cookies.as_deref(), Some("session=s3cr3t; theme=dark"));
        assert_eq!((r.user, r.insecure), (None, false));
    }

    #[test]
    fn firefox_command_cookie_header_and_dropped_headers() {
        let r = parse(FIREFOX).unwrap();
        assert_eq!(
            r.headers,
            h(&[
                ("User-Agent", "Mozilla/5.0"),
                ("Accept", "*/*"),
                ("Authorization", "Bearer tok3n"),
                ("Sec-Fetch-Mode", "navigate")
            ])
        );
        assert_eq!(r.cookies.as_deref(), Some("a=1; b=2"));
    }

    #[test]
    fn chrome_cmd_command() {
        let text = "curl ^\"https://dl.example.com/a?x=1^&y=2^\" ^\n  -H ^\"accept: */*^\" ^\n  -b ^\"k=v^\" ^\n  --compressed";
        let r = parse(text).unwrap();
        assert_eq!(r.url.as_str(), "https://dl.example.com/a?x=1&y=2");
        assert_eq!(r.headers, h(&[("accept", "*/*")]));
        assert_eq!(r.cookies.as_deref(), Some("k=v"));
    }

    #[test]
    fn short_clusters_attached_values_and_other_options() {
        let r = parse(
            "curl -sSLk -A agent -e 'https://r/;auto' -uuser:pw -H'X-A: 1' -XGET -o out --url https://h/p",
        )
        .unwrap();
        assert_eq!(r.url.as_str(), "https://h/p");
        assert_eq!(r.headers, h(&[("User-Agent", "agent"), ("Referer", "https://r/"), ("X-A", "1")]));
        assert_eq!(r.user, Some(Credentials { login: "user".into(), password: Some("pw".into()) }));
        assert!(r.insecure);
        let r = parse("/usr/bin/curl --no-compressed -H 'X-Empty;' -H 'X-Gone:' -- https://h/").unwrap();
        assert_eq!(r.headers, h(&[("X-Empty", "")]));
    }

    #[test]
    fn commands_dlm_cannot_repeat_are_refused_by_option_never_by_value() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert_eq!(
            err("curl https://h/ --data-raw 'password=hunter2'"),
            "the command sends a request body (`--data-raw`): dlm downloads with GET and cannot repeat it"
        );
        assert_eq!(
            err("curl -X POST https://h/"),
            "the command uses the POST method: dlm downloads with GET"
        );
        assert_eq!(err("curl -I https://h/"), "the command uses the HEAD method: dlm downloads with GET");
        assert_eq!(err("curl --frobnicate hunter2 https://h/"), "unknown curl option `--frobnicate`");
        assert_eq!(err("curl -Z https://h/"), "unknown curl option `-Z`");
        assert_eq!(err("curl --cookie=sid=hunter2 https://h/"), "unknown curl option `--cookie`");
        assert_eq!(err("wget https://h/"), parse("").unwrap_err().to_string());
        assert_eq!(err("curl -H"), "`-H` needs a value");
        assert_eq!(err("curl https://a/ https://b/"), CurlError::SeveralUrls.to_string());
        assert_eq!(err("curl -H 'Accept: x'"), "the curl command has no URL");
        assert!(err("curl ftp://h/f").contains("dlm downloads http:// and https:// URLs"));
        assert_eq!(err("curl -b cookies.txt https://h/"), CurlError::CookieFile.to_string());
        assert_eq!(err("curl 'https://h/ -H X:hunter2"), "a quote is not closed: paste the whole command");
        let m = err("curl -H 'Bearer hunter2' https://h/");
        assert_eq!(m, "`-H`: expected 'Name: value' (no colon)");
        for m in [m, err("curl https://h/ --data-raw 'password=hunter2'")] {
            assert!(!m.contains("hunter2"), "{m}");
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let shown = format!("{:?} {:?}", parse(CHROME).unwrap(), parse(FIREFOX).unwrap());
        for secret in ["s3cr3t", "tok3n", "Mozilla"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let shown = format!("{:?}", parse("curl -u bob:hunter2 https://h/").unwrap());
        assert!(shown.contains("bob") && !shown.contains("hunter2"), "{shown}");
    }
}
