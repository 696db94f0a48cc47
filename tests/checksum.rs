//! Integrity by default (issue 11), through the engine against the loopback test server: each
//! source of a checksum (the server's `Repr-Digest`, `Digest`, `Content-Digest`; one given with
//! the item; a checksum file), single-stream, segmented and resumed downloads, and what happens
//! when the bytes do not match: no final name, the `.part` kept, kind `checksum`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::Arc;

use dlm::engine::{
    AddRequest, Algo, ChecksumBook, ChecksumSource, ChecksumState, ChecksumView, Command, EngineEvent,
    ErrorKind, ExpectedChecksum, ItemId, ResumeHint, SumsFile,
};
use support::harness::{Harness, completed_path, files_in};
use support::{TestServer, assert_file, content, sha256_hex};

fn expected(name: &str, size: usize) -> ExpectedChecksum {
    ExpectedChecksum::from_hex(Algo::Sha256, &sha256_hex(&content(name, size)), ChecksumSource::User).unwrap()
}

fn wrong() -> ExpectedChecksum {
    ExpectedChecksum::from_hex(Algo::Sha256, &"ab".repeat(32), ChecksumSource::User).unwrap()
}

/// The last checksum the engine reported for `id`.
fn last_checksum(h: &Harness, id: ItemId) -> Option<ChecksumView> {
    h.events_for(id).into_iter().rev().find_map(|e| match e {
        EngineEvent::Checksum { checksum, .. } => Some(checksum.clone()),
        _ => None,
    })
}

fn failed_kind(e: &EngineEvent) -> (ErrorKind, String) {
    match e {
        EngineEvent::Failed { error, .. } => (error.kind, error.message.clone()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A mismatch leaves the `.part` and never the final name.
fn assert_kept_as_part(dir: &Path, name: &str) {
    let files = files_in(dir);
    assert!(files.contains(&format!("{name}.part")), "{files:?}");
    assert!(!files.contains(&name.to_string()), "a mismatching file got its final name: {files:?}");
}

#[tokio::test]
async fn each_server_digest_header_is_verified_and_reported_with_its_source() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let cases = [
        ("repr=sha256", ChecksumSource::ServerReprDigest, Algo::Sha256),
        ("repr=sha512", ChecksumSource::ServerReprDigest, Algo::Sha512),
        ("digest=sha256", ChecksumSource::ServerDigest, Algo::Sha256),
        ("content_digest=sha256", ChecksumSource::ServerContentDigest, Algo::Sha256),
        ("digest=md5", ChecksumSource::ServerDigest, Algo::Md5),
    ];
    for (i, (query, source, algo)) in cases.into_iter().enumerate() {
        let name = format!("s{i}.bin");
        let id = h.add(server.url(&format!("/f/{name}?size=300000&{query}")));
        let path = completed_path(&h.finish(id).await);
        assert_file(&path, &content(&name, 300_000));
        let seen = last_checksum(&h, id).unwrap_or_else(|| panic!("{query}: no checksum reported"));
        assert_eq!((seen.state, seen.source, seen.algo), (ChecksumState::Verified, source, algo), "{query}");
        assert_eq!(seen.actual.as_deref(), Some(seen.expected.as_str()));
        assert_eq!(seen.weak, algo == Algo::Md5, "{query}");
    }
}

#[tokio::test]
async fn a_wrong_server_digest_fails_with_kind_checksum_and_keeps_the_part() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    for (i, query) in ["repr=sha256", "digest=sha256", "content_digest=sha256"].into_iter().enumerate() {
        let name = format!("w{i}.bin");
        let id = h.add(server.url(&format!("/f/{name}?size=200000&{query}&wrong=1")));
        let (kind, message) = failed_kind(&h.finish(id).await);
        assert_eq!(kind, ErrorKind::Checksum, "{query}: {message}");
        let seen = last_checksum(&h, id).unwrap();
        assert_eq!(seen.state, ChecksumState::Mismatch, "{query}");
        let actual = sha256_hex(&content(&name, 200_000));
        assert!(message.contains(&actual) && message.contains(&seen.expected), "both hashes: {message}");
        assert_kept_as_part(h.dir.path(), &name);
    }
}

#[tokio::test]
async fn without_any_checksum_nothing_is_reported_and_dlm_asks_for_one() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/plain.bin?size=5000"));
    completed_path(&h.finish(id).await);
    assert_eq!(last_checksum(&h, id), None);
    let asked = server.requests_for("/f/plain.bin");
    let want = asked[0].headers.get("want-repr-digest").and_then(|v| v.to_str().ok());
    assert_eq!(want, Some("sha-256=10, sha-512=3"));
}

