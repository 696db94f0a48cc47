//! A pasted curl command as one download: its URL, and its headers, cookies and `-u` login as
//! the item's own settings, each for the command's host only. Kept in memory only: the saved
//! queue gets the URL (and, next time, whatever the rules give), never these. Depends on the
//! engine's request and settings types.

use std::sync::Arc;

use crate::engine::{AddRequest, CookieJar, ItemSettings};

use super::CurlRequest;

/// What a front end says when it adds a pasted command with `-k`.
pub const INSECURE_IGNORED: &str = "the curl command's -k (--insecure) was ignored: dlm checks certificates for every download \
     (set `insecure = true` in the config to turn that off for all)";

impl CurlRequest {
    /// The add request for this command, or why a header could not be used (named, never
    /// its value).
    pub fn to_add_request(&self) -> Result<AddRequest, String> {
        let mut settings = ItemSettings::default();
        for (name, value) in &self.headers {
            settings.header(name, value)?;
        }
        if let Some(cookies) = &self.cookies {
            settings.cookies = CookieJar::from_header(&self.url, cookies);
        }
        if let (Some(user), Some(host)) = (&self.user, self.url.host_str()) {
            settings.login = Some((host.to_string(), user.clone()));
        }
        Ok(AddRequest { settings: Some(Arc::new(settings)), ..AddRequest::new(self.url.as_str()) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn headers_cookies_and_login_go_with_the_request_for_its_host_only() {
        let c = parse("curl 'https://h.example/f.iso' -H 'X-A: 1' -b 'sid=abc' -u 'me:pw'").unwrap();
        let r = c.to_add_request().unwrap();
        assert_eq!(r.url, "https://h.example/f.iso");
        let s = r.settings.unwrap();
        assert_eq!(s.headers().len(), 1);
        assert!(s.cookie_header(&"https://h.example/x".parse().unwrap()).is_some());
        assert!(s.cookie_header(&"https://other.example/x".parse().unwrap()).is_none());
        assert!(s.login_for("h.example").is_some() && s.login_for("other.example").is_none());
    }
}
