//! The test HTTP server: a real axum server on 127.0.0.1:0 whose behaviour each request picks
//! with query parameters, so one server can be well-behaved and hostile in every way a
//! download manager meets. It logs every request for assertions. Test-only code.
//!
//! `GET /f/NAME?size=N&…` serves N deterministic bytes (seeded by NAME) with these options:
//! - `ranges=0`: ignore `Range` (always 200 with the whole body)
//! - `ranges=ignore`: announce `Accept-Ranges: bytes`, yet answer every range with the whole
//!   body and a `200` (servers and proxies that do this exist)
//! - `redirect_self=K`: the first K requests are redirected to the very same URL (a server
//!   setting a cookie, or preparing the file) before it is served
//! - `etag=0`: no ETag; `lastmod=1`: send Last-Modified (implies no ETag unless etag=1)
//! - `changing=1`: every request serves a new version (different bytes, ETag, Last-Modified)
//! - `bad_range=1`: answer ranged requests with a 206 whose Content-Range starts elsewhere
//! - `lying_206=1`: answer ranged requests with 206 and a different ETag (and other bytes)
//! - `throttle=BYTES_PER_SEC`
//! - `slow_nth=N&slow_after=K&slow_rate=R`: the Nth request (counting from 1) slows to R bytes
//!   a second after K body bytes (a path that turns bad mid-file)
//! - `shared_rate=R`: all bodies of this file in flight share R bytes a second (a link that more
//!   connections do not make faster)
//! - `drop_after=N&drop_times=K`: the first K requests drop the connection after N body bytes
//! - `stall_after=N&stall_times=K`: the first K requests stop sending after N body bytes
//! - `corrupt=1&corrupt_times=K`: the first K requests get the body's first byte flipped (same
//!   ETag: a bad cache that only a checksum catches)
//! - `short=N&short_times=K`: the first K requests announce the full length but send N fewer
//! - `status=CODE&status_times=K&retry_after=V`: the first K requests get CODE (default all)
//! - `chunked=1`: no Content-Length (chunked transfer encoding)
//! - `cd=VALUE`: Content-Disposition header, verbatim (UTF-8); with `cd_latin1=1` each character
//!   is sent as its one ISO-8859-1 byte instead, as older servers do
//! - `gzip=1`: gzip the body when the client accepts gzip (as many servers do)
//! - `gate=1`: send the first 1 KiB, then wait for `TestServer::release` before the rest
//! - `type=MIME`: Content-Type
//! - `limit=N`: answer 503 while N bodies of this file are already being sent (a server that
//!   refuses more connections per client)
//! - `silent_ranged=K`: ranged requests among the first K+1 requests get no answer at all
//! - `expire_after=K&expire_status=CODE`: a signed link that expires: requests for this exact
//!   URL (path and query) after the K-th get CODE (default 403); another query is another link
//! - `auth=B64`: answer 401 (with `WWW-Authenticate: Basic`) unless the request carries
//!   `Authorization: Basic B64` (`dTpw` is `u:p`)
//! - `cookie=NAME=VALUE`: answer 403 unless the request's `Cookie` header holds that pair
//! - `repr=ALGO`, `digest=ALGO`, `content_digest=ALGO` (sha256, sha512, sha1, md5): send the
//!   file's digest as `Repr-Digest`, RFC 3230 `Digest`, or `Content-Digest` (of the body sent);
//!   with `wrong=1` the digest is of other bytes
//! - `raw_header=NAME:VALUE`: one more header, verbatim (malformed digests)
//! - `need_header=NAME:VALUE`: answer 403 unless the request carries that header with that value
//!
//! Other routes: `/redirect/N/REST` redirects N times then to `/REST`; `/loop/a` ↔ `/loop/b`;
//! `/to?url=U` redirects to U; `/echo-headers` returns the request headers as text;
//! `/text/NAME?body=TEXT` answers TEXT (a checksum file); `/sib/SIZE/MODE/NAME` serves the
//! file NAME of SIZE bytes with checksums beside it: MODE `own` answers `NAME.sha256`, MODE
//! `sums` answers `SHA256SUMS` (right for `sib.bin`, wrong for `bad.bin`), others 404.
//! `TestServer::garbage()` starts a TCP listener that answers with bytes that are not HTTP.
//! `raw.rs` scripts byte-exact answers hyper would refuse to send (more bytes than
//! Content-Length, a chunked body cut short); `tls.rs` serves these routes over HTTPS with a
//! certificate made in the test; `TestServer::start_on` brings a server up on a given port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::stream::{self, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use conns::{Conn, WatchedListener};

