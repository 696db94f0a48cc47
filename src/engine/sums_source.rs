//! A checksum file named by a path or an URL (`--checksum-file`, `dlm add --checksum-file`, a
//! rule's `checksum_file`): the one resolver that reads a local file or fetches a URL with the
//! engine's client settings, and parses it; `load` fills an item's `ChecksumFile` with it, so
//! a file many items share is read (or fetched) once per session. Depends on the engine's
//! options, sums, text-fetching and file-reading modules.

use std::path::Path;
use std::sync::Arc;

use super::checksum::ChecksumSource;
use super::fetch_text::{self, MAX_TEXT};
use super::options::EngineOptions;
use super::sums::{ChecksumFile, SumsFile};
use super::textfile::read_small_text;
use super::urls::redact_str;

/// Whether `source` names a URL (fetched) rather than a local file (read).
pub fn is_url(source: &str) -> bool {
    let lower = source.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Reads (a path) or fetches (an http(s) URL, with `client` when given, else one made from
/// `options`) the checksum file `source` and parses it. The error says which file and why,
/// with any credentials in its URL hidden.
pub async fn load_sums(
    source: &str,
    client: Option<&reqwest::Client>,
    options: &EngineOptions,
) -> Result<SumsFile, String> {
    let shown = redact_str(source);
    let text = if is_url(source) {
        match client {
            Some(client) => fetch_text::get(client, options, source).await,
            None => fetch_text::download_text(options, source).await,
        }
        .map_err(|e| format!("checksum file: {e}"))?
    } else {
        let path = Path::new(source).to_path_buf();
        tokio::task::spawn_blocking(move || read_small_text(&path, MAX_TEXT as u64, "a checksum file"))
            .await
            .map_err(|e| format!("cannot read checksum file {shown}: {e}"))?
            .map_err(|e| format!("cannot read checksum file {shown}: {e}"))?
    };
    SumsFile::parse(&text, ChecksumSource::File).map_err(|e| format!("checksum file {shown}: {e}"))
}

/// `file`'s entries: loaded with `client` the first time, kept after.
pub async fn load(
    file: &ChecksumFile,
    client: &reqwest::Client,
    options: &EngineOptions,
) -> Result<Arc<SumsFile>, String> {
    file.get_or_load(|| load_sums(file.source(), Some(client), options)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[tokio::test]
    async fn a_local_file_is_read_once_and_a_bad_one_says_which_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SHA256SUMS");
        std::fs::write(&path, format!("{A}  a.iso\n")).unwrap();
        let options = EngineOptions::default();
        let client = reqwest::Client::new();
        let file = ChecksumFile::new(path.to_string_lossy());
        assert!(load(&file, &client, &options).await.unwrap().get("a.iso").is_some());
        std::fs::remove_file(&path).unwrap();
        assert!(load(&file, &client, &options).await.is_ok(), "kept once read");

        let missing = ChecksumFile::new(path.to_string_lossy());
        let err = load(&missing, &client, &options).await.unwrap_err();
        assert!(err.starts_with("cannot read checksum file ") && err.contains("SHA256SUMS"), "{err}");
        std::fs::write(&path, "not sums\n").unwrap();
        let err = load(&missing, &client, &options).await.unwrap_err();
        assert!(err.contains("no checksum lines"), "a failure is not kept: {err}");
        assert!(!format!("{:?}", ChecksumFile::new("http://u:secret@h/S")).contains("secret"));
    }
}
