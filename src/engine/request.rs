//! Sending one request, the same for a download's first answer and for each segment's: a GET
//! with the range it asks for (guarded by `If-Range`), raced against the item's token and the
//! answer timeout, and a failed request or body in words. Depends on reqwest, hyper's error
//! kinds, and the engine's errors, options, client and shared transfer state.

use std::error::Error as _;

use reqwest::header;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::cookie_store::engine_cookies;
use super::error::{DownloadError, answer_timeout};
use super::http::{RedirectError, build_client, build_http1_client};
use super::job::{Job, Shared};
use super::netrc::Netrc;
use super::options::EngineOptions;
use super::settings::{ItemSettings, join_cookies};
use super::urls::redact_url;

/// What a request asks for, and so what its answer is judged against (`answer::classify`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    /// `Range: bytes=START-` (`None` end) or `bytes=START-END` (END inclusive); `None`: the
    /// whole file.
    pub range: Option<(u64, Option<u64>)>,
    /// The validator guarding the bytes on disk, sent as `If-Range` with a range.
    pub validator: Option<&'a str>,
    /// The size of the file the bytes on disk belong to, when known.
    pub total: Option<u64>,
}

impl Asked<'_> {
    /// The whole file, from its first byte.
    pub fn whole() -> Self {
        Self::default()
    }
}

/// Why a request brought no answer.
#[derive(Debug)]
pub enum Unanswered {
    /// The token fired first.
    Stopped,
    Failed(DownloadError),
}

/// Sends a GET for `asked` and waits for the status and headers: until `stop` fires, or the
/// answer timeout passes (a server that accepts the connection and stays silent would
/// otherwise hold the item forever).
pub async fn send(
    shared: &Shared,
    job: &Job,
    url: &Url,
    asked: &Asked<'_>,
    stop: &CancellationToken,
) -> Result<reqwest::Response, Unanswered> {
    let opts = &shared.options;
    let own = job.settings.as_deref();
    // A range asks for the bytes of a big file: HTTP/1.1 (see `http::build_http1_client`).
    let client = match own.and_then(|s| s.proxy.as_deref()) {
        Some(proxy) => {
            let (first, ranges) = proxied(shared, proxy).map_err(Unanswered::Failed)?;
            if asked.range.is_some() { ranges } else { first }
        }
        None if asked.range.is_some() => shared.http1().clone(),
        None => shared.client.clone(),
    };
    let netrc = match own {
        Some(s) => s.netrc(opts.netrc.as_ref()),
        None => opts.netrc.as_ref(),
    };
    // Servers that can send the file's digest are asked to (RFC 9530): a checksum for free.
    let mut request = client
        .get(with_login(netrc, own, url))
        .header("want-repr-digest", super::digest_header::WANT_REPR_DIGEST);
    // The client picks each URL's cookies, redirects included (`cookie_store`). A download's
    // own cookies (a rule's file, a pasted curl) go with those in a header set here for its
    // first URL: reqwest then adds none, keeps this one on a redirect to the same host, and
    // drops it (as it drops a netrc login's `Authorization`) on one to another host, whose
    // own cookies the client then adds. Nothing reaches a host it was not given for.
    if let Some(own) = own.and_then(|s| s.cookie_header(url)) {
        let engine = engine_cookies(&opts.cookies, &opts.session_cookies, url);
        request = request.header(header::COOKIE, join_cookies(engine, Some(own)).unwrap_or_default());
    }
    // The item's own headers replace the client's defaults of the same name.
    for (name, value) in own.map(ItemSettings::headers).unwrap_or_default() {
        request = request.header(name, value);
    }
    if let Some((start, end)) = asked.range {
        let end = end.map(|e| e.to_string()).unwrap_or_default();
        request = request.header(header::RANGE, format!("bytes={start}-{end}"));
        if let Some(validator) = asked.validator {
            request = request.header(header::IF_RANGE, validator);
        }
    }
    let within = answer_timeout(opts.connect_timeout, opts.read_timeout);
    tokio::select! {
        () = stop.cancelled() => Err(Unanswered::Stopped),
        () = tokio::time::sleep(within) => {
            Err(Unanswered::Failed(DownloadError::NoAnswer { url: redact_url(url), after: within }))
        }
        sent = request.send() => sent.map_err(|e| Unanswered::Failed(send_error(&e, url, opts))),
    }
}

/// The two clients for `proxy`, made on first use with the engine's other settings.
fn proxied(shared: &Shared, proxy: &str) -> Result<(reqwest::Client, reqwest::Client), DownloadError> {
    let mut made = shared.proxied.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(clients) = made.get(proxy) {
        return Ok(clients.clone());
    }
    let options = EngineOptions { proxy: Some(proxy.to_string()), ..shared.options.clone() };
    let fail = |e: super::error::EngineError| DownloadError::Connect {
        url: super::urls::redact_str(proxy),
        reason: e.to_string(),
    };
    let clients = (build_client(&options).map_err(fail)?, build_http1_client(&options).map_err(fail)?);
    made.insert(proxy.to_string(), clients.clone());
    Ok(clients)
}

