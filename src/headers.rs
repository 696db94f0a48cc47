//! Request headers the person gives: one `Name: value` (from `-H`, a `[headers]` table or a
//! pasted curl command) and header files for `-H @FILE`, one `Name: value` a line as curl reads
//! them. Pure but for reading the file; depends on the engine's `read_small_text` and the header-name rules of `http`
//! (through reqwest).
//!
//! Header files hold tokens (`Authorization: Bearer …`): their errors name the file and line,
//! never the text.

use std::path::{Path, PathBuf};

use crate::engine::read_small_text;

/// Files larger than this are refused: a header file is a few lines.
const MAX_HEADER_FILE_BYTES: u64 = 1 << 20;

/// Why a header (or a header file) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("cannot read header file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("header file {}:{line}: {problem}", path.display())]
    Invalid { path: PathBuf, line: usize, problem: String },
}

/// `Name: value` → `("Name", "value")`, both trimmed. The problem is said without the text,
/// which may be a token.
pub fn parse_line(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err("expected 'Name: value' (no colon)".into());
    };
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() {
        return Err("expected 'Name: value' (the name is empty)".into());
    }
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        // Not echoed: a line missing its name ("Bearer abc:def") would show the token.
        return Err(
            "the text before the colon is not a valid header name (write 'Name: value', as in 'X-Token: abc')"
                .into(),
        );
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(format!("the value of header `{name}` has characters a header cannot carry"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// The headers of a `-H @FILE` file: one `Name: value` a line; blank lines and lines starting
/// with `#` are skipped; `\r\n` line ends are read. `path` only labels errors.
pub fn parse_file(text: &str, path: &Path) -> Result<Vec<(String, String)>, HeaderError> {
    let mut headers = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let header = parse_line(line).map_err(|problem| HeaderError::Invalid {
            path: path.to_path_buf(),
            line: i + 1,
            problem,
        })?;
        headers.push(header);
    }
    Ok(headers)
}

/// Reads a header file (`-H @FILE`).
pub fn read_file(path: &Path) -> Result<Vec<(String, String)>, HeaderError> {
    let text = read_small_text(path, MAX_HEADER_FILE_BYTES, "a header file")
        .map_err(|reason| HeaderError::Read { path: path.to_path_buf(), reason })?;
    parse_file(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_header_a_line_skipping_blanks_and_comments() {
        let text = "Authorization: Bearer abc\r\n\n# a comment\nX-Empty:\n  Referer:  https://e.com/  \n";
        let headers = parse_file(text, Path::new("h")).unwrap();
        let want = [("Authorization", "Bearer abc"), ("X-Empty", ""), ("Referer", "https://e.com/")];
        assert_eq!(headers, want.map(|(n, v)| (n.to_string(), v.to_string())));
    }

    #[test]
    fn errors_name_the_line_never_the_text() {
        let err = |t: &str| parse_file(t, Path::new("/h.txt")).unwrap_err().to_string();
        assert_eq!(
            err("A: 1\nBearer topsecret\n"),
            "header file /h.txt:2: expected 'Name: value' (no colon)"
        );
        assert_eq!(err(": topsecret"), "header file /h.txt:1: expected 'Name: value' (the name is empty)");
        assert_eq!(
            err("Bearer top:secret"),
            "header file /h.txt:1: the text before the colon is not a valid header name (write 'Name: value', as in 'X-Token: abc')"
        );
        let m = err("X-Token: top\u{7f}secret");
        assert!(m.ends_with("the value of header `X-Token` has characters a header cannot carry"), "{m}");
    }

    #[test]
    fn files_are_read_or_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.txt");
        std::fs::write(&path, "X-A: 1\n").unwrap();
        assert_eq!(read_file(&path).unwrap(), vec![("X-A".to_string(), "1".to_string())]);
        assert!(matches!(read_file(&dir.path().join("none")), Err(HeaderError::Read { .. })));
        assert!(read_file(dir.path()).unwrap_err().to_string().ends_with("not a regular file"));
    }
}
