//! Cookies from a Netscape `cookies.txt` (as browsers' extensions, curl and yt-dlp export
//! them, `#HttpOnly_` lines included) and the jar that answers "which cookies go to this URL":
//! the cookie's domain (exactly, or with its subdomains when the file says so), its path
//! (RFC 6265 path-match), `secure` ones over https only, expired ones never. Cookies the
//! server sets are kept apart, for the session only (`cookie_store`). Pure but for reading the
//! file; depends on `url`.
//!
//! Cookie values are secrets: errors and `Debug` output name the file, line, cookie name and
//! domain, never a value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use url::Url;

use super::textfile::read_small_text;

/// Files larger than this are refused (a browser's whole jar is well under a megabyte).
const MAX_COOKIES_BYTES: u64 = 16 << 20;

/// The prefix curl and browsers write before the domain of a cookie JavaScript may not read.
const HTTP_ONLY_PREFIX: &str = "#HttpOnly_";

#[derive(Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Lowercased, without a leading dot.
    pub domain: String,
    /// Also sent to the domain's subdomains (the file's second field, `TRUE`).
    pub include_subdomains: bool,
    pub path: String,
    /// Sent over https only.
    pub secure: bool,
    /// Unix seconds; `None` for a session cookie (the file's `0`), which never expires here.
    pub expires: Option<i64>,
    pub name: String,
    pub value: String,
    /// A `#HttpOnly_` line; sent like any other (dlm runs no scripts), kept for the record.
    pub http_only: bool,
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookie")
            .field("domain", &self.domain)
            .field("include_subdomains", &self.include_subdomains)
            .field("path", &self.path)
            .field("secure", &self.secure)
            .field("expires", &self.expires)
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
    }
}

impl Cookie {
    /// Whether this cookie goes with a request for `url` at `now` (Unix seconds).
    pub fn matches(&self, url: &Url, now: i64) -> bool {
        let Some(host) = url.host_str() else { return false };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let secure_ok = !self.secure || url.scheme() == "https";
        let fresh = self.expires.is_none_or(|at| at > now);
        secure_ok && fresh && self.domain_matches(&host) && path_matches(&self.path, url.path())
    }

    /// RFC 6265 domain-match: the host itself, or (when the cookie allows subdomains) a name
    /// ending in `.domain`; an IP address only ever matches itself.
    fn domain_matches(&self, host: &str) -> bool {
        if host == self.domain {
            return true;
        }
        let is_ip = host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[');
        self.include_subdomains
            && !is_ip
            && host.strip_suffix(self.domain.as_str()).is_some_and(|head| head.ends_with('.'))
    }
}

/// RFC 6265 §5.1.4: the paths are equal, or the cookie's is a prefix ending at a `/`.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    match request_path.strip_prefix(cookie_path) {
        Some("") => true,
        Some(rest) => cookie_path.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

/// The cookies of one or more files, in the order read. `Debug` hides values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

/// Why a cookies file could not be used. Names the file and line, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookiesError {
    #[error("cannot read cookies file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("cookies file {}:{line}: {problem}", path.display())]
    Invalid { path: PathBuf, line: usize, problem: String },
}

impl CookieJar {
    /// Parses a Netscape cookies file; `path` only labels errors. Blank lines and `#`
    /// comments are skipped; `#HttpOnly_` lines are cookies.
    pub fn parse(text: &str, path: &Path) -> Result<CookieJar, CookiesError> {
        let mut jar = CookieJar::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            let (line, http_only) = match line.strip_prefix(HTTP_ONLY_PREFIX) {
                Some(rest) => (rest, true),
                None => (line, false),
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cookie = parse_line(line, http_only).map_err(|problem| CookiesError::Invalid {
                path: path.to_path_buf(),
                line: i + 1,
                problem,
            })?;
            jar.insert(cookie);
        }
        Ok(jar)
    }

    /// Reads and parses a cookies file.
    pub fn read(path: &Path) -> Result<CookieJar, CookiesError> {
        let text = read_small_text(path, MAX_COOKIES_BYTES, "a cookies file")
            .map_err(|reason| CookiesError::Read { path: path.to_path_buf(), reason })?;
        CookieJar::parse(&text, path)
    }

    /// Cookies given as a `Cookie:` header value (`a=1; b=2`, as a browser's "Copy as cURL"
    /// carries them) for `url`: they go to that host only, on every path, until the end of
    /// the run, and over https only when `url` is https. Pairs without `=` are skipped.
    pub fn from_header(url: &Url, header: &str) -> CookieJar {
        let mut jar = CookieJar::default();
        let Some(host) = url.host_str() else { return jar };
        for pair in header.split(';') {
            let Some((name, value)) = pair.split_once('=') else { continue };
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            jar.insert(Cookie {
                domain: host.trim_end_matches('.').to_ascii_lowercase(),
                include_subdomains: false,
                path: "/".into(),
                secure: url.scheme() == "https",
                expires: None,
                name: name.to_string(),
                value: value.trim().to_string(),
                http_only: false,
            });
        }
        jar
    }

