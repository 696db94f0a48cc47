//! Builds the shared HTTP clients: connection pools reused by every item, redirects counted
//! and checked for schemes, TLS and proxy settings. Two clients with the same settings: one
//! that takes HTTP/2 where the server offers it (first requests: many small files share one
//! connection) and one that speaks only HTTP/1.1 (range requests: the bytes of big files, one
//! TCP connection per segment). Depends on reqwest and the engine options.

use std::collections::HashSet;

use reqwest::header::{ACCEPT_ENCODING, HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;

use super::cookie_store::CookieProvider;
use super::error::EngineError;
use super::options::EngineOptions;

/// Marker errors the redirect policy raises; `transfer` turns them into `DownloadError`s.
#[derive(Debug, thiserror::Error)]
pub enum RedirectError {
    /// `circular`: some URL came up twice, so more redirects would not have helped.
    #[error("too many redirects")]
    TooMany { circular: bool },
    #[error("redirect to an unsupported scheme: {0}")]
    Scheme(String),
}

/// The client for first requests: HTTP/2 when the server offers it by ALPN, else HTTP/1.1.
pub fn build_client(options: &EngineOptions) -> Result<reqwest::Client, EngineError> {
    let builder = builder(options)?.http2_adaptive_window(true);
    builder.build().map_err(|e| EngineError::Client(e.to_string()))
}

/// The client for range requests, which carry the bytes of big files: HTTP/1.1 only.
///
/// Measured on 1 GiB over loopback HTTPS (docs/measurements.md), HTTP/1.1 costs about a third
/// less CPU than HTTP/2: the server's HTTP/2 frames are small (nginx sends 8 KiB), and each
/// one is a separate trip between the connection's task and the reader, while HTTP/1.1 hands
/// over whatever one read brought. And segments are meant to be separate TCP connections
/// (per-connection server limits, congestion windows); over HTTP/2 they would all share one.
pub fn build_http1_client(options: &EngineOptions) -> Result<reqwest::Client, EngineError> {
    let builder = builder(options)?.http1_only();
    builder.build().map_err(|e| EngineError::Client(e.to_string()))
}

fn builder(options: &EngineOptions) -> Result<reqwest::ClientBuilder, EngineError> {
    let mut headers = HeaderMap::new();
    // Ask for the resource's own bytes: ranges then address the file, and no decoder is needed.
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    for (name, value) in &options.headers {
        let header = || format!("{name}: {value}");
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| EngineError::Header { header: header(), reason: e.to_string() })?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|e| EngineError::Header { header: header(), reason: e.to_string() })?;
        headers.append(name, value);
    }

    let limit = options.max_redirects;
    let policy = redirect::Policy::custom(move |attempt| {
        if !matches!(attempt.url().scheme(), "http" | "https") {
            let target = super::redact_url(attempt.url());
            return attempt.error(RedirectError::Scheme(target));
        }
        // Redirects are counted, as curl and browsers do, not judged by a repeated URL: servers
        // redirect to the same URL to set a cookie or while a file is being prepared.
        // `previous` holds every URL asked so far, so its length is this redirect's number.
        if attempt.previous().len() > limit {
            let mut seen = HashSet::new();
            let circular = attempt.previous().iter().any(|u| !seen.insert(u.as_str()))
                || seen.contains(attempt.url().as_str());
            return attempt.error(RedirectError::TooMany { circular });
        }
        attempt.follow()
    });

    // Cookies are chosen per URL by the client, so each redirect gets its own host's.
    let cookies = CookieProvider::new(options.cookies.clone(), options.session_cookies.clone());
    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .cookie_provider(std::sync::Arc::new(cookies))
        .user_agent(options.user_agent.clone())
        .redirect(policy)
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .danger_accept_invalid_certs(options.insecure);

    for path in &options.ca_files {
        let pem = std::fs::read(path)
            .map_err(|e| EngineError::CaFile { path: path.clone(), reason: e.to_string() })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| EngineError::CaFile { path: path.clone(), reason: e.to_string() })?;
        if certs.is_empty() {
            return Err(EngineError::CaFile {
                path: path.clone(),
                reason: "no PEM certificate in the file".into(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }

    if let Some(proxy) = &options.proxy {
        let invalid = |reason: String| EngineError::Proxy { proxy: super::redact_str(proxy), reason };
        let parsed = url::Url::parse(proxy).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https" | "socks5" | "socks5h") {
            return Err(invalid("use http://, https://, socks5:// or socks5h://".into()));
        }
        builder = builder.proxy(reqwest::Proxy::all(proxy.as_str()).map_err(|e| invalid(e.to_string()))?);
    }

    Ok(builder)
}