#[tokio::test]
async fn a_malformed_digest_header_is_ignored_with_a_note() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/f/odd.bin?size=5000&raw_header=repr-digest:sha-256=:notbase64!:"));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("odd.bin", 5000));
    assert_eq!(last_checksum(&h, id), None);
    let noted = h
        .events_for(id)
        .iter()
        .any(|e| matches!(e, EngineEvent::Note { message, .. } if message.contains("repr-digest")));
    assert!(noted, "{:?}", h.events_for(id));
}

#[tokio::test]
async fn a_checksum_given_with_the_item_wins_over_the_servers() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    // The server's digest is right, the person's is not: theirs is the stronger source.
    let request = AddRequest {
        checksum: Some(wrong()),
        ..AddRequest::new(server.url("/f/u.bin?size=9000&repr=sha256"))
    };
    let id = h.add_request(request);
    let (kind, _) = failed_kind(&h.finish(id).await);
    assert_eq!(kind, ErrorKind::Checksum);
    assert_eq!(last_checksum(&h, id).unwrap().source, ChecksumSource::User);
    assert_kept_as_part(h.dir.path(), "u.bin");

    let request = AddRequest {
        checksum: Some(expected("v.bin", 9000)),
        ..AddRequest::new(server.url("/f/v.bin?size=9000"))
    };
    let id = h.add_request(request);
    completed_path(&h.finish(id).await);
    let seen = last_checksum(&h, id).unwrap();
    assert_eq!((seen.state, seen.source), (ChecksumState::Verified, ChecksumSource::User));
}

#[tokio::test]
async fn a_checksum_file_is_matched_by_the_name_the_item_gets() {
    let server = TestServer::start().await;
    let sums = format!("{}  a.iso\n{}  b.iso\n", sha256_hex(&content("a.iso", 70_000)), "00".repeat(32));
    let mut book = ChecksumBook::default();
    book.add_file(SumsFile::parse(&sums, ChecksumSource::File).unwrap());
    let book = Arc::new(book);
    let mut h = Harness::with(|o| o.checksums = book);
    let a = h.add(server.url("/f/a.iso?size=70000"));
    let b = h.add(server.url("/f/b.iso?size=70000"));
    completed_path(&h.finish(a).await);
    assert_eq!(last_checksum(&h, a).unwrap().state, ChecksumState::Verified);
    let (kind, _) = failed_kind(&h.finish(b).await);
    assert_eq!(kind, ErrorKind::Checksum);
    assert_eq!(last_checksum(&h, b).unwrap().source, ChecksumSource::File);
}

#[tokio::test]
async fn a_segmented_download_is_verified_and_a_wrong_one_is_not_published() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let size = 4 << 20;
    let id = h.add(server.url(&format!("/f/seg.bin?size={size}&repr=sha256")));
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("seg.bin", size));
    assert!(server.requests_for("/f/seg.bin").len() > 1, "it was split");
    assert_eq!(last_checksum(&h, id).unwrap().state, ChecksumState::Verified);

    let id = h.add(server.url(&format!("/f/bad.bin?size={size}&repr=sha256&wrong=1")));
    let (kind, _) = failed_kind(&h.finish(id).await);
    assert_eq!(kind, ErrorKind::Checksum);
    assert_kept_as_part(h.dir.path(), "bad.bin");
}

