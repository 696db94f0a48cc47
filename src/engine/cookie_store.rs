//! The cookies every request of the engine's clients carries, asked per URL by reqwest for the
//! first request and again for each redirect: the loaded jar's (`--load-cookies`,
//! `cookies_file`) for that URL's domain and path, then those servers set during this session
//! (kept in memory only, as wget and aria2 keep them; never saved). So a redirect to another
//! host gets that host's own cookies, and a server that sets a cookie and redirects back to
//! itself gets it on the next hop. Depends on reqwest's cookie store and the engine's jar.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderValue;
use url::Url;

use super::cookies::CookieJar;

/// Cookies servers set during this session. Shared by every client made from one
/// `EngineOptions` and its clones (a proxy's clients, checksum-file fetches); `Debug` hides
/// values. Runtime state, not a setting: any two compare equal, so options compare by what
/// was configured.
#[derive(Clone, Default)]
pub struct SessionCookies(Arc<reqwest::cookie::Jar>);

impl fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCookies(..)")
    }
}

impl PartialEq for SessionCookies {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// What a client asks for each URL it requests (reqwest's `CookieStore`).
pub struct CookieProvider {
    loaded: CookieJar,
    session: SessionCookies,
}

impl CookieProvider {
    pub fn new(loaded: CookieJar, session: SessionCookies) -> Self {
        Self { loaded, session }
    }

    /// The `Cookie` header for `url`: the loaded jar's cookies, then the session's.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        engine_cookies(&self.loaded, &self.session, url)
    }
}

/// The cookies the engine's clients send to `url` (see `CookieProvider`), for a request that
/// sets its `Cookie` header itself: reqwest then adds none of its own.
pub fn engine_cookies(loaded: &CookieJar, session: &SessionCookies, url: &Url) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let set = session.0.cookies(url).and_then(|v| v.to_str().ok().map(str::to_string));
    super::settings::join_cookies(loaded.header_for(url), set)
}

impl reqwest::cookie::CookieStore for CookieProvider {
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.session.0.set_cookies(cookie_headers, url);
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.header_for(url).and_then(|h| HeaderValue::from_str(&h).ok())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use reqwest::cookie::CookieStore;

    use super::*;

    #[test]
    fn loaded_cookies_go_first_then_those_the_server_set_each_to_its_own_host() {
        let loaded =
            CookieJar::parse("a.example\tFALSE\t/\tFALSE\t0\tsid\tone\n", Path::new("c.txt")).unwrap();
        let provider = CookieProvider::new(loaded, SessionCookies::default());
        let (a, b) = (Url::parse("http://a.example/f").unwrap(), Url::parse("http://b.example/f").unwrap());
        assert_eq!(provider.header_for(&a).as_deref(), Some("sid=one"));
        assert_eq!(provider.header_for(&b), None);
        let set = HeaderValue::from_static("token=two; Path=/");
        provider.set_cookies(&mut std::iter::once(&set), &b);
        assert_eq!(provider.header_for(&b).as_deref(), Some("token=two"));
        assert_eq!(provider.header_for(&a).as_deref(), Some("sid=one"), "set for b, not sent to a");
    }

    #[test]
    fn clones_share_one_store_and_debug_shows_no_value() {
        let session = SessionCookies::default();
        let other = CookieProvider::new(CookieJar::default(), session.clone());
        let url = Url::parse("http://h.example/").unwrap();
        let set = HeaderValue::from_static("k=secret-value");
        CookieProvider::new(CookieJar::default(), session.clone())
            .set_cookies(&mut std::iter::once(&set), &url);
        assert_eq!(other.header_for(&url).as_deref(), Some("k=secret-value"));
        assert!(!format!("{session:?}").contains("secret"));
    }
}