    /// Adds a cookie; one with the same domain, path and name replaces the earlier one, as a
    /// browser and curl do.
    pub fn insert(&mut self, cookie: Cookie) {
        let same = |c: &Cookie| c.domain == cookie.domain && c.path == cookie.path && c.name == cookie.name;
        match self.cookies.iter_mut().find(|c| same(c)) {
            Some(old) => *old = cookie,
            None => self.cookies.push(cookie),
        }
    }

    /// Adds every cookie of `other` (its cookies replace equal ones here).
    pub fn extend(&mut self, other: CookieJar) {
        for cookie in other.cookies {
            self.insert(cookie);
        }
    }

    /// The `Cookie:` header value for a request to `url` now, or `None` when no cookie goes
    /// there. Call it for each request's own URL (a segment's, a redirect's), never reuse
    /// one URL's answer for another host.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.header_at(url, i64::try_from(now).unwrap_or(i64::MAX))
    }

    /// `header_for` at `now` (Unix seconds). Longer paths first, then file order (RFC 6265).
    pub fn header_at(&self, url: &Url, now: i64) -> Option<String> {
        let mut sent: Vec<&Cookie> = self.cookies.iter().filter(|c| c.matches(url, now)).collect();
        sent.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let pairs: Vec<String> = sent.iter().map(|c| format!("{}={}", c.name, c.value)).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }
}

