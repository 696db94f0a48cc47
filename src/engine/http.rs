//! Builds the one shared HTTP client: connection pool reused by every item, redirects counted
//! and checked for schemes, TLS and proxy settings. Depends on reqwest and the engine options.

use std::collections::HashSet;

use reqwest::header::{ACCEPT_ENCODING, HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;

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

pub fn build_client(options: &EngineOptions) -> Result<reqwest::Client, EngineError> {
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

    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(options.user_agent.clone())
        .redirect(policy)
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .http2_adaptive_window(true)
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

    builder.build().map_err(|e| EngineError::Client(e.to_string()))
}
