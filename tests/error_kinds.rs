//! Every way an item fails reaches front ends with the right kind (`ErrorKind`), so they can
//! colour and explain it: the engine against real servers, real sockets and real disks.
//! `Failed` carries the kind, the HTTP status for `http`, and the message a person reads.
//!
//! The disk tests mount a tmpfs (as root, like `tests/disk.rs`): without root leave them out
//! with `cargo test -- --skip tmpfs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use dlm::engine::{AddRequest, EngineEvent, ErrorKind, ItemError};
use support::TestServer;
use support::harness::Harness;
use support::tls::TestCa;
use support::tmpfs::Tmpfs;

/// The error an item failed with, or a panic saying how it ended instead.
fn item_error(end: &EngineEvent) -> ItemError {
    match end {
        EngineEvent::Failed { error, .. } => error.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Adds `url` (to `dir`, if given) and returns the error it failed with.
async fn fails_with(h: &mut Harness, url: String, dir: Option<&Path>) -> ItemError {
    let id = h.add_request(AddRequest { dir: dir.map(Path::to_path_buf), ..AddRequest::new(url) });
    item_error(&h.finish(id).await)
}

#[tokio::test]
async fn an_error_status_is_http_with_its_code() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let e = fails_with(&mut h, server.url("/f/missing.bin?status=404"), None).await;
    assert_eq!((e.kind, e.status), (ErrorKind::Http, Some(404)), "{e:?}");
    assert!(e.message.starts_with("404 Not Found"), "{e:?}");
    // A retried status that never clears keeps its code too.
    let mut h = Harness::with(|o| o.retries = 1);
    let e = fails_with(&mut h, server.url("/f/busy.bin?status=503"), None).await;
    assert_eq!((e.kind, e.status), (ErrorKind::Http, Some(503)), "{e:?}");
}

#[tokio::test]
async fn a_refused_connection_is_network() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let mut h = Harness::with(|o| o.retries = 0);
    let e = fails_with(&mut h, format!("http://{addr}/f/x.bin"), None).await;
    assert_eq!((e.kind, e.status), (ErrorKind::Network, None), "{e:?}");
    assert!(e.message.starts_with("cannot connect to"), "{e:?}");
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_protocol() {
    let addr = TestServer::garbage().await;
    let mut h = Harness::new();
    let e = fails_with(&mut h, format!("http://{addr}/f/x.bin"), None).await;
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(e.message.contains("is not HTTP"), "{e:?}");
}

#[tokio::test]
async fn an_invalid_or_unsupported_url_is_invalid_url() {
    let mut h = Harness::new();
    for url in ["http://", "not a url", "ftp://example.com/file.iso"] {
        let e = fails_with(&mut h, url.to_string(), None).await;
        assert_eq!(e.kind, ErrorKind::InvalidUrl, "{url}: {e:?}");
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_tls() {
    let ca = TestCa::new();
    let server = ca.serve().await;
    let mut h = Harness::new();
    let e = fails_with(&mut h, server.https_url("/f/secure.bin?size=1000"), None).await;
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    assert!(e.message.contains("certificate"), "{e:?}");
}

#[tokio::test]
async fn https_to_a_server_that_does_not_speak_tls_is_tls_and_not_retried() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let url = server.url("/f/plain.bin?size=1000").replacen("http://", "https://", 1);
    let id = h.add(url);
    let e = item_error(&h.finish(id).await);
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    assert!(e.message.contains("does not speak TLS"), "{e:?}");
    assert!(h.retry_reasons(id).is_empty(), "another attempt would hear the same");
}

#[tokio::test]
async fn too_many_redirects_and_a_redirect_to_another_scheme_are_redirect() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let e = fails_with(&mut h, server.url("/loop/a"), None).await;
    assert_eq!(e.kind, ErrorKind::Redirect, "{e:?}");
    assert!(e.message.starts_with("too many redirects"), "{e:?}");
    let e = fails_with(&mut h, server.url("/to?url=file:///etc/passwd"), None).await;
    assert_eq!(e.kind, ErrorKind::Redirect, "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_tmpfs_is_disk_full_for_one_stream_and_for_segments() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let small = h.path("small-disk");
    let _mount = Tmpfs::mount(&small, "size=256k");
    // A segmented download's size is known: it is refused before a byte is written. A size
    // nobody announced fills the disk while writing.
    let e = fails_with(&mut h, server.url("/f/split.bin?size=2000000"), Some(&small)).await;
    assert_eq!(e.kind, ErrorKind::DiskFull, "{e:?}");
    assert!(e.message.starts_with("not enough disk space"), "{e:?}");
    let e = fails_with(&mut h, server.url("/f/stream.bin?size=2000000&chunked=1"), Some(&small)).await;
    assert_eq!(e.kind, ErrorKind::DiskFull, "{e:?}");
    assert!(e.message.starts_with("disk full writing"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_tmpfs_is_permission() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let ro = h.path("readonly");
    let _mount = Tmpfs::mount(&ro, "ro,size=1m");
    let e = fails_with(&mut h, server.url("/f/ro.bin?size=300000"), Some(&ro)).await;
    assert_eq!(e.kind, ErrorKind::Permission, "{e:?}");
}
