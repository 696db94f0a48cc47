//! Logins and cookies against the real test server: a `.netrc` login opens a route that
//! demands Basic auth, cookies from a cookies.txt open one that demands a cookie, `-H @FILE`
//! headers are sent, and none of them reaches another host after a redirect. The other host
//! is the same server reached as `localhost` instead of `127.0.0.1`: another name, so for
//! the client another host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use dlm::engine::{CookieJar, Netrc};
use support::harness::{Harness, completed_path, failure};
use support::proxy::Proxy;
use support::{TestServer, assert_file, content};

/// `u:p` in Base64, as the server's `auth=` option wants it.
const U_P: &str = "dTpw";
const PASSWORD: &str = "s3cr3t-pw";
/// `alice:s3cr3t-pw` in Base64.
const ALICE: &str = "YWxpY2U6czNjcjN0LXB3";

fn netrc(text: &str) -> Netrc {
    Netrc::parse(text, Path::new("test.netrc")).unwrap()
}

fn jar(text: &str) -> CookieJar {
    CookieJar::parse(text, Path::new("cookies.txt")).unwrap()
}

/// `url` with its host named `localhost`: the same server, another host to the client.
fn elsewhere(url: &str) -> String {
    url.replacen("127.0.0.1", "localhost", 1)
}

