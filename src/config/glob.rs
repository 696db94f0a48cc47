//! The two small glob languages of `[[rule]]` entries: host globs (`*.example.com`, without
//! regard to case) and URL path globs (`/files/**/*.iso`). A hand-written matcher, not
//! `globset`: the patterns are a few characters, matched a few times per added download, and
//! the rules differ from file-system globs (a host's `*.` also matches the bare domain).
//! Pure; depends on std only.

use std::fmt;

/// A host pattern. `*` matches any run of characters (dots included), `?` one character;
/// case does not matter. A pattern starting with `*.` also matches the domain itself:
/// `*.example.com` matches `example.com`, `www.example.com` and `a.b.example.com`, as a
/// cookie for `.example.com` and curl's `NO_PROXY` entries do: a person who writes it means
/// "that site", and would be surprised to see its bare name fall through to another rule.
#[derive(Clone, PartialEq, Eq)]
pub struct HostGlob {
    /// Lowercased, without a trailing dot.
    pattern: String,
}

impl HostGlob {
    /// Checks the pattern: a host name's characters and the two wildcards, nothing else (a
    /// `/` or `:` means a URL or a port was pasted, which would never match).
    pub fn new(pattern: &str) -> Result<HostGlob, String> {
        let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
        if pattern.is_empty() {
            return Err("expected a host pattern such as \"*.example.com\", found an empty string".into());
        }
        if let Some(bad) = pattern.chars().find(|c| !(c.is_alphanumeric() || "-._*?".contains(*c))) {
            return Err(format!(
                "`{}` cannot be in a host pattern (write the host only, as in \"*.example.com\": no scheme, port or path)",
                bad.escape_default()
            ));
        }
        Ok(HostGlob { pattern })
    }

    /// Whether `host` (as a URL gives it; case and a trailing dot do not matter) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(domain) = self.pattern.strip_prefix("*.")
            && wildcard(domain.as_bytes(), host.as_bytes(), false)
        {
            return true;
        }
        wildcard(self.pattern.as_bytes(), host.as_bytes(), false)
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Debug for HostGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostGlob({:?})", self.pattern)
    }
}

/// A URL path pattern, matched against the whole decoded path (`/dl/file.iso`), case
/// sensitive as servers' paths are. `*` matches within one segment, `**` across segments
/// (`/a/**` matches everything under `/a/`), `?` one character other than `/`. A pattern
/// without a leading `/` gets one.
#[derive(Clone, PartialEq, Eq)]
pub struct PathGlob {
    pattern: String,
}

impl PathGlob {
    pub fn new(pattern: &str) -> Result<PathGlob, String> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err("expected a path pattern such as \"/files/*.iso\", found an empty string".into());
        }
        if pattern.contains("://") || pattern.contains('?') && pattern.contains('=') {
            return Err(
                "expected the path of a URL only (no scheme, host or query), as in \"/files/*.iso\"".into()
            );
        }
        let pattern = if pattern.starts_with('/') { pattern.to_string() } else { format!("/{pattern}") };
        Ok(PathGlob { pattern })
    }

    pub fn matches(&self, path: &str) -> bool {
        wildcard(self.pattern.as_bytes(), path.as_bytes(), true)
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Debug for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathGlob({:?})", self.pattern)
    }
}

/// `*`/`?` matching over bytes (a multi-byte character is matched by `?` as several bytes
/// would be; patterns are ASCII in practice). With `segments`, `*` and `?` stop at `/` and
/// `**` does not. Backtracking, with each (pattern suffix, text suffix) decided once, so a
/// pattern of many stars costs pattern × text steps, not an exponential number.
fn wildcard(pattern: &[u8], text: &[u8], segments: bool) -> bool {
    let mut memo = vec![None; (pattern.len() + 1) * (text.len() + 1)];
    Matcher { segments, memo: &mut memo, width: text.len() + 1 }.matches(pattern, text)
}

struct Matcher<'m> {
    segments: bool,
    /// Answers by (pattern suffix length, text suffix length).
    memo: &'m mut [Option<bool>],
    width: usize,
}

