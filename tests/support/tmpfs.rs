//! A tmpfs mounted for one test (read-only, or a few KiB large) and unmounted when dropped:
//! how tests running as root get a folder that cannot be written or a disk that fills up.
//! A test that needs one panics, saying why, where `mount` is not allowed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, options: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        match Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(at).output() {
            Ok(out) if out.status.success() => Self(at.to_path_buf()),
            result => panic!(
                "this test needs to mount a tmpfs (as root); leave it out with `--skip tmpfs`: {}",
                result.map_or_else(|e| e.to_string(), |o| String::from_utf8_lossy(&o.stderr).into_owned())
            ),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
