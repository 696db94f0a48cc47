//! Fetching a small text over HTTP with the engine's client settings (proxy, CA files, headers,
//! timeouts): a checksum file given by URL, a sibling `URL.sha256`. Capped in size, since it
//! is read into memory. Depends on reqwest and the engine's client, options and URL helpers.

use std::time::Duration;

use super::http::build_client;
use super::options::EngineOptions;
use super::urls::{parse_download_url, redact_url};

/// More than any checksum file needs (a `SHA256SUMS` of 10,000 files is under 1 MiB).
pub const MAX_TEXT: usize = 4 << 20;

/// GETs `url` and returns its body as text; errors are in words (`cannot fetch …: 404 …`).
pub async fn download_text(options: &EngineOptions, url: &str) -> Result<String, String> {
    let client = build_client(options).map_err(|e| e.to_string())?;
    get(&client, options, url).await
}

/// `download_text` with a client already built.
pub async fn get(client: &reqwest::Client, options: &EngineOptions, url: &str) -> Result<String, String> {
    let parsed = parse_download_url(url).map_err(|e| e.to_string())?;
    let shown = redact_url(&parsed);
    let within: Duration = options.connect_timeout.saturating_add(options.read_timeout);
    let fail = |e: reqwest::Error| format!("cannot fetch {shown}: {e}");
    let mut response = tokio::time::timeout(within, client.get(parsed.clone()).send())
        .await
        .map_err(|_| format!("cannot fetch {shown}: no answer within {}s", within.as_secs()))?
        .map_err(fail)?;
    if !response.status().is_success() {
        return Err(format!("cannot fetch {shown}: the server answered {}", response.status()));
    }
    let mut body = Vec::new();
    loop {
        let chunk = tokio::time::timeout(options.read_timeout, response.chunk())
            .await
            .map_err(|_| format!("cannot fetch {shown}: stalled"))?
            .map_err(fail)?;
        let Some(chunk) = chunk else { break };
        body.extend_from_slice(&chunk);
        if body.len() > MAX_TEXT {
            return Err(format!("cannot use {shown}: larger than {} MiB", MAX_TEXT >> 20));
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}