pub mod conns;
pub mod harness;
pub mod process;
pub mod proxy;
pub mod raw;
pub mod session;
pub mod tls;
pub mod tmpfs;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub query: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub headers: HeaderMap,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
}

struct Inner {
    log: Mutex<Vec<Logged>>,
    /// Requests seen per path (path + query), for `*_times` options.
    counts: Mutex<HashMap<String, usize>>,
    /// Bodies being sent right now, and the most at once.
    active: AtomicUsize,
    max_active: AtomicUsize,
    /// Generated bodies, so large files are made once, not on every request.
    bodies: Mutex<HashMap<(String, usize, usize), Bytes>>,
    /// Bodies in flight per file name, for `limit`.
    per_name: Mutex<HashMap<String, usize>>,
    /// Bodies in flight, checked for closed connections by `sweep`.
    flights: Mutex<Vec<Arc<InFlight>>>,
    gate: Semaphore,
}

#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// Serves on a listener the test bound itself, e.g. on the port of a server that was down.
    /// A body counts as in flight until it is sent or the client closes its connection
    /// (`conns.rs` tells).
    pub fn start_on(listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let (server, app) = Self::new(addr);
        let app = app.into_make_service_with_connect_info::<Conn>();
        tokio::spawn(async move {
            axum::serve(WatchedListener(listener), app).await.unwrap();
        });
        server
    }

    /// Serves the same routes on any axum listener (the TLS one in `tls.rs`). There a body
    /// counts as in flight until it is sent or a write to its connection fails.
    pub fn serve<L>(listener: L, addr: SocketAddr) -> Self
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let (server, app) = Self::new(addr);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        server
    }

    fn new(addr: SocketAddr) -> (Self, Router) {
        let inner = Arc::new(Inner {
            log: Mutex::default(),
            counts: Mutex::default(),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            per_name: Mutex::default(),
            flights: Mutex::default(),
            bodies: Mutex::default(),
            gate: Semaphore::new(0),
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&inner));
        (Self { addr, inner }, app)
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.inner.log.lock().unwrap().clone()
    }

    /// Requests whose path is `path` (query ignored).
    pub fn requests_for(&self, path: &str) -> Vec<Logged> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Bodies being sent right now (on connections the client has not closed).
    pub fn active(&self) -> usize {
        self.inner.sweep();
        self.inner.active.load(Ordering::SeqCst)
    }

    pub fn max_active(&self) -> usize {
        self.inner.max_active.load(Ordering::SeqCst)
    }

    /// Lets `n` gated bodies finish.
    pub fn release(&self, n: usize) {
        self.inner.gate.add_permits(n);
    }

    /// A TCP server that answers every connection with bytes that are not HTTP.
    pub async fn garbage() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 1024];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(b"\x00\xffSSH-2.0-nonsense\r\n\r\n\x01\x02garbage").await;
                });
            }
        });
        addr
    }
}

/// Waits until `cond` holds, polling; panics with `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts the file at `path` holds exactly `expected`, reporting the first difference rather
/// than dumping megabytes.
#[track_caller]
pub fn assert_file(path: &std::path::Path, expected: &[u8]) {
    let actual = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if actual != expected {
        let at =
            actual.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(actual.len().min(expected.len()));
        panic!(
            "{}: {} bytes, expected {}; first difference at byte {at}",
            path.display(),
            actual.len(),
            expected.len()
        );
    }
}

/// The deterministic bytes `/f/NAME?size=N` serves (version 0).
pub fn content(name: &str, size: usize) -> Vec<u8> {
    content_version(name, 0, size)
}

/// Bytes for a given version of a file: xorshift seeded by the name and version.
pub fn content_version(name: &str, version: usize, size: usize) -> Vec<u8> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ (version as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
    for b in name.bytes() {
        seed = seed.rotate_left(5) ^ u64::from(b);
        seed = seed.wrapping_mul(0x100_0000_01B3);
    }
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(size);
    out
}

fn cached_content(inner: &Inner, name: &str, version: usize, size: usize) -> Bytes {
    let key = (name.to_string(), version, size);
    if let Some(body) = inner.bodies.lock().unwrap().get(&key) {
        return body.clone();
    }
    let body = Bytes::from(content_version(name, version, size));
    inner.bodies.lock().unwrap().insert(key, body.clone());
    body
}