impl Matcher<'_> {
    fn matches(&mut self, pattern: &[u8], text: &[u8]) -> bool {
        let key = pattern.len() * self.width + text.len();
        if let Some(known) = self.memo[key] {
            return known;
        }
        let answer = self.decide(pattern, text);
        self.memo[key] = Some(answer);
        answer
    }

    fn decide(&mut self, pattern: &[u8], text: &[u8]) -> bool {
        let segments = self.segments;
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => {
                let (across, rest) = match rest.split_first() {
                    Some((b'*', after)) if segments => (true, after),
                    _ => (!segments, rest),
                };
                // `/**/` also matches `/` alone: `/a/**/x` matches `/a/x`.
                if across && rest.first() == Some(&b'/') && self.matches(&rest[1..], text) {
                    return true;
                }
                (0..=text.len())
                    .take_while(|&i| across || i == 0 || text[i - 1] != b'/')
                    .any(|i| self.matches(rest, &text[i..]))
            }
            Some((b'?', rest)) => text
                .split_first()
                .is_some_and(|(c, tail)| !(segments && *c == b'/') && self.matches(rest, tail)),
            Some((p, rest)) => text.split_first().is_some_and(|(c, tail)| c == p && self.matches(rest, tail)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(p: &str) -> HostGlob {
        HostGlob::new(p).unwrap()
    }

    fn path(p: &str) -> PathGlob {
        PathGlob::new(p).unwrap()
    }

    #[test]
    fn star_dot_domain_matches_the_domain_and_every_subdomain() {
        let g = host("*.Example.com");
        for h in ["example.com", "www.example.com", "a.b.EXAMPLE.com", "example.com."] {
            assert!(g.matches(h), "{h}");
        }
        for h in ["notexample.com", "example.com.evil.net", "example.org", "com"] {
            assert!(!g.matches(h), "{h}");
        }
    }

    #[test]
    fn other_host_wildcards() {
        assert!(host("cdn?.example.com").matches("cdn1.example.com"));
        assert!(!host("cdn?.example.com").matches("cdn12.example.com"));
        assert!(host("*cdn*").matches("eu.cdn-3.example.net"));
        assert!(
            host("example.com").matches("EXAMPLE.COM") && !host("example.com").matches("www.example.com")
        );
        assert!(host("127.0.0.1").matches("127.0.0.1"));
        assert!(host("*").matches("anything.at.all"));
    }

    #[test]
    fn host_patterns_that_cannot_match_are_refused() {
        assert!(HostGlob::new("").unwrap_err().contains("empty"));
        assert!(
            HostGlob::new("https://example.com").unwrap_err().contains("`:` cannot be in a host pattern")
        );
        assert!(HostGlob::new("example.com:8080").is_err());
        assert!(HostGlob::new("example.com/files").unwrap_err().contains("`/`"));
    }

    #[test]
    fn path_stars_stay_in_a_segment_and_double_stars_cross() {
        assert!(path("/files/*.iso").matches("/files/debian.iso"));
        assert!(!path("/files/*.iso").matches("/files/old/debian.iso"));
        assert!(path("/files/**/*.iso").matches("/files/old/debian.iso"));
        assert!(path("/files/**/*.iso").matches("/files/debian.iso"), "`/**/` may be empty");
        assert!(path("/files/**").matches("/files/a/b/c"));
        assert!(path("files/?.bin").matches("/files/a.bin") && !path("/files/?.bin").matches("/files//.bin"));
        assert!(!path("/Files/*").matches("/files/a"), "paths are case sensitive");
        assert!(path("*").matches("/") && !path("/*").matches("/a/b"));
    }

    #[test]
    fn path_patterns_with_a_url_are_refused() {
        assert!(PathGlob::new("https://e.com/x").unwrap_err().contains("path of a URL only"));
        assert!(PathGlob::new(" ").unwrap_err().contains("empty"));
    }

    #[test]
    fn backtracking_finds_late_matches() {
        assert!(host("a*b*c").matches("axxbyybzzc"));
        assert!(!host("a*b*c").matches("axxbyybzz"));
        assert!(path("/**/x/*/y").matches("/a/x/b/x/c/y"));
    }

    #[test]
    fn many_stars_do_not_take_exponential_time() {
        // Plain backtracking tries about C(200, 12) splits here before saying no.
        let text = "a".repeat(200);
        assert!(!host("*a*a*a*a*a*a*a*a*a*a*a*a*b").matches(&text));
        assert!(!path("/**a**a**a**a**a**a**a**a**a**a**b").matches(&format!("/{text}")));
        assert!(host("*a*a*a*a*a*a*a*a*a*a*a*a*").matches(&text));
    }
}