/// `url` with the login for its host: the download's own (a pasted `curl -u`) for that host,
/// else the `.netrc` one, when the URL names no password itself (the URL's own
/// `user:password@` wins, as in curl; a URL naming only a user takes that user's entry).
/// Given as the URL's user info, reqwest turns it into an `Authorization` header and takes it
/// out of the URL, so it shows in no error or response URL. Never looked up for a proxy.
fn with_login(netrc: Option<&Netrc>, own: Option<&ItemSettings>, url: &Url) -> Url {
    let Some(host) = url.host_str() else { return url.clone() };
    if url.password().is_some() {
        return url.clone();
    }
    let user = Some(url.username()).filter(|u| !u.is_empty());
    let login = own
        .and_then(|s| s.login_for(host).cloned())
        .or_else(|| netrc.and_then(|n| n.credentials_for(host, user)).filter(|c| c.password.is_some()));
    let Some(login) = login else { return url.clone() };
    let mut with_login = url.clone();
    // Both fail only for URLs without a host, excluded above.
    if with_login.set_username(&login.login).is_err()
        || with_login.set_password(login.password.as_deref()).is_err()
    {
        return url.clone();
    }
    with_login
}

/// Words for a failed request: redirect problems, answers that are not HTTP, timeouts,
/// refused connections.
pub fn send_error(e: &reqwest::Error, asked: &Url, options: &EngineOptions) -> DownloadError {
    let url = e.url().map_or_else(|| redact_url(asked), redact_url);
    if e.is_redirect() {
        let limit = options.max_redirects;
        let too_many = |circular| DownloadError::TooManyRedirects { url: redact_url(asked), limit, circular };
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<RedirectError>() {
                return match r {
                    RedirectError::TooMany { circular } => too_many(*circular),
                    RedirectError::Scheme(target) => DownloadError::RedirectScheme { url: target.clone() },
                };
            }
            source = s.source();
        }
        return too_many(false);
    }
    if let Some(reason) = not_http(e) {
        return DownloadError::NotHttp { url, reason };
    }
    if e.is_timeout() {
        return DownloadError::ConnectTimeout { url, after: options.connect_timeout };
    }
    if let Some(reason) = tls_failure(e) {
        return DownloadError::TlsHandshake { url, reason };
    }
    if e.is_connect() {
        let reason = innermost_reason(e);
        // rustls says "invalid peer certificate: UnknownIssuer"; retrying cannot fix that, and
        // the person needs to hear what to do about it.
        if let Some(why) = reason.strip_prefix("invalid peer certificate: ") {
            return DownloadError::Certificate { url, reason: certificate_reason(why) };
        }
        return DownloadError::Connect { url, reason };
    }
    DownloadError::Network { url, reason: innermost_reason(e) }
}

/// Reading an answer's body failed: the connection was lost (`url` is the one shown).
pub fn body_error(e: &reqwest::Error, url: String) -> DownloadError {
    DownloadError::Network { url, reason: innermost_reason(e) }
}

/// The parser's complaint when the server's answer could not be read as an HTTP response at
/// all (another protocol, a broken status line or header, a header block too large). Such a
/// server says the same on every attempt, so it is not worth retrying.
fn not_http(e: &reqwest::Error) -> Option<String> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && h.is_parse()
        {
            return Some(h.to_string());
        }
        source = s.source();
    }
    None
}

/// Why the TLS handshake failed, when it did for a reason other than the certificate (which
/// `send_error` explains on its own). rustls's error reaches here wrapped in `io::Error`s,
/// whose `source()` skips what they wrap, so each is unwrapped by hand.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut source = e.source();
    while let Some(s) = source {
        let mut wrapped: Option<&(dyn std::error::Error + 'static)> = Some(s);
        while let Some(io) = wrapped.and_then(|w| w.downcast_ref::<std::io::Error>()) {
            wrapped = io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        match wrapped.and_then(|w| w.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(_)) => return None,
            Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
                return Some("the server does not speak TLS there (is it http://, or another port?)".into());
            }
            Some(other) => return Some(other.to_string()),
            None => source = s.source(),
        }
    }
    None
}

/// rustls's certificate error names in words.
fn certificate_reason(why: &str) -> String {
    match why {
        "UnknownIssuer" => "issued by an unknown authority, perhaps self-signed".into(),
        "NotValidForName" => "issued for another host name".into(),
        "Expired" => "expired".into(),
        "NotValidYet" => "not valid yet".into(),
        "Revoked" => "revoked".into(),
        "BadSignature" => "bad signature".into(),
        other if other.starts_with("NotValidForNameContext") => "issued for another host name".into(),
        other => other.to_string(),
    }
}

/// The most specific cause in an error chain ("Connection refused (os error 111)").
fn innermost_reason(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}
/// Drops an answer that may still be mid-body and lets its connection close before this task
/// goes on. hyper closes such a connection from its own task, which the drop wakes; until that
/// task runs the socket stays open, and a worker that asked for its next range at once (or gave
/// its place at the host to another download) would open a new connection first, one more than
/// the per-host cap for a moment. Yielding lets the woken task run first: tokio runs a task
/// woken on this thread before the yielding one. reqwest offers no way to await the close
/// itself (its connections are opaque), so this ordering is what keeps the cap exact.
pub async fn close_before_next(response: reqwest::Response) {
    drop(response);
    tokio::task::yield_now().await;
}
