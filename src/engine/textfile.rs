//! Reading a small text file a person named (a `.netrc`, a `cookies.txt`, a `-H @FILE`):
//! refused, with the reason in words, when it is not a regular file, is larger than the
//! kind of file can be, or is not UTF-8. Depends on std only.

use std::path::Path;

/// The file's text, or why it cannot be used (for the caller's "cannot read X file PATH:"
/// message). `what` names the kind of file ("a netrc file").
pub fn read_small_text(path: &Path, max_bytes: u64, what: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > max_bytes {
        return Err(format!("{} bytes is too large for {what}", meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not a text file (invalid UTF-8)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_and_other_files_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "hello\n").unwrap();
        assert_eq!(read_small_text(&path, 100, "a test file").as_deref(), Ok("hello\n"));
        assert_eq!(
            read_small_text(&path, 3, "a test file"),
            Err("6 bytes is too large for a test file".into())
        );
        assert_eq!(read_small_text(dir.path(), 100, "x"), Err("not a regular file".into()));
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert_eq!(read_small_text(&path, 100, "x"), Err("not a text file (invalid UTF-8)".into()));
        assert!(read_small_text(&dir.path().join("none"), 100, "x").is_err());
    }
}
