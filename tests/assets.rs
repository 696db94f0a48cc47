//! The generated files in `assets/` are current: the man page (`dlm.1`, from the clap
//! definitions and the key table) and the README's screenshots (SVG from the real UI's screen
//! buffer). Each is rendered in memory and compared with the file; a stale one fails with the
//! command that regenerates them all:
//!
//!     DLM_UPDATE_ASSETS=1 cargo test --test assets
//!
//! Also checks `dlm completions SHELL` with the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "assets/man.rs"]
mod man;
#[path = "assets/scene.rs"]
mod scene;
#[path = "assets/svg.rs"]
mod svg;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use crossterm::event::KeyCode;

const UPDATE: &str = "DLM_UPDATE_ASSETS=1 cargo test --test assets";

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join(name)
}

/// Compares `rendered` with `assets/NAME`, or writes it there (through a temporary file and a
/// rename, so a stopped run never leaves half a file) when `DLM_UPDATE_ASSETS` is set.
fn check(name: &str, rendered: &str) {
    let path = asset(name);
    if std::env::var_os("DLM_UPDATE_ASSETS").is_some() {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, rendered).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(current == rendered, "assets/{name} is stale or missing: run `{UPDATE}` and commit it");
}

#[test]
fn the_man_page_in_assets_is_current() {
    check("dlm.1", &man::page());
}

#[test]
fn the_man_page_covers_every_command_the_keys_the_files_and_the_exit_status() {
    let page = man::page();
    for sub in dlm::cli::Cli::command().get_subcommands() {
        let heading = format!(".SH \"DLM {}\"", sub.get_name().to_uppercase());
        assert!(page.contains(&heading), "no {heading}");
    }
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH KEYS", ".SH FILES", ".SH ENVIRONMENT"] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(page.contains(".SH \"EXIT STATUS\""));
    // Every action of the key table, with its help text.
    for info in dlm::tui::keys::ALL {
        assert!(page.contains(&info.help.replace('-', "\\-")), "key {} missing", info.name);
    }
    assert!(page.contains("\\-\\-json") && page.contains("DLM_STATE_DIR") && page.contains("queue.journal"));
}

/// The README's two screenshots: the table at 80×24, and at 120×36 with the downloading
/// item's details open.
fn screenshots() -> [(&'static str, String); 2] {
    let narrow = scene::screen(&mut scene::app(&[]), 80, 24);
    let wide_keys = [KeyCode::Down, KeyCode::Down, KeyCode::Enter];
    let wide = scene::screen(&mut scene::app(&wide_keys), 120, 36);
    [
        ("screen-80x24.svg", svg::render(&narrow, "dlm at 80×24: seven transfers")),
        ("screen-120x36.svg", svg::render(&wide, "dlm at 120×36: transfers and the details of one")),
    ]
}

#[test]
fn screenshots_regenerate_byte_identically_and_are_current() {
    let first = screenshots();
    assert_eq!(first, screenshots(), "two renderings differ: the scene is not deterministic");
    for (name, svg) in &first {
        assert!(svg.contains("downloading") && svg.contains("tar.xz"), "{name}: {svg}");
        check(name, svg);
    }
}

/// The subcommands, read from the definitions (not a list here that could lag).
fn subcommands() -> Vec<String> {
    dlm::cli::Cli::command().get_subcommands().map(|s| s.get_name().to_string()).collect()
}

#[test]
fn completion_scripts_mention_every_subcommand_for_every_shell() {
    let names = subcommands();
    assert!(names.contains(&"get".to_string()) && names.contains(&"completions".to_string()));
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(env!("CARGO_BIN_EXE_dlm")).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.len() > 500, "{shell}: {script}");
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell} script does not mention {name}");
        }
        assert!(script.contains("limit-rate"), "{shell}: options are completed too");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dlm")).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}