fn params(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let conn = req.extensions().get::<ConnectInfo<Conn>>().map(|c| c.0.clone());
    let get = |name: &header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    inner.log.lock().unwrap().push(Logged {
        path: path.clone(),
        query: query.clone(),
        range: get(&header::RANGE),
        if_range: get(&header::IF_RANGE),
        headers: headers.clone(),
        version: format!("{:?}", req.version()),
    });
    let nth = {
        let mut counts = inner.counts.lock().unwrap();
        let n = counts.entry(format!("{path}?{query}")).or_insert(0);
        *n += 1;
        *n
    };
    let p = params(&query);
    if let Some(rest) = path.strip_prefix("/redirect/") {
        let (n, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let n: usize = n.parse().unwrap_or(0);
        let to = if n <= 1 { format!("/{rest}") } else { format!("/redirect/{}/{rest}", n - 1) };
        let to = if query.is_empty() { to } else { format!("{to}?{query}") };
        return redirect(&to);
    }
    match path.as_str() {
        "/loop/a" => return redirect("/loop/b"),
        "/loop/b" => return redirect("/loop/a"),
        "/to" => {
            let mut r = redirect(p.get("url").map_or("/", String::as_str));
            // `set_cookie=NAME=VALUE`: the redirect sets a cookie, as login gates do.
            if let Some(cookie) = p.get("set_cookie") {
                r.headers_mut()
                    .insert(header::SET_COOKIE, HeaderValue::from_str(&format!("{cookie}; Path=/")).unwrap());
            }
            return r;
        }
        _ if path.starts_with("/text/") => {
            return Response::new(Body::from(p.get("body").cloned().unwrap_or_default()));
        }
        "/echo-headers" => {
            let text: String =
                headers.iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("?"))).collect();
            return Response::new(Body::from(text));
        }
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/sib/") {
        let mut parts = rest.splitn(3, '/');
        let (size, mode, name) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let size: usize = size.parse().unwrap_or(1024);
        let own = name.strip_suffix(".sha256");
        return match (mode, own, name) {
            ("own", Some(file), _) => {
                Response::new(Body::from(format!("{}  {file}\n", sha256_hex(&content(file, size)))))
            }
            ("sums", None, "SHA256SUMS") => Response::new(Body::from(format!(
                "{}  sib.bin\n{}  bad.bin\n",
                sha256_hex(&content("sib.bin", size)),
                "00".repeat(32)
            ))),
            (_, Some(_), _) | (_, None, "SHA256SUMS") => status(StatusCode::NOT_FOUND),
            _ => {
                let mut p = p;
                p.insert("size".into(), size.to_string());
                serve_file(&inner, name, &p, &headers, nth, conn).await
            }
        };
    }
    if num(&p, "redirect_self").is_some_and(|k| nth <= k) {
        return redirect(&format!("{path}?{query}"));
    }
    let Some(name) = path.strip_prefix("/f/") else {
        return status(StatusCode::NOT_FOUND);
    };
    serve_file(&inner, name, &p, &headers, nth, conn).await
}

fn redirect(to: &str) -> Response {
    let mut r = status(StatusCode::FOUND);
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(to).unwrap());
    r
}

fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

/// Whether option `key` applies to the `nth` request (`key_times` limits it to the first K).
fn applies(p: &HashMap<String, String>, key: &str, nth: usize) -> bool {
    p.get(&format!("{key}_times")).and_then(|k| k.parse::<usize>().ok()).is_none_or(|k| nth <= k)
}

fn num(p: &HashMap<String, String>, key: &str) -> Option<usize> {
    p.get(key).and_then(|v| v.parse().ok())
}

