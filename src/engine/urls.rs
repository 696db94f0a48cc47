//! Checking what a person typed is a URL dlm can fetch, and showing URLs without secrets.
//! Depends only on the `url` crate and the engine's error type.

use url::Url;

use super::DownloadError;

/// Longest URL accepted; beyond this servers reject it anyway and it is almost surely garbage.
const MAX_URL_LEN: usize = 8 * 1024;

/// Parses `input` (trimmed) as an absolute http(s) URL, with a message a person can act on
/// when it is not one. Unicode host names are converted to their ASCII (IDNA) form.
pub fn parse_download_url(input: &str) -> Result<Url, DownloadError> {
    let trimmed = input.trim();
    let invalid =
        |reason: &str| DownloadError::InvalidUrl { input: redact_str(trimmed), reason: reason.to_string() };
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    if trimmed.len() > MAX_URL_LEN {
        return Err(DownloadError::InvalidUrl {
            input: format!("{}…", redact_str(super::naming::truncate_to_boundary(trimmed, 60))),
            reason: format!("longer than {MAX_URL_LEN} bytes"),
        });
    }
    if trimmed.chars().any(char::is_whitespace) {
        return Err(invalid("contains spaces (percent-encode them as %20)"));
    }
    let url = match Url::parse(trimmed) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(invalid("not an absolute URL (it needs http:// or https://)"));
        }
        Err(e) => return Err(invalid(&e.to_string())),
    };
    match url.scheme() {
        "http" | "https" => {}
        _ => {
            return Err(DownloadError::UnsupportedScheme { url: redact_url(&url) });
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    Ok(url)
}

/// The URL as it may be shown or logged: any `user:password@` replaced by `***@`.
pub fn redact_url(url: &Url) -> String {
    replace_credentials(url, "***")
}

/// The URL with any `user:password@` removed, for files that outlive the run (the `.part`
/// sidecar, the saved queue): those are not where a secret should rest.
pub fn without_credentials(url: &Url) -> String {
    replace_credentials(url, "")
}

/// Like `redact_url` for text that may not parse.
pub fn redact_str(text: &str) -> String {
    replace_credentials_in_text(text, "***")
}

/// Like `without_credentials` for text that may not parse.
pub fn str_without_credentials(text: &str) -> String {
    replace_credentials_in_text(text, "")
}

/// `url` with its userinfo replaced by `user` (no password; nothing at all when `user` is "").
fn replace_credentials(url: &Url, user: &str) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Setting credentials only fails for URLs that cannot have them, which have none.
    let _ = shown.set_password(None);
    let _ = shown.set_username(user);
    shown.to_string()
}

/// `replace_credentials` for text: a URL if it parses, else whatever lies between `://` and
/// the first `@` of the authority.
fn replace_credentials_in_text(text: &str, user: &str) -> String {
    match Url::parse(text) {
        Ok(url) => replace_credentials(&url, user),
        Err(_) => match (text.find("://"), text.find('@')) {
            (Some(s), Some(at)) if at > s && !text[s + 3..at].contains('/') => {
                let rest = if user.is_empty() { &text[at + 1..] } else { &text[at..] };
                format!("{}{user}{rest}", &text[..s + 3])
            }
            _ => text.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        assert!(parse_download_url("http://example.com/a").is_ok());
        assert!(parse_download_url("  https://example.com/a  ").is_ok());
    }

    #[test]
    fn rejects_other_schemes_with_the_url() {
        let e = parse_download_url("ftp://example.com/f").unwrap_err();
        assert_eq!(e.to_string(), "not an http(s) URL: ftp://example.com/f");
        assert!(matches!(
            parse_download_url("javascript:alert(1)"),
            Err(DownloadError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            parse_download_url("file:///etc/passwd"),
            Err(DownloadError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn rejects_garbage_empty_spaces_and_relative() {
        for bad in ["", "   ", "example.com/file", "http://exa mple.com/", "http://", "http://[::1"] {
            assert!(parse_download_url(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(parse_download_url(&long).unwrap_err().to_string().contains("longer than"));
    }

    #[test]
    fn unicode_hosts_become_punycode() {
        let url = parse_download_url("http://bücher.example/x").unwrap();
        assert_eq!(url.host_str(), Some("xn--bcher-kva.example"));
    }

    #[test]
    fn credentials_never_shown() {
        let url = Url::parse("https://alice:s3cret@example.com/f").unwrap();
        let shown = redact_url(&url);
        assert!(!shown.contains("s3cret") && !shown.contains("alice"), "{shown}");
        assert_eq!(redact_str("ftp://bob:pw@host/x"), "ftp://***@host/x");
        let e = parse_download_url("ftp://bob:pw@host/x").unwrap_err().to_string();
        assert!(!e.contains("pw@"), "{e}");
    }

    #[test]
    fn credentials_removed_for_files() {
        let url = Url::parse("https://alice:s3cret@example.com/f?x=1").unwrap();
        assert_eq!(without_credentials(&url), "https://example.com/f?x=1");
        assert_eq!(str_without_credentials("https://bob@example.com/"), "https://example.com/");
        assert_eq!(str_without_credentials("weird://u:p@h st/x"), "weird://h st/x");
        assert_eq!(str_without_credentials("http://example.com/a@b"), "http://example.com/a@b");
    }
}
