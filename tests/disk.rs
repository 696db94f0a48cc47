//! Disk trouble and hostile folders: a read-only folder, a full disk, a folder removed while
//! a download runs, and symlinks planted where dlm will write. The item fails with a message
//! naming the path, other items finish, and nothing incomplete or outside the folder appears.
//!
//! Tests run as root in CI, where permission bits stop nothing, so "not writable" is a
//! read-only tmpfs and "full" a 256 KiB tmpfs, mounted by the test. The tests that need one
//! have `tmpfs` in their names and fail, saying why, where `mount` is not allowed: a test that
//! cannot check must not pass. Without root, leave them out by name:
//! `cargo test -- --skip tmpfs` (the `ulimit -f` test in `tests/cli.rs` and the
//! parent-is-a-file test in `tests/engine.rs` still check disk errors everywhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::symlink;
use std::path::Path;

use dlm::engine::{AddRequest, ConflictPolicy, EngineEvent};
use support::harness::{Harness, completed_path, failure, files_in};
use support::tmpfs::Tmpfs;
use support::{TestServer, assert_file, content};

fn dir_request(url: String, dir: &Path) -> AddRequest {
    AddRequest { dir: Some(dir.to_path_buf()), ..AddRequest::new(url) }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_tmpfs_fails_the_item_and_the_others_finish() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let ro = h.path("readonly");
    let _mount = Tmpfs::mount(&ro, "ro,size=1m");
    let bad = h.add_request(dir_request(server.url("/f/ro.bin?size=300000"), &ro));
    let good = h.add(server.url("/f/rw.bin?size=300000"));
    let results = h.finish_all(&[bad, good]).await;
    let e = failure(&results[&bad]);
    assert_eq!(e, format!("cannot write {}: permission denied", ro.join("ro.bin.part").display()));
    assert_file(&completed_path(&results[&good]), &content("rw.bin", 300_000));
    assert!(files_in(&ro).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_tmpfs_fails_that_item_clearly_and_other_folders_carry_on() {
    let server = TestServer::start().await;
    // One stream, so that the disk fills while writing (a segmented download would find too
    // little room before its first write and say so instead).
    let mut h = Harness::with(|o| {
        o.workers = 1;
        o.connections = 1;
    });
    let small = h.path("small-disk");
    let _mount = Tmpfs::mount(&small, "size=256k");
    // First a file that fits, then one that does not, then one in another folder.
    let fits = h.add_request(dir_request(server.url("/f/fits.bin?size=50000"), &small));
    let huge = h.add_request(dir_request(server.url("/f/huge.bin?size=2000000"), &small));
    let other = h.add(server.url("/f/elsewhere.bin?size=400000"));
    let results = h.finish_all(&[fits, huge, other]).await;
    assert_file(&completed_path(&results[&fits]), &content("fits.bin", 50_000));
    let e = failure(&results[&huge]);
    assert_eq!(e, format!("disk full writing {}", small.join("huge.bin.part").display()));
    assert_file(&completed_path(&results[&other]), &content("elsewhere.bin", 400_000));
    let left = files_in(&small);
    assert!(!left.contains(&"huge.bin".to_string()), "{left:?}");
    // The file finished earlier is untouched by the one that filled the disk.
    assert_file(&small.join("fits.bin"), &content("fits.bin", 50_000));
}

#[tokio::test]
async fn a_folder_removed_mid_download_fails_that_item_only() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let doomed = h.path("doomed");
    std::fs::create_dir(&doomed).unwrap();
    let id = h.add_request(dir_request(server.url("/f/gone.bin?size=400000&gate=1"), &doomed));
    let other = h.add(server.url("/f/stays.bin?size=200000"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { id: i, bytes: 1024 } if *i == id)).await;
    std::fs::remove_dir_all(&doomed).unwrap();
    server.release(1);
    let results = h.finish_all(&[id, other]).await;
    let e = failure(&results[&id]);
    assert!(e.starts_with(&format!("cannot write {}", doomed.display())), "{e}");
    assert!(e.contains("No such file or directory"), "{e}");
    assert!(!doomed.exists(), "dlm does not recreate a folder the person removed");
    assert_file(&completed_path(&results[&other]), &content("stays.bin", 200_000));
}

#[tokio::test]
async fn a_symlink_planted_at_the_part_name_is_not_followed() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    symlink(&victim, h.path("a.bin.part")).unwrap();
    let id = h.add(server.url("/f/a.bin?size=100000"));
    let path = completed_path(&h.finish(id).await);
    assert_eq!(path, h.path("a (1).bin"), "the name whose .part is taken is skipped");
    assert_file(&path, &content("a.bin", 100_000));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(h.path("a.bin.part")).unwrap().file_type().is_symlink());
}