#[tokio::test]
async fn a_checked_segmented_download_asks_for_pieces_of_at_most_8_mib() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 2);
    // Two even pieces of 12 MiB each, unless the file is fetched front to back in 8 MiB ones.
    let size = 24 << 20;
    let id = h.add_request(AddRequest {
        checksum: Some(expected("order.bin", size)),
        ..AddRequest::new(server.url(&format!("/f/order.bin?size={size}")))
    });
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("order.bin", size));
    assert_eq!(last_checksum(&h, id).unwrap().state, ChecksumState::Verified);
    let bounded: Vec<(u64, u64)> = server
        .requests_for("/f/order.bin")
        .iter()
        .filter_map(|r| {
            let (a, b) = r.range.as_deref()?.strip_prefix("bytes=")?.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    assert!(bounded.len() >= 3, "pieces: {bounded:?}");
    assert!(bounded.iter().all(|(a, b)| b + 1 - a <= 8 << 20), "a piece over 8 MiB: {bounded:?}");
}

#[tokio::test]
async fn a_mismatching_file_shows_all_its_bytes_received_before_it_fails() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let size = 2 << 20;
    // Throttled so that progress ticks fall while the body arrives, short of its end.
    let id = h.add_request(AddRequest {
        checksum: Some(wrong()),
        ..AddRequest::new(server.url(&format!("/f/short.bin?size={size}&throttle=8000000")))
    });
    let (kind, _) = failed_kind(&h.finish(id).await);
    assert_eq!(kind, ErrorKind::Checksum);
    let last = h.events_for(id).into_iter().rev().find_map(|e| match e {
        EngineEvent::Progress { bytes, .. } => Some(*bytes),
        _ => None,
    });
    assert_eq!(last, Some(size as u64), "the file was complete when it was checked");
}

#[tokio::test]
async fn a_download_resumed_after_a_dropped_connection_is_verified_whole() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let url = server.url("/f/drop.bin?size=600000&drop_after=250000&drop_times=1&repr=sha256");
    let id = h.add(url);
    let path = completed_path(&h.finish(id).await);
    assert_file(&path, &content("drop.bin", 600_000));
    let ranged = server.requests_for("/f/drop.bin").iter().filter(|r| r.range.is_some()).count();
    assert_eq!(ranged, 1, "the second attempt continued the .part");
    assert_eq!(last_checksum(&h, id).unwrap().state, ChecksumState::Verified);
}

/// Downloads the first KiB of `name` (the server holds the rest), stops the engine, and
/// corrupts the `.part` if asked; returns the harness restarted on the same folder.
async fn partial_then_restart(
    server: &TestServer,
    name: &str,
    size: usize,
    connections: usize,
    corrupt: bool,
) -> Harness {
    let mut h = Harness::with(|o| o.connections = connections);
    let id = h.add(server.url(&format!("/f/{name}?size={size}&gate=1")));
    h.wait_for(
        "bytes on disk",
        |e| matches!(e, EngineEvent::Progress { id: i, bytes } if *i == id && *bytes >= 1024),
    )
    .await;
    let h = h.restart(|o| o.connections = connections).await;
    server.release(64);
    let part = h.path(&format!("{name}.part"));
    if corrupt {
        let mut bytes = std::fs::read(&part).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&part, bytes).unwrap();
    }
    h
}

fn resume_request(server: &TestServer, name: &str, size: usize) -> AddRequest {
    AddRequest {
        resume: Some(ResumeHint {
            file_name: name.into(),
            validator: Some(format!("\"{name}-v0\"")),
            total: Some(size as u64),
            ranges_unreliable: false,
            start_over: false,
        }),
        checksum: Some(expected(name, size)),
        ..AddRequest::new(server.url(&format!("/f/{name}?size={size}")))
    }
}

