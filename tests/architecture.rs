//! Keeps the agreed shape in layers: the engine knows nothing of the screen, the session or any
//! front end; the session layer (session, saved queue, control socket) knows no UI; front ends
//! reach the engine only through the session and its message types.
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

/// The code lines (not comments) of the Rust files at these paths under `src/`, with their file.
fn code_of(paths: &[&str]) -> Vec<(std::path::PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for path in paths {
        let path = src.join(path);
        if path.is_dir() { rust_files(&path, &mut files) } else { files.push(path) }
    }
    assert!(!files.is_empty());
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            lines.push((file.clone(), line.to_string()));
        }
    }
    lines
}

/// Whether `line` names the type `word` as a whole identifier (`Engine`, not `EngineEvent`,
/// nor the session's `SessionEvent::Engine` variant).
fn names(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident) && !line[..at].ends_with("SessionEvent::")
    })
}

/// The session layer (the session, the saved queue, the control socket) sits between the
/// engine and the front ends: it never imports a UI crate or a front end, and the saved queue
/// and the socket never import the session.
#[test]
fn the_session_layer_has_no_ui_or_front_end_dependencies() {
    let front = ["ratatui", "crossterm", "crate::tui", "crate::headless", "crate::remote", "crate::cli"];
    for (file, line) in code_of(&["session", "state", "control.rs"]) {
        for word in front {
            assert!(!line.contains(word), "{} uses {word}: {line}", file.display());
        }
    }
    for (file, line) in code_of(&["state", "control.rs"]) {
        assert!(!line.contains("crate::session"), "{} uses the session: {line}", file.display());
    }
    for (file, line) in code_of(&["state"]) {
        assert!(!line.contains("crate::control"), "{} uses the control socket: {line}", file.display());
    }
}

/// Front ends reach the engine only through the session and the engine's vocabulary
/// (`Command`, `EngineEvent`, `ItemSnapshot`…): never `Engine` or `EngineHandle` themselves,
/// nor a module inside the engine (`engine::naming::…`).
#[test]
fn front_ends_use_the_session_not_the_engine_internals() {
    for (file, line) in code_of(&["tui", "headless.rs", "remote.rs", "main.rs"]) {
        for word in ["Engine", "EngineHandle"] {
            assert!(!names(&line, word), "{} uses {word}: {line}", file.display());
        }
        let inside = line.match_indices("engine::").any(|(at, m)| {
            let rest = &line[at + m.len()..];
            let ident: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            ident.starts_with(|c: char| c.is_lowercase()) && rest[ident.len()..].starts_with("::")
        });
        assert!(!inside, "{} reaches into an engine module: {line}", file.display());
    }
    assert!(names("let (engine, rx) = Engine::start(o);", "Engine"), "the check itself works");
    assert!(!names("use crate::engine::EngineEvent;", "Engine"));
    assert!(!names("SessionEvent::Engine(event) => {}", "Engine"));
}

/// Nothing in the engine depends on the layers above it.
#[test]
fn the_engine_imports_no_layer_above_it() {
    let above = ["crate::session", "crate::state", "crate::control", "crate::remote"];
    for (file, line) in code_of(&["engine"]) {
        for word in above {
            assert!(!line.contains(word), "{} uses {word}: {line}", file.display());
        }
    }
}