#[tokio::test]
async fn a_symlink_planted_at_the_final_name_is_never_replaced_or_written_through() {
    let server = TestServer::start().await;
    for policy in [ConflictPolicy::Rename, ConflictPolicy::Overwrite, ConflictPolicy::Skip] {
        let mut h = Harness::with(|o| o.on_conflict = policy);
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        symlink(&victim, h.path("b.bin")).unwrap();
        let id = h.add(server.url("/f/b.bin?size=70000"));
        let path = completed_path(&h.finish(id).await);
        assert_eq!(path, h.path("b (1).bin"), "{policy:?}");
        assert_file(&path, &content("b.bin", 70_000));
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "{policy:?}");
        assert_eq!(files_in(outside.path()), vec!["victim"]);
    }
}

#[tokio::test]
async fn a_symlink_planted_after_the_name_is_chosen_is_not_followed() {
    // The race a local attacker would try: the .part name is free when dlm picks it, and a
    // symlink appears there before the first write. O_NOFOLLOW turns that into an error on
    // this item instead of a write through the link.
    let server = TestServer::start().await;
    // One stream, which holds small bodies in memory (a segmented one preallocates at once).
    let mut h = Harness::with(|o| {
        o.retries = 0;
        o.connections = 1;
    });
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let id = h.add(server.url("/f/race.bin?size=600000&gate=1"));
    h.wait_for("first KiB", |e| matches!(e, EngineEvent::Progress { bytes: 1024, .. })).await;
    // Small bodies are written in one go at the end; 1 KiB is still in memory here.
    assert!(!h.path("race.bin.part").exists());
    symlink(&victim, h.path("race.bin.part")).unwrap();
    server.release(1);
    let e = failure(&h.finish(id).await);
    assert!(e.starts_with(&format!("cannot write {}", h.path("race.bin.part").display())), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!h.path("race.bin").exists());
}

#[tokio::test]
async fn hostile_names_never_leave_the_folder_end_to_end() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let cases: Vec<(&str, String, &str)> = vec![
        ("dotdot", "attachment; filename=\"../../../etc/evil.sh\"".into(), "evil.sh"),
        ("absolute", "attachment; filename=\"/etc/passwd\"".into(), "passwd"),
        ("backslash", "attachment; filename=\"..\\\\..\\\\win.ini\"".into(), "win.ini"),
        ("control", "attachment; filename*=UTF-8''bad%01%07name%1B.txt".into(), "bad  name .txt"),
        ("tab", "attachment; filename=\"tab\tname.txt\"".into(), "tab name.txt"),
        ("nul5987", "attachment; filename*=UTF-8''nul%00byte.txt".into(), "nul byte.txt"),
        ("slash5987", "attachment; filename*=UTF-8''..%2F..%2Fx.txt".into(), "x.txt"),
        ("reserved", "attachment; filename=\"CON.txt\"".into(), "_CON.txt"),
        ("dots", "attachment; filename=\"..\"".into(), "dots"),
        ("hidden", "attachment; filename=\".bashrc\"".into(), "bashrc"),
        ("badpct", "attachment; filename*=UTF-8''bad%zz.txt; filename=\"plain.txt\"".into(), "plain.txt"),
    ];
    let mut ids = Vec::new();
    for (path, cd, _) in &cases {
        let cd: String = url::form_urlencoded::byte_serialize(cd.as_bytes()).collect();
        ids.push(h.add(server.url(&format!("/f/{path}?size=100&cd={cd}"))));
    }
    let results = h.finish_all(&ids).await;
    for ((path, _, want), id) in cases.iter().zip(&ids) {
        let got = completed_path(&results[id]);
        assert_eq!(got.parent().unwrap(), h.dir.path(), "{path}: {got:?}");
        let name = got.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, *want, "{path}");
        assert_file(&got, &content(path, 100));
    }
}