async fn serve_file(
    inner: &Arc<Inner>,
    name: &str,
    p: &HashMap<String, String>,
    req: &HeaderMap,
    nth: usize,
    conn: Option<Conn>,
) -> Response {
    let sent = |name: header::HeaderName| req.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Some(want) = p.get("auth")
        && sent(header::AUTHORIZATION) != format!("Basic {want}")
    {
        let mut r = status(StatusCode::UNAUTHORIZED);
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"test\""));
        return r;
    }
    if let Some(want) = p.get("cookie")
        && !sent(header::COOKIE).split(';').any(|pair| pair.trim() == want)
    {
        return status(StatusCode::FORBIDDEN);
    }
    if let Some((name, value)) = p.get("need_header").and_then(|h| h.split_once(':'))
        && req.get(name).and_then(|v| v.to_str().ok()) != Some(value)
    {
        return status(StatusCode::FORBIDDEN);
    }
    if let Some(code) = num(p, "status").filter(|_| applies(p, "status", nth)) {
        let mut r = status(StatusCode::from_u16(code as u16).unwrap());
        if let Some(after) = p.get("retry_after") {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_str(after).unwrap());
        }
        return r;
    }
    if num(p, "expire_after").is_some_and(|k| nth > k) {
        let code = num(p, "expire_status").unwrap_or(403);
        return status(StatusCode::from_u16(code as u16).unwrap());
    }
    if let Some(k) = num(p, "silent_ranged")
        && req.contains_key(header::RANGE)
        && nth <= k + 1
    {
        // Accepts the request and never answers: no status line, no headers.
        std::future::pending::<()>().await;
    }
    // Counted from here so concurrent requests cannot all slip under `limit`; bodies on
    // connections the client closed no longer count.
    inner.sweep();
    let name_guard = NameGuard::new(inner, name);
    if num(p, "limit").is_some_and(|limit| name_guard.count > limit) {
        return status(StatusCode::SERVICE_UNAVAILABLE);
    }
    let size = num(p, "size").unwrap_or(1024);
    let version = if p.get("changing").is_some_and(|v| v == "1") { nth } else { 0 };
    let body = cached_content(inner, name, version, size);
    let etag = format!("\"{name}-v{version}\"");
    let last_modified = format!("Sun, 06 Nov 1994 08:{:02}:37 GMT", version % 60);
    let send_etag =
        (p.contains_key("etag") || !p.contains_key("lastmod")) && p.get("etag").is_none_or(|v| v != "0");
    let send_lastmod = p.get("lastmod").is_some_and(|v| v == "1");

    let mut resp = Response::builder();
    let mut etag_sent = send_etag.then(|| etag.clone());
    if send_lastmod {
        resp = resp.header(header::LAST_MODIFIED, &last_modified);
    }
    if let Some(cd) = p.get("cd") {
        let value = if p.contains_key("cd_latin1") {
            let bytes: Vec<u8> =
                cd.chars().map(|c| u8::try_from(c).expect("cd_latin1: a character above U+00FF")).collect();
            HeaderValue::from_bytes(&bytes).unwrap()
        } else {
            HeaderValue::from_str(cd).unwrap()
        };
        resp = resp.header(header::CONTENT_DISPOSITION, value);
    }
    resp =
        resp.header(header::CONTENT_TYPE, p.get("type").map_or("application/octet-stream", String::as_str));
    let announce_ranges = p.get("ranges").is_none_or(|v| v != "0");
    let ranges = p.get("ranges").is_none_or(|v| v != "0" && v != "ignore");
    if announce_ranges {
        resp = resp.header(header::ACCEPT_RANGES, "bytes");
    }

    // Work out which bytes to send.
    let wants_range = req.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(parse_range);
    let if_range_ok = match req.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => (send_etag && v == etag) || (send_lastmod && v == last_modified),
    };
    let (code, start, end) = match wants_range {
        Some((start, _)) if ranges && if_range_ok && start >= size as u64 => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .unwrap();
        }
        Some((start, end)) if ranges && if_range_ok => {
            let end = end.map_or(size as u64 - 1, |e| e.min(size as u64 - 1));
            (StatusCode::PARTIAL_CONTENT, start as usize, end as usize + 1)
        }
        _ => (StatusCode::OK, 0, size),
    };
    let mut slice = body.slice(start..end);
    resp = resp.status(code);
    if code == StatusCode::PARTIAL_CONTENT {
        let (shown_start, shown_end) =
            if p.contains_key("bad_range") { (start + 1, end) } else { (start, end - 1) };
        resp = resp.header(header::CONTENT_RANGE, format!("bytes {shown_start}-{shown_end}/{size}"));
        if p.contains_key("lying_206") {
            // Claims to continue, but it is a new version with a new ETag.
            let other = content_version(name, nth + 1000, size);
            slice = Bytes::from(other).slice(start..end);
            etag_sent = Some(format!("\"{name}-other{nth}\""));
        }
    }

    if p.contains_key("corrupt") && applies(p, "corrupt", nth) && !slice.is_empty() {
        // One byte wrong, same ETag: a bad cache or link that a checksum catches.
        let mut bytes = slice.to_vec();
        bytes[0] ^= 0xff;
        slice = Bytes::from(bytes);
    }

    let gzip = p.contains_key("gzip")
        && req.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("gzip"));
    if gzip {
        slice = Bytes::from(gzip_store(&slice));
        resp = resp.header(header::CONTENT_ENCODING, "gzip");
    }

    if let Some(etag) = etag_sent {
        resp = resp.header(header::ETAG, etag);
    }
    let wrong = p.contains_key("wrong");
    let of =
        |bytes: &[u8]| if wrong { content_version(name, 999, bytes.len().max(1)) } else { bytes.to_vec() };
    for (key, name, rfc3230) in [
        ("repr", "repr-digest", false),
        ("digest", "digest", true),
        ("content_digest", "content-digest", false),
    ] {
        if let Some(algo) = p.get(key) {
            let bytes = if key == "content_digest" { of(&slice) } else { of(&body) };
            resp = resp.header(name, digest_header(algo, &bytes, rfc3230));
        }
    }
    if let Some((name, value)) = p.get("raw_header").and_then(|h| h.split_once(':')) {
        resp = resp.header(name, value);
    }
    let announced = slice.len();
    let chunked = p.contains_key("chunked");
    if !chunked {
        resp = resp.header(header::CONTENT_LENGTH, announced);
    }
    let mut limit = announced;
    let mut ending = Ending::Complete;
    if let Some(n) = num(p, "drop_after").filter(|_| applies(p, "drop", nth)) {
        limit = limit.min(n);
        ending = Ending::Drop;
    } else if let Some(n) = num(p, "stall_after").filter(|_| applies(p, "stall", nth)) {
        limit = limit.min(n);
        ending = Ending::Stall;
    } else if let Some(n) = num(p, "short").filter(|_| applies(p, "short", nth)) {
        limit = limit.saturating_sub(n);
    }
    let slow = num(p, "slow_nth")
        .filter(|n| *n == nth)
        .map(|_| (num(p, "slow_after").unwrap_or(0), num(p, "slow_rate").unwrap_or(100_000)));
    let shared = num(p, "shared_rate").map(|rate| (Arc::clone(inner), name.to_string(), rate));
    let pace = Pace { throttle: num(p, "throttle"), slow, shared };
    let body = body_stream(
        InFlight::start(inner, name_guard, conn),
        slice.slice(..limit),
        ending,
        pace,
        p.contains_key("gate"),
    );
    resp.body(body).unwrap()
}