fn header<'a>(logged: &'a support::Logged, name: &str) -> Option<&'a str> {
    logged.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_netrc_login_opens_a_route_that_demands_basic_auth_on_every_connection() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.netrc = Some(netrc("machine 127.0.0.1 login u password p\n"));
        o.connections = 4;
    });
    let size = 4 << 20;
    let id = h.add(server.url(&format!("/f/big.bin?size={size}&auth={U_P}")));
    let done = h.finish(id).await;
    assert_file(&completed_path(&done), &content("big.bin", size));
    let requests = server.requests_for("/f/big.bin");
    assert!(requests.len() > 1, "segments: {requests:?}");
    assert!(requests.iter().all(|r| header(r, "authorization") == Some("Basic dTpw")));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_login_the_same_route_fails_with_401() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.netrc = Some(netrc("machine other.example login u password p\n")));
    let id = h.add(server.url(&format!("/f/locked?size=100&auth={U_P}")));
    let done = h.finish(id).await;
    assert!(failure(&done).contains("401"), "{done:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_netrc_login_is_not_sent_to_another_host_after_a_redirect() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.netrc = Some(netrc("machine 127.0.0.1 login u password p\n")));
    let target = elsewhere(&server.url("/f/moved.bin?size=3000"));
    let id = h.add(server.url(&format!("/to?url={}", urlencode(&target))));
    let done = h.finish(id).await;
    assert_file(&completed_path(&done), &content("moved.bin", 3000));
    let asked = server.requests_for("/to");
    assert_eq!(header(&asked[0], "authorization"), Some("Basic dTpw"), "sent to its own host");
    let moved = server.requests_for("/f/moved.bin");
    assert!(!moved.is_empty() && moved.iter().all(|r| header(r, "authorization").is_none()), "{moved:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_urls_own_password_wins_over_the_netrc() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.netrc = Some(netrc("machine 127.0.0.1 login u password p\n")));
    let url = server.url("/f/own?size=100&auth=dTI6cDI=").replace("http://", "http://u2:p2@");
    let done = h.finish(h.add(url)).await;
    assert_file(&completed_path(&done), &content("own", 100));
    // A URL naming only the user takes that user's entry.
    let mut h = Harness::with(|o| {
        o.netrc = Some(netrc(&format!(
            "machine 127.0.0.1 login u password p\nmachine 127.0.0.1 login alice password {PASSWORD}\n"
        )));
    });
    let url = server.url(&format!("/f/alice?size=100&auth={ALICE}")).replace("http://", "http://alice@");
    let done = h.finish(h.add(url)).await;
    assert_file(&completed_path(&done), &content("alice", 100));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_netrc_login_goes_to_the_server_never_to_the_proxy() {
    let server = TestServer::start().await;
    let proxy = Proxy::http().await;
    // The proxy is on 127.0.0.1 too: the entry names its host, and still is no proxy login.
    let mut h = Harness::with(|o| {
        o.netrc = Some(netrc("machine 127.0.0.1 login u password p\n"));
        o.proxy = Some(format!("http://{}", proxy.addr));
    });
    let url = server.url(&format!("/f/proxied.bin?size=2000&auth={U_P}"));
    let done = h.finish(h.add(url.clone())).await;
    assert_file(&completed_path(&done), &content("proxied.bin", 2000));
    assert!(proxy.requests().contains(&format!("GET {url}")), "{:?}", proxy.requests());
    assert_eq!(proxy.credentials(), Vec::<String>::new(), "no Proxy-Authorization");
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_open_a_route_that_demands_one_and_stay_on_their_host() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.cookies =
            jar("127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc\n127.0.0.1\tFALSE\t/elsewhere\tFALSE\t0\tnot\tme\n");
    });
    let done = h.finish(h.add(server.url("/f/c.bin?size=500&cookie=sid=abc"))).await;
    assert_file(&completed_path(&done), &content("c.bin", 500));
    assert_eq!(header(&server.requests_for("/f/c.bin")[0], "cookie"), Some("sid=abc"), "path-matched only");

    let target = elsewhere(&server.url("/f/d.bin?size=500&cookie=sid=abc"));
    let done = h.finish(h.add(server.url(&format!("/to?url={}", urlencode(&target))))).await;
    assert!(failure(&done).contains("403"), "{done:?}");
    assert_eq!(header(&server.requests_for("/to")[0], "cookie"), Some("sid=abc"));
    assert!(server.requests_for("/f/d.bin").iter().all(|r| header(r, "cookie").is_none()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_host_carries_that_hosts_own_cookies_only() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| {
        o.cookies =
            jar("127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc\nlocalhost\tFALSE\t/\tFALSE\t0\tmirror\tm1\n");
    });
    let target = elsewhere(&server.url("/f/e.bin?size=500&cookie=mirror=m1"));
    let done = h.finish(h.add(server.url(&format!("/to?url={}", urlencode(&target))))).await;
    assert_file(&completed_path(&done), &content("e.bin", 500));
    assert_eq!(header(&server.requests_for("/to")[0], "cookie"), Some("sid=abc"));
    assert_eq!(header(&server.requests_for("/f/e.bin")[0], "cookie"), Some("mirror=m1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cookie_a_server_sets_on_a_redirect_goes_with_the_next_request() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let target = server.url("/f/gate.bin?size=500&cookie=pass=ok");
    let gate = server.url(&format!("/to?set_cookie=pass=ok&url={}", urlencode(&target)));
    let done = h.finish(h.add(gate)).await;
    assert_file(&completed_path(&done), &content("gate.bin", 500));
    assert_eq!(header(&server.requests_for("/f/gate.bin")[0], "cookie"), Some("pass=ok"));
}

/// Runs `dlm get ARGS` with a clean environment: a temporary HOME (no real ~/.netrc), no
/// proxy, no config file.
async fn dlm_get(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlm"));
    for var in
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NETRC", "DLM_CONFIG", "XDG_CONFIG_HOME"]
    {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).arg("get").args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn dlm_get_reads_netrc_cookies_and_header_files_and_prints_no_secret() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let path = |name: &str| files.path().join(name).to_str().unwrap().to_string();
    std::fs::write(path("netrc"), format!("machine 127.0.0.1\n  login alice\n  password \"{PASSWORD}\"\n"))
        .unwrap();
    let cookies =
        "# Netscape HTTP Cookie File\n#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tcookie-secret\n";
    std::fs::write(path("cookies.txt"), cookies).unwrap();
    std::fs::write(path("headers.txt"), "# sent with every request\nX-Token: header-secret\n").unwrap();
    let url = server.url(&format!("/f/all.bin?size=5000&auth={ALICE}&cookie=sid=cookie-secret"));
    let denied = server.url(&format!("/f/denied?size=10&auth={U_P}"));
    let header_file = format!("@{}", path("headers.txt"));
    let args = ["-o", &path(""), "--netrc-file", &path("netrc"), "--load-cookies", &path("cookies.txt")];
    let (code, err) = dlm_get(home.path(), &[&args[..], &["-H", &header_file, &url, &denied]].concat()).await;
    assert_eq!(code, Some(1), "one download is refused: {err}");
    assert!(err.contains("401"), "{err}");
    assert_file(&files.path().join("all.bin"), &content("all.bin", 5000));
    assert_eq!(header(&server.requests_for("/f/all.bin")[0], "x-token"), Some("header-secret"));
    assert_eq!(header(&server.requests_for("/f/all.bin")[0], "cookie"), Some("sid=cookie-secret"));
    // The route's own URL carries what it checks for; the files' secrets must not show.
    for secret in [PASSWORD, "header-secret"] {
        assert!(!err.contains(secret), "{secret} printed: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dlm_get_reads_the_home_netrc_and_no_netrc_skips_even_a_broken_one() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_str().unwrap();
    let url = server.url(&format!("/f/env.bin?size=100&auth={U_P}"));
    std::fs::write(home.path().join(".netrc"), "machine 127.0.0.1 login u password p\n").unwrap();
    let (code, err) = dlm_get(home.path(), &["-q", "-o", dir, &url]).await;
    assert_eq!(code, Some(0), "~/.netrc is read: {err}");

    std::fs::write(home.path().join(".netrc"), "machine 127.0.0.1 login u password \"p\n").unwrap();
    let (code, err) = dlm_get(home.path(), &["-q", "-o", dir, &url]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(".netrc:1: a quoted value is not closed"), "{err}");

    let (code, err) = dlm_get(home.path(), &["-q", "--no-netrc", "-o", dir, &url]).await;
    assert_eq!(code, Some(1), "no login, so the server's 401: {err}");
    assert!(err.contains("401"), "{err}");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