#[tokio::test]
async fn names_that_collide_after_sanitising_get_separate_files() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let cds = [
        r#"attachment; filename="../same.txt""#,
        r#"attachment; filename="/tmp/same.txt""#,
        r#"attachment; filename="..\\same.txt""#,
        "attachment; filename*=UTF-8''same.txt%07",
    ];
    let mut ids = Vec::new();
    for (i, cd) in cds.iter().enumerate() {
        let cd: String = url::form_urlencoded::byte_serialize(cd.as_bytes()).collect();
        ids.push(h.add(server.url(&format!("/f/same{i}?size=500&cd={cd}"))));
    }
    let results = h.finish_all(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        assert_file(&completed_path(&results[id]), &content(&format!("same{i}"), 500));
    }
    assert_eq!(files_in(h.dir.path()), vec!["same (1).txt", "same (2).txt", "same (3).txt", "same.txt"]);
}

#[tokio::test]
async fn raw_control_bytes_in_a_header_fail_the_item_clearly() {
    // HTTP forbids control bytes in header values; the HTTP parser refuses the whole answer,
    // so no name is ever made from them. The item fails with the URL and a reason.
    let server = support::raw::RawServer::start(|_, _| {
        let mut out = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n".to_vec();
        out.extend_from_slice(b"Content-Disposition: attachment; filename=\"a\x01\x00b\"\r\n\r\nabc");
        (out, support::raw::Then::Close)
    })
    .await;
    let mut h = Harness::with(|o| o.retries = 0);
    let id = h.add(server.url("/ctl"));
    let e = failure(&h.finish(id).await);
    assert!(e.contains(&server.url("/ctl")), "{e}");
    assert!(files_in(h.dir.path()).is_empty());
}

#[tokio::test]
async fn a_10_kb_name_is_cut_to_200_bytes_keeping_the_extension() {
    // Too long for a URL query, so the raw server sends the header.
    let server = support::raw::RawServer::start(|_, _| {
        let name = "é".repeat(5_000);
        let cd = format!(
            "attachment; filename*=UTF-8''{}.iso",
            percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
        );
        let mut out =
            support::raw::head("200 OK", &[("Content-Length", "3".into()), ("Content-Disposition", cd)]);
        out.extend_from_slice(b"abc");
        (out, support::raw::Then::Close)
    })
    .await;
    let mut h = Harness::new();
    let id = h.add(server.url("/long"));
    let path = completed_path(&h.finish(id).await);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.len() <= 200 && name.ends_with(".iso") && name.starts_with("éé"), "{name}");
    assert_eq!(path.parent().unwrap(), h.dir.path());
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");
}

#[tokio::test]
async fn a_download_named_like_another_ones_part_or_sidecar_never_clobbers_it() {
    // Item A saves as `x.bin` and writes `x.bin.part` and `x.bin.part.dlm` (created with its
    // first batch, and removed when it is done); item B's server names its file like one of
    // those. Neither may write into, replace or delete the other's file.
    let server = TestServer::start().await;
    for (i, taken) in ["x.bin.part", "x.bin.part.dlm"].into_iter().enumerate() {
        let mut h = Harness::new();
        let a = h.add(server.url(&format!("/f/x.bin?size=600000&gate=1&case={i}")));
        h.wait_for("A's first KiB", |e| matches!(e, EngineEvent::Progress { id, .. } if *id == a)).await;
        let cd: String =
            url::form_urlencoded::byte_serialize(format!("attachment; filename=\"{taken}\"").as_bytes())
                .collect();
        let b = h.add(server.url(&format!("/f/other?size=3000&cd={cd}")));
        let b_path = completed_path(&h.finish(b).await);
        server.release(1);
        let a_path = completed_path(&h.finish(a).await);
        assert_file(&a_path, &content("x.bin", 600_000));
        assert_file(&b_path, &content("other", 3000));
        assert_ne!(a_path, b_path);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_segmented_download_larger_than_a_small_tmpfs_fails_clearly_before_writing() {
    let server = TestServer::start().await;
    let mut h = Harness::with(|o| o.connections = 4);
    let small = h.path("small-disk");
    let _mount = Tmpfs::mount(&small, "size=256k");
    let id = h.add_request(dir_request(server.url("/f/seg.bin?size=4000000"), &small));
    let e = failure(&h.finish(id).await);
    let part = small.join("seg.bin.part");
    let expected =
        format!("not enough disk space for {}: the server announced 4000000 bytes, ", part.display());
    assert!(e.starts_with(&expected), "{e}");
    assert!(!small.join("seg.bin").exists());
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 0, "the .part was not stretched");
}
