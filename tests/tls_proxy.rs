//! HTTPS and proxies through the real `dlm get` binary: a server whose certificate comes from a
//! CA made in the test is refused by default with a message a person can act on, and accepted
//! with `--insecure`, `--ca-file` or the config file's `ca_files`; an HTTP and a SOCKS5 proxy
//! started by the test are used through `--proxy`, the config file and the `*_PROXY`
//! variables, and skipped for `NO_PROXY` hosts. The binary runs as a child process because
//! the environment is process-wide. Proxy passwords never appear in the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::process::{dlm_command, run, stderr};
use support::proxy::Proxy;
use support::tls::TestCa;
use support::{TestServer, assert_file, content};

/// The binary with no proxy variables, no config file and a private HOME.
fn dlm(home: &Path) -> Command {
    let mut cmd = dlm_command();
    cmd.env("HOME", home).env("XDG_CONFIG_HOME", home.join(".config"));
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_certificate_is_refused_with_advice_and_accepted_when_told() {
    let ca = TestCa::new();
    let server = ca.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.https_url("/f/secure.bin?size=90000");

    let mut cmd = dlm(dir.path());
    cmd.args(["get", "-o"]).arg(dir.path().join("refused")).arg(&url);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("certificate"), "the reason names the certificate: {err}");
    assert!(err.contains("--ca-file") && err.contains("--insecure"), "and says what to do: {err}");
    assert!(!dir.path().join("refused/secure.bin").exists());
    assert!(server.requests().is_empty(), "no request was sent over the untrusted connection");
    assert!(!err.contains("retrying"), "a certificate problem is not retried: {err}");

    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "-o"]).arg(dir.path().join("with-ca")).arg("--ca-file").arg(&ca_file).arg(&url);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("with-ca/secure.bin"), &content("secure.bin", 90_000));

    let mut cmd = dlm(dir.path());
    cmd.args(["get", "--insecure", "-o"]).arg(dir.path().join("insecure")).arg(&url);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("insecure/secure.bin"), &content("secure.bin", 90_000));

    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("ca_files = [{:?}]\n", ca_file.display().to_string())).unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "--config"]).arg(&config).arg("-o").arg(dir.path().join("config")).arg(&url);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("config/secure.bin"), &content("secure.bin", 90_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_file_that_is_not_a_certificate_stops_dlm_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-cert.pem");
    std::fs::write(&bad, "hello\n").unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "--ca-file"]).arg(&bad).arg("https://127.0.0.1:9/x");
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&bad.display().to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_proxy_from_the_flag_with_credentials_that_are_never_printed() {
    let server = TestServer::start().await;
    let proxy = Proxy::http().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "-o"]).arg(dir.path());
    cmd.arg("--proxy").arg(format!("http://alice:pr0xy-s3cret@{}", proxy.addr));
    cmd.arg(server.url("/f/via.bin?size=70000")).arg(server.url("/f/missing?status=404"));
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_file(&dir.path().join("via.bin"), &content("via.bin", 70_000));
    let seen = proxy.requests();
    assert!(seen.contains(&format!("GET {}", server.url("/f/via.bin?size=70000"))), "{seen:?}");
    // Basic alice:pr0xy-s3cret
    assert_eq!(proxy.credentials()[0], "Basic YWxpY2U6cHIweHktczNjcmV0");
    assert!(!err.contains("pr0xy-s3cret") && !err.contains("alice"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_proxy_from_the_config_file_also_for_https() {
    let ca = TestCa::new();
    let tls = ca.serve().await;
    let plain = TestServer::start().await;
    let proxy = Proxy::socks5().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "proxy = \"socks5://bob:s0cks-pw@{}\"\nca_files = [{:?}]\n",
            proxy.addr,
            ca_file.display().to_string()
        ),
    )
    .unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "--config"]).arg(&config).arg("-o").arg(dir.path().join("out"));
    cmd.arg(plain.url("/f/s1.bin?size=50000")).arg(tls.https_url("/f/s2.bin?size=60000"));
    let out = run(cmd).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_file(&dir.path().join("out/s1.bin"), &content("s1.bin", 50_000));
    assert_file(&dir.path().join("out/s2.bin"), &content("s2.bin", 60_000));
    let seen = proxy.requests();
    assert!(seen.contains(&format!("CONNECT {}", plain.addr)), "{seen:?}");
    assert!(seen.contains(&format!("CONNECT {}", tls.addr)), "{seen:?}");
    assert!(proxy.credentials().iter().all(|c| c == "bob:s0cks-pw"));
    assert!(!err.contains("s0cks-pw"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_environment_variables_and_no_proxy() {
    let ca = TestCa::new();
    let tls = ca.serve().await;
    let plain = TestServer::start().await;
    let proxy = Proxy::http().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let proxy_url = format!("http://{}", proxy.addr);

    // HTTP_PROXY for http URLs, HTTPS_PROXY (a CONNECT tunnel) for https URLs.
    let mut cmd = dlm(dir.path());
    cmd.env("HTTP_PROXY", &proxy_url).env("HTTPS_PROXY", &proxy_url);
    cmd.args(["get", "--ca-file"]).arg(&ca_file).arg("-o").arg(dir.path().join("env"));
    cmd.arg(plain.url("/f/e1.bin?size=3000")).arg(tls.https_url("/f/e2.bin?size=4000"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("env/e1.bin"), &content("e1.bin", 3000));
    assert_file(&dir.path().join("env/e2.bin"), &content("e2.bin", 4000));
    let seen = proxy.requests();
    assert!(seen.contains(&format!("GET {}", plain.url("/f/e1.bin?size=3000"))), "{seen:?}");
    assert!(seen.contains(&format!("CONNECT {}", tls.addr)), "{seen:?}");

    // NO_PROXY names the host: straight to the server.
    let before = proxy.requests().len();
    let mut cmd = dlm(dir.path());
    cmd.env("HTTP_PROXY", &proxy_url).env("NO_PROXY", "127.0.0.1");
    cmd.args(["get", "-o"]).arg(dir.path().join("direct")).arg(plain.url("/f/e3.bin?size=5000"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("direct/e3.bin"), &content("e3.bin", 5000));
    assert_eq!(proxy.requests().len(), before, "{:?}", proxy.requests());
    assert_eq!(plain.requests_for("/f/e3.bin").len(), 1);

    // --proxy wins over the environment.
    let other = Proxy::http().await;
    let mut cmd = dlm(dir.path());
    cmd.env("HTTP_PROXY", &proxy_url).arg("get").arg("--proxy").arg(format!("http://{}", other.addr));
    cmd.arg("-o").arg(dir.path().join("flag")).arg(plain.url("/f/e4.bin?size=100"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(other.requests().len(), 1);
    assert_eq!(proxy.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_proxy_fails_the_item_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = TestServer::start().await;
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "--retries", "0", "--proxy"]).arg(format!("socks5://u:hidden-pw@{closed}"));
    cmd.arg("-o").arg(dir.path()).arg(server.url("/f/p.bin"));
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("hidden-pw"), "{err}");
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_http2_segmented_drops_and_resume_give_identical_bytes() {
    let ca = TestCa::new();
    let server = ca.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "-x", "4", "--ca-file"]).arg(&ca_file).arg("-o").arg(dir.path().join("out"));
    cmd.arg(server.https_url("/f/h2.bin?size=3000000&throttle=6000000"));
    cmd.arg(server.https_url("/f/h2drop.bin?size=500000&drop_after=100000&drop_times=2"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("out/h2.bin"), &content("h2.bin", 3_000_000));
    assert_file(&dir.path().join("out/h2drop.bin"), &content("h2drop.bin", 500_000));
    // First requests take HTTP/2; ranges (segments, the resume after a drop) HTTP/1.1, one
    // TCP connection each rather than streams sharing one.
    let reqs = server.requests();
    let seen: Vec<_> = reqs.iter().map(|r| (&r.version, r.range.is_some())).collect();
    assert!(
        reqs.iter().all(|r| r.version == if r.range.is_some() { "HTTP/1.1" } else { "HTTP/2.0" }),
        "{seen:?}"
    );
    assert!(server.requests_for("/f/h2.bin").iter().any(|r| r.range.is_some()), "segments were requested");
    assert!(server.requests_for("/f/h2drop.bin").iter().any(|r| r.range.is_some()), "the drop was resumed");
}

/// Downloads `path` from a new HTTPS test server with one connection; returns the requests
/// the server saw for it as (version, range).
async fn one_stream_over_https(path: &str, name: &str, size: usize) -> Vec<(String, Option<String>)> {
    let ca = TestCa::new();
    let server = ca.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm(dir.path());
    cmd.args(["get", "-x", "1", "--insecure", "-o"]).arg(dir.path()).arg(server.https_url(path));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join(name), &content(name, size));
    let reqs = server.requests_for(&format!("/f/{name}"));
    reqs.iter().map(|r| (r.version.clone(), r.range.clone())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_big_file_answered_over_http2_moves_to_http1_with_a_range() {
    let size = 20 << 20;
    let seen = one_stream_over_https(&format!("/f/move.bin?size={size}"), "move.bin", size).await;
    let expected = [("HTTP/2.0".to_string(), None), ("HTTP/1.1".to_string(), Some("bytes=0-".to_string()))];
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_big_file_stays_on_http2_when_the_range_comes_back_wrong() {
    let size = 20 << 20;
    for (query, name) in [("ranges=ignore", "ignored.bin"), ("lying_206=1", "lying.bin")] {
        let seen = one_stream_over_https(&format!("/f/{name}?size={size}&{query}"), name, size).await;
        let versions: Vec<&str> = seen.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(versions, ["HTTP/2.0", "HTTP/1.1"], "{query}: asked to move once, {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_file_over_http2_is_one_request() {
    let seen = one_stream_over_https("/f/small.bin?size=1000000", "small.bin", 1_000_000).await;
    assert_eq!(seen, [("HTTP/2.0".to_string(), None)]);
}
