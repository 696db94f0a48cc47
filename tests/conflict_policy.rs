#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `on_conflict`: what the engine does when the chosen file name already exists in the
//! folder. Real engine, real files, a small HTTP server on 127.0.0.1:0.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use dlm::engine::{AddRequest, ConflictPolicy, Engine, EngineEvent, EngineOptions};

/// Answers every request with the body `new`.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nnew");
        }
    });
    base
}

/// Downloads `file.txt` into `dir` (which already holds one) and returns where it landed and
/// whether the engine reported it as skipped.
async fn download(dir: &Path, policy: ConflictPolicy) -> (PathBuf, bool) {
    let base = serve();
    let options =
        EngineOptions { download_dir: dir.to_path_buf(), on_conflict: policy, ..EngineOptions::default() };
    let (engine, mut events) = Engine::start(options).unwrap();
    engine.handle().add(AddRequest::new(format!("{base}/file.txt")));
    let result = loop {
        match events.recv().await.unwrap() {
            EngineEvent::Completed { path, skipped, .. } => break (path, skipped),
            EngineEvent::Failed { error, .. } => panic!("{error}"),
            _ => {}
        }
    };
    engine.shutdown().await;
    result
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.txt"), b"old").unwrap();
    dir
}

#[tokio::test]
async fn rename_keeps_the_old_file_and_numbers_the_new() {
    let dir = setup();
    let (path, skipped) = download(dir.path(), ConflictPolicy::Rename).await;
    assert_eq!(path, dir.path().join("file (1).txt"));
    assert!(!skipped);
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert_eq!(std::fs::read(dir.path().join("file.txt")).unwrap(), b"old");
}

#[tokio::test]
async fn skip_leaves_the_existing_file_and_reports_done() {
    let dir = setup();
    let (path, skipped) = download(dir.path(), ConflictPolicy::Skip).await;
    assert_eq!(path, dir.path().join("file.txt"));
    assert!(skipped);
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert!(!dir.path().join("file (1).txt").exists());
}

#[tokio::test]
async fn overwrite_replaces_the_existing_file() {
    let dir = setup();
    let (path, skipped) = download(dir.path(), ConflictPolicy::Overwrite).await;
    assert_eq!(path, dir.path().join("file.txt"));
    assert!(!skipped);
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert!(!dir.path().join("file (1).txt").exists());
    assert!(!dir.path().join("file.txt.part").exists());
}

#[tokio::test]
async fn overwrite_never_replaces_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("file.txt")).unwrap();
    let (path, _) = download(dir.path(), ConflictPolicy::Overwrite).await;
    assert_eq!(path, dir.path().join("file (1).txt"));
    assert!(dir.path().join("file.txt").is_dir());
}