#[derive(Clone, Copy, PartialEq)]
enum Ending {
    Complete,
    Drop,
    Stall,
}

/// A body being sent: counted in `active` (and for its file name) from its start until it
/// ends, however it ends (finished, dropped, failed write), or until the client is seen to
/// have closed its connection (`Inner::sweep`), whichever comes first.
struct InFlight {
    /// Some while the body is counted.
    name: Mutex<Option<NameGuard>>,
    conn: Mutex<Option<Conn>>,
}

impl InFlight {
    fn start(inner: &Arc<Inner>, name: NameGuard, conn: Option<Conn>) -> ActiveGuard {
        inner.sweep();
        let flight = Arc::new(Self { name: Mutex::new(Some(name)), conn: Mutex::new(conn) });
        let now = inner.active.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_active.fetch_max(now, Ordering::SeqCst);
        inner.flights.lock().unwrap().push(Arc::clone(&flight));
        ActiveGuard(Arc::clone(inner), flight)
    }

    /// Stops counting this body; only the first call counts. Lets go of the connection, so a
    /// connection hyper closed is not held open by this handle.
    fn end(&self, inner: &Inner) {
        if let Some(name) = self.name.lock().unwrap().take() {
            inner.active.fetch_sub(1, Ordering::SeqCst);
            drop(name);
            self.conn.lock().unwrap().take();
        }
    }
}

impl Inner {
    /// Stops counting bodies whose client has closed the connection. Run before a body is
    /// counted and before `active` is read, so both see every close that has happened.
    fn sweep(&self) {
        self.flights.lock().unwrap().retain(|flight| {
            if flight.conn.lock().unwrap().as_ref().is_some_and(Conn::is_closed) {
                flight.end(self);
            }
            flight.name.lock().unwrap().is_some()
        });
    }
}

/// Held by the body stream: ends the count when the stream is dropped.
struct ActiveGuard(Arc<Inner>, Arc<InFlight>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.1.end(&self.0);
    }
}

/// Counts a request for a file name from its arrival until its body ends.
struct NameGuard {
    inner: Arc<Inner>,
    name: String,
    /// Requests for this name in flight, this one included.
    count: usize,
}