#[tokio::test]
async fn a_restarted_download_is_hashed_from_the_bytes_on_disk_not_assumed() {
    let server = TestServer::start().await;
    for connections in [1, 4] {
        let size = 3 << 20;
        // Untouched: continued and verified.
        let name = format!("ok{connections}.bin");
        let mut h = partial_then_restart(&server, &name, size, connections, false).await;
        let id = h.add_request(resume_request(&server, &name, size));
        let path = completed_path(&h.finish(id).await);
        assert_file(&path, &content(&name, size));
        assert_eq!(last_checksum(&h, id).unwrap().state, ChecksumState::Verified, "x{connections}");
        let continued =
            server.requests_for(&format!("/f/{name}")).iter().filter(|r| r.range.is_some()).count();
        assert!(continued >= 1, "x{connections}: the restart continued the .part");

        // A byte changed on disk while dlm was not running: caught, and a retry starts over.
        let name = format!("bad{connections}.bin");
        let mut h = partial_then_restart(&server, &name, size, connections, true).await;
        let id = h.add_request(resume_request(&server, &name, size));
        let (kind, message) = failed_kind(&h.finish(id).await);
        assert_eq!(kind, ErrorKind::Checksum, "x{connections}: {message}");
        assert_kept_as_part(h.dir.path(), &name);
        h.events.clear();
        let before = server.requests_for(&format!("/f/{name}")).len();
        h.send(Command::Retry(id));
        let path = completed_path(&h.finish(id).await);
        assert_file(&path, &content(&name, size));
        let retried = &server.requests_for(&format!("/f/{name}"))[before];
        assert_eq!(retried.range, None, "x{connections}: the retry fetched the file from its first byte");
        assert_eq!(last_checksum(&h, id).unwrap().state, ChecksumState::Verified);
    }
}

#[tokio::test]
async fn continue_re_verifies_a_complete_file_instead_of_skipping_blindly() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.continue_existing = true);
    std::fs::write(h.path("good.bin"), content("good.bin", 4000)).unwrap();
    let mut bad = content("bad.bin", 4000);
    bad[0] ^= 1;
    std::fs::write(h.path("bad.bin"), &bad).unwrap();
    let good = h.add(server.url("/f/good.bin?size=4000&repr=sha256"));
    let done = h.finish(good).await;
    assert!(matches!(done, EngineEvent::Completed { skipped: true, .. }), "{done:?}");
    assert_eq!(last_checksum(&h, good).unwrap().state, ChecksumState::Verified);

    let bad_id = h.add(server.url("/f/bad.bin?size=4000&repr=sha256"));
    let (kind, message) = failed_kind(&h.finish(bad_id).await);
    assert_eq!(kind, ErrorKind::Checksum);
    assert!(message.contains("move or delete"), "{message}");
    assert_eq!(std::fs::read(h.path("bad.bin")).unwrap(), bad, "left as it was");
}

#[tokio::test]
async fn sibling_checksums_are_looked_for_only_when_the_config_asks() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let id = h.add(server.url("/sib/7000/own/sib.bin"));
    completed_path(&h.finish(id).await);
    assert_eq!(last_checksum(&h, id), None, "off by default");
    assert_eq!(server.requests().len(), 1, "no extra request");

    let mut h = Harness::with(|o| o.checksum_siblings = true);
    for (mode, name, state) in [
        ("own", "sib.bin", ChecksumState::Verified),
        ("sums", "sib.bin", ChecksumState::Verified),
        ("sums", "bad.bin", ChecksumState::Mismatch),
    ] {
        let id = h.add(server.url(&format!("/sib/7000/{mode}/{name}")));
        h.finish(id).await;
        let seen = last_checksum(&h, id).unwrap_or_else(|| panic!("{mode}/{name}: none found"));
        assert_eq!((seen.source, seen.state), (ChecksumSource::Sibling, state), "{mode}/{name}");
    }
    let asked: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(asked.contains(&"/sib/7000/sums/sib.bin.sha256".to_string()), "{asked:?}");
    assert!(asked.contains(&"/sib/7000/sums/SHA256SUMS".to_string()), "{asked:?}");
}
