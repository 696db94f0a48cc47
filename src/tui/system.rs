//! What the UI asks of the desktop around it: opening a file or folder with the system's
//! opener (`xdg-open`, or `open` on macOS) and copying text to the clipboard with OSC 52, the
//! escape sequence terminals (and tmux, with its passthrough) turn into a clipboard write, so
//! copying works over SSH too; and checking a download folder typed into the UI. Depends on std only; the event loop calls it, the pure `App`
//! only asks for it through `Effect`s.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The escape sequence that asks the terminal to put `text` on the clipboard. Inside tmux
/// (`in_tmux`) it is wrapped in tmux's passthrough (`ESC P tmux; … ESC \`, every ESC inside
/// doubled), which tmux forwards to the outer terminal when `allow-passthrough` is on.
pub fn osc52(text: &str, in_tmux: bool) -> String {
    let inner = format!("\x1b]52;c;{}\x07", base64(text.as_bytes()));
    if in_tmux { format!("\x1bPtmux;{}\x1b\\", inner.replace('\x1b', "\x1b\x1b")) } else { inner }
}

/// Standard base64 with padding, as OSC 52 wants it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Checks a folder typed into the `F` box and makes it ready for downloads: `~/` is the home
/// folder, a relative path is taken from the current folder, a missing folder is created, and
/// it must take a new file (one is created and removed). Returns the absolute folder or why not.
pub fn prepare_folder(typed: &str) -> Result<PathBuf, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err("no folder given".to_string());
    }
    let path = match typed.strip_prefix("~/").or(if typed == "~" { Some("") } else { None }) {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => return Err("HOME is not set, so ~ means nothing".to_string()),
        },
        None => PathBuf::from(typed),
    };
    let path = std::path::absolute(&path).map_err(|e| format!("{typed}: {e}"))?;
    if path.exists() && !path.is_dir() {
        return Err(format!("{} is not a folder", path.display()));
    }
    std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let probe = path.join(format!(".dlm-write-check-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| format!("cannot write in {}: {e}", path.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(path)
}

/// Opens `path` with the system's opener, detached: its output never reaches the UI's
/// screen, and a thread reaps it so no zombie is left. The error says why nothing can open
/// it here, in words for the status line.
pub fn open(path: &Path) -> Result<(), String> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let opener = opener_for(
        cfg!(target_os = "macos"),
        env("SSH_CONNECTION").is_some(),
        env("DISPLAY").is_some() || env("WAYLAND_DISPLAY").is_some(),
        |name| find_in_path(name, env("PATH").as_deref()),
    )?;
    let mut child = Command::new(&opener)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", opener.display()))?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Which program opens files here, or why none can: over SSH with no display the file is on
/// the remote machine, and an opener would open it there, unseen.
fn opener_for(
    macos: bool,
    over_ssh: bool,
    display: bool,
    find: impl Fn(&str) -> Option<PathBuf>,
) -> Result<PathBuf, String> {
    if macos {
        return find("open").ok_or_else(|| "`open` is not on the PATH".to_string());
    }
    if over_ssh && !display {
        return Err(
            "over SSH with no display: nothing here can show it (y/Y copy the URL or path)".to_string()
        );
    }
    find("xdg-open").ok_or_else(|| "no `xdg-open` on the PATH to open it with".to_string())
}

fn find_in_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
    }

    #[test]
    fn osc52_is_wrapped_for_tmux_with_doubled_escapes() {
        assert_eq!(osc52("foo", false), "\x1b]52;c;Zm9v\x07");
        assert_eq!(osc52("foo", true), "\x1bPtmux;\x1b\x1b]52;c;Zm9v\x07\x1b\\");
    }

    #[test]
    fn a_typed_folder_is_created_made_absolute_and_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        assert_eq!(prepare_folder(nested.to_str().unwrap()), Ok(nested.clone()));
        assert!(nested.is_dir());
        assert_eq!(std::fs::read_dir(&nested).unwrap().count(), 0, "the write check leaves nothing");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(prepare_folder(file.to_str().unwrap()).unwrap_err().contains("not a folder"));
        assert!(prepare_folder("  ").is_err());
    }

    #[test]
    fn the_opener_is_refused_over_ssh_without_a_display() {
        let found = |n: &str| Some(PathBuf::from(format!("/usr/bin/{n}")));
        assert_eq!(opener_for(false, false, false, found), Ok(PathBuf::from("/usr/bin/xdg-open")));
        assert!(opener_for(false, true, false, found).unwrap_err().contains("over SSH"));
        assert_eq!(opener_for(false, true, true, found), Ok(PathBuf::from("/usr/bin/xdg-open")));
        assert_eq!(opener_for(true, true, false, found), Ok(PathBuf::from("/usr/bin/open")));
        assert!(opener_for(false, false, true, |_| None).unwrap_err().contains("no `xdg-open`"));
    }
}
