//! `dlm get -O NAME`: the one URL's file lands under that name inside the download folder,
//! never outside it; a path is refused, and so is `-O` with several URLs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::process::{dlm_command, run, stderr};
use support::{TestServer, assert_file, content};

#[tokio::test(flavor = "multi_thread")]
async fn the_file_lands_under_the_name_given_inside_the_download_folder() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = dlm_command();
    cmd.args(["get", "-O", "renamed.iso", "-o"]).arg(dir.path());
    // The server suggests another name: the person's wins.
    cmd.arg(server.url("/f/served.bin?size=5000&cd=attachment%3B%20filename%3D%22other.bin%22"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_file(&dir.path().join("renamed.iso"), &content("served.bin", 5000));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["renamed.iso"], "nothing else, no .part left");
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_and_several_urls_are_refused_and_nothing_is_downloaded() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("dl");
    let url = server.url("/f/x.bin?size=10");
    for (name, says) in [
        ("../escape.bin", "is a path"),
        ("/tmp/abs.bin", "is a path"),
        ("sub/x.bin", "is a path"),
        ("..", "is a path"),
        ("", "empty"),
        ("  ", "empty"),
    ] {
        let mut cmd = dlm_command();
        cmd.args(["get", "-O", name, "-o"]).arg(&inside).arg(&url);
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(2), "{name:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{name:?}: {}", stderr(&out));
    }
    let mut cmd = dlm_command();
    cmd.args(["get", "-O", "one.bin", "-o"]).arg(&inside).arg(&url).arg(server.url("/f/y.bin?size=10"));
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-O NAME names one file, but 2 URLs were given"), "{}", stderr(&out));
    assert!(server.requests().is_empty(), "nothing was fetched");
    assert!(!dir.path().join("escape.bin").exists() && !inside.exists());
}