/// One cookie line: `domain  subdomains  path  secure  expires  name  value`, tab-separated.
/// A missing or empty value is an empty cookie (some exporters drop the last tab).
fn parse_line(line: &str, http_only: bool) -> Result<Cookie, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    if !(6..=7).contains(&fields.len()) {
        return Err(format!(
            "expected 7 tab-separated fields (domain, subdomains, path, secure, expires, name, value), found {}",
            fields.len()
        ));
    }
    let flag = |text: &str, what: &str| match text.to_ascii_uppercase().as_str() {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        _ => Err(format!("the {what} field must be TRUE or FALSE")),
    };
    let domain = fields[0].trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() || domain.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err("the domain field is not a host name".into());
    }
    let expires: i64 =
        fields[4].trim().parse().map_err(|_| "the expires field must be Unix seconds".to_string())?;
    let name = fields[5].to_string();
    let value = fields.get(6).copied().unwrap_or_default().to_string();
    // Said by field, not by text: the value is a secret.
    if name.is_empty() || name.contains(|c: char| c.is_control() || c == '=' || c == ';' || c == ' ') {
        return Err("the name field is empty or has characters a cookie name cannot have".into());
    }
    if value.contains(|c: char| c.is_control() || c == ';') {
        return Err(format!("the value of cookie `{name}` has characters a cookie value cannot have"));
    }
    let path = if fields[2].starts_with('/') { fields[2].to_string() } else { "/".to_string() };
    Ok(Cookie {
        domain,
        include_subdomains: flag(fields[1], "subdomains (second)")?,
        path,
        secure: flag(fields[3], "secure (fourth)")?,
        expires: (expires > 0).then_some(expires),
        name,
        value,
        http_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn jar(text: &str) -> CookieJar {
        CookieJar::parse(text, Path::new("c.txt")).unwrap()
    }

    fn header(jar: &CookieJar, url: &str) -> Option<String> {
        jar.header_at(&Url::parse(url).unwrap(), NOW)
    }

    const FILE: &str = "# Netscape HTTP Cookie File\n\
        # https://curl.se/docs/http-cookies.html\n\
        \n\
        .example.com\tTRUE\t/\tFALSE\t0\tsite\ts1\n\
        www.example.com\tFALSE\t/\tFALSE\t0\thostonly\th1\n\
        #HttpOnly_.example.com\tTRUE\t/\tTRUE\t1900000000\tsession\tsecret\n\
        example.com\tFALSE\t/files\tFALSE\t0\tfiles\tf1\n\
        .example.com\tTRUE\t/\tFALSE\t1700000000\told\tgone\n\
        other.org\tFALSE\t/\tFALSE\t0\tother\to1\n";

    #[test]
    fn cookies_go_only_to_their_domains() {
        let j = jar(FILE);
        assert_eq!(j.len(), 6);
        assert_eq!(
            header(&j, "https://www.example.com/a").as_deref(),
            Some("site=s1; hostonly=h1; session=secret")
        );
        assert_eq!(header(&j, "https://cdn.example.com/").as_deref(), Some("site=s1; session=secret"));
        assert_eq!(header(&j, "https://EXAMPLE.com/").as_deref(), Some("site=s1; session=secret"));
        assert_eq!(header(&j, "https://a.www.example.com/").as_deref(), Some("site=s1; session=secret"));
        assert_eq!(header(&j, "https://notexample.com/"), None, "a suffix is not a subdomain");
        assert_eq!(header(&j, "https://example.com.evil.net/"), None);
        assert_eq!(header(&j, "https://other.org/").as_deref(), Some("other=o1"));
        assert_eq!(header(&j, "https://sub.other.org/"), None, "FALSE: the host only");
    }

    #[test]
    fn paths_match_on_segment_boundaries_longest_first() {
        let j = jar(FILE);
        assert_eq!(header(&j, "http://example.com/files").as_deref(), Some("files=f1; site=s1"));
        assert_eq!(header(&j, "http://example.com/files/x.iso").as_deref(), Some("files=f1; site=s1"));
        assert_eq!(header(&j, "http://example.com/filesystem").as_deref(), Some("site=s1"));
        assert!(path_matches("/a/", "/a/b") && path_matches("/", "/x") && !path_matches("/a/b", "/a"));
    }

    #[test]
    fn secure_cookies_over_https_only_and_expired_ones_never() {
        let j = jar(FILE);
        assert_eq!(header(&j, "http://www.example.com/").as_deref(), Some("site=s1; hostonly=h1"));
        let later = j.header_at(&Url::parse("https://cdn.example.com/").unwrap(), 1_950_000_000);
        assert_eq!(later.as_deref(), Some("site=s1"), "the session cookie expired at 1900000000");
        let earlier = j.header_at(&Url::parse("https://cdn.example.com/").unwrap(), 1_600_000_000);
        assert_eq!(earlier.as_deref(), Some("site=s1; session=secret; old=gone"));
    }

    #[test]
    fn http_only_lines_are_cookies_and_other_comments_are_not() {
        let j = jar("#HttpOnly_h\tFALSE\t/\tFALSE\t0\ta\t1\n# h\tFALSE\t/\tFALSE\t0\tb\t2\n");
        assert_eq!(j.len(), 1);
        assert_eq!(header(&j, "http://h/").as_deref(), Some("a=1"));
    }

    #[test]
    fn ip_hosts_match_only_themselves_and_ports_do_not_matter() {
        let j = jar("127.0.0.1\tTRUE\t/\tFALSE\t0\ta\t1\n.0.0.1\tTRUE\t/\tFALSE\t0\tb\t2\n");
        assert_eq!(header(&j, "http://127.0.0.1:8080/x").as_deref(), Some("a=1"));
    }

    #[test]
    fn a_later_line_replaces_the_same_cookie_and_empty_values_are_kept() {
        let j = jar("h\tFALSE\t/\tFALSE\t0\ta\t1\nh\tFALSE\t/\tFALSE\t0\ta\t2\nh\tFALSE\t/\tFALSE\t0\te\n");
        assert_eq!(header(&j, "http://h/").as_deref(), Some("a=2; e="));
    }

    #[test]
    fn windows_line_ends_are_read() {
        let j = jar("# Netscape HTTP Cookie File\r\nh\tFALSE\t/\tFALSE\t0\ta\tv\r\n");
        assert_eq!(header(&j, "http://h/").as_deref(), Some("a=v"));
    }

    #[test]
    fn errors_name_the_line_and_field_never_the_value() {
        let err = |t: &str| CookieJar::parse(t, Path::new("/tmp/c.txt")).unwrap_err().to_string();
        assert_eq!(
            err("\nh FALSE / FALSE 0 a topsecret\n"),
            "cookies file /tmp/c.txt:2: expected 7 tab-separated fields (domain, subdomains, path, secure, expires, name, value), found 1"
        );
        assert!(
            err("h\tyes\t/\tFALSE\t0\ta\ttopsecret")
                .ends_with(":1: the subdomains (second) field must be TRUE or FALSE")
        );
        assert!(err("h\tTRUE\t/\tFALSE\tsoon\ta\ttopsecret").contains("expires field must be Unix seconds"));
        let m = err("h\tTRUE\t/\tFALSE\t0\ta\ttop\u{1}secret");
        assert!(m.contains("the value of cookie `a` has characters") && !m.contains("secret"), "{m}");
    }

    #[test]
    fn debug_output_hides_values() {
        let shown = format!("{:?}", jar(FILE));
        assert!(!shown.contains("secret") && !shown.contains("s1") && shown.contains("session"), "{shown}");
    }

    #[test]
    fn a_pasted_cookie_header_goes_to_its_host_only() {
        let url = Url::parse("https://dl.example.com/f").unwrap();
        let j = CookieJar::from_header(&url, "a=1; b = x=y ;bad; =z");
        assert_eq!(header(&j, "https://dl.example.com/other").as_deref(), Some("a=1; b=x=y"));
        assert_eq!(header(&j, "https://cdn.example.com/f"), None);
        assert_eq!(header(&j, "http://dl.example.com/f"), None, "given over https, kept to https");
    }

    #[test]
    fn files_are_read_and_refused_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookies.txt");
        std::fs::write(&path, FILE).unwrap();
        assert_eq!(CookieJar::read(&path).unwrap().len(), 6);
        let m = CookieJar::read(dir.path()).unwrap_err().to_string();
        assert!(m.ends_with("not a regular file"), "{m}");
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert!(CookieJar::read(&path).unwrap_err().to_string().contains("invalid UTF-8"));
    }
}