impl NameGuard {
    fn new(inner: &Arc<Inner>, name: &str) -> Self {
        let mut map = inner.per_name.lock().unwrap();
        let n = map.entry(name.to_string()).or_insert(0);
        *n += 1;
        Self { inner: Arc::clone(inner), name: name.to_string(), count: *n }
    }
}

impl Drop for NameGuard {
    fn drop(&mut self) {
        if let Some(n) = self.inner.per_name.lock().unwrap().get_mut(&self.name) {
            *n -= 1;
        }
    }
}

/// How fast a body is sent: `throttle` bytes a second, `slow`'s rate after its offset, or a
/// share of `shared`'s rate (file name, bytes a second) with the file's other bodies.
#[derive(Clone)]
struct Pace {
    throttle: Option<usize>,
    slow: Option<(usize, usize)>,
    shared: Option<(Arc<Inner>, String, usize)>,
}

impl Pace {
    fn rate_at(&self, sent: usize) -> Option<usize> {
        if let Some((inner, name, rate)) = &self.shared {
            let bodies = inner.per_name.lock().unwrap().get(name).copied().unwrap_or(1);
            return Some(rate / bodies.max(1));
        }
        match self.slow {
            Some((after, rate)) if sent >= after => Some(rate),
            _ => self.throttle,
        }
    }
}

fn body_stream(guard: ActiveGuard, data: Bytes, ending: Ending, pace: Pace, gate: bool) -> Body {
    let state = (data, 0usize, guard, false);
    let s = stream::unfold(state, move |(data, sent, guard, gated)| {
        let pace = pace.clone();
        async move {
            if gate && !gated && sent >= 1024.min(data.len()) {
                guard.0.gate.acquire().await.unwrap().forget();
                return Some((Ok(Bytes::new()), (data, sent, guard, true)));
            }
            if sent >= data.len() {
                return match ending {
                    Ending::Complete => None,
                    // hyper aborts the connection at the first error and polls no more. The pause
                    // first lets it flush what was sent, as a real mid-body drop would have.
                    Ending::Drop => {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        Some((Err(std::io::Error::other("dropped on purpose")), (data, sent, guard, gated)))
                    }
                    Ending::Stall => {
                        std::future::pending::<()>().await;
                        None
                    }
                };
            }
            let throttle = pace.rate_at(sent);
            let chunk = throttle.map_or(16 * 1024, |rate| (rate / 20).clamp(1, 16 * 1024));
            let mut n = chunk.min(data.len() - sent);
            if gate && !gated {
                n = n.min(1024 - sent);
            }
            if let Some(rate) = throttle {
                tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
            }
            // The client may act on the last byte (finish, then open its next connection to
            // this host) before hyper polls this stream again to see it end: a complete body
            // stops being counted as its last piece goes out, or a loaded machine shows one
            // connection too many that the client never had.
            if ending == Ending::Complete && sent + n == data.len() {
                guard.1.end(&guard.0);
            }
            let piece = data.slice(sent..sent + n);
            Some((Ok::<Bytes, std::io::Error>(piece), (data, sent + n, guard, gated)))
        }
    });
    Body::from_stream(s.boxed())
}

/// `sha-256=:BASE64:` (RFC 9530) or `SHA-256=BASE64` (RFC 3230) for `bytes`.
pub fn digest_header(algo: &str, bytes: &[u8], rfc3230: bool) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let (name, digest) = match algo {
        "sha512" => ("sha-512", sha2::Sha512::digest(bytes).to_vec()),
        "sha1" => ("sha", sha1::Sha1::digest(bytes).to_vec()),
        "md5" => ("md5", md5::Md5::digest(bytes).to_vec()),
        _ => ("sha-256", sha2::Sha256::digest(bytes).to_vec()),
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    if rfc3230 { format!("{}={b64}", name.to_uppercase()) } else { format!("{name}=:{b64}:") }
}

/// Lower-case hex sha256 of `bytes`, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_range(v: &str) -> Option<(u64, Option<u64>)> {
    let spec = v.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() { None } else { Some(b.trim().parse().ok()?) };
    Some((start, end))
}

/// A valid gzip stream using stored (uncompressed) deflate blocks: enough to prove the client
/// did not decode or request it, without a compression crate.
fn gzip_store(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.write_all(&crc32(data).to_le_bytes()).unwrap();
    out.write_all(&(data.len() as u32).to_le_bytes()).unwrap();
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
