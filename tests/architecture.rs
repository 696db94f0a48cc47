//! Keeps the agreed shape: the engine knows nothing of the screen or of any front end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_has_no_ui_or_front_end_dependencies() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine"), &mut files);
    assert!(!files.is_empty());
    let forbidden = ["ratatui", "crossterm", "crate::tui", "crate::headless", "crate::cli", "crate::config"];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Comments may name what the engine must not use; code may not use it.
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
        for (line, word) in code.flat_map(|l| forbidden.iter().map(move |w| (l, w))) {
            assert!(!line.contains(word), "{} uses {word}: {line}", file.display());
        }
    }
}

#[test]
fn every_module_says_what_it_does() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("//!"), "{} has no //! module doc", file.display());
    }
}
