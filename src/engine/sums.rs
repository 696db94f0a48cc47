//! Checksums known before a download starts: `sha256sum`-style files (GNU `HEX  name` and BSD
//! `SHA256 (name) = HEX`) matched by file name, and the `ChecksumBook` the engine options
//! carry (checksums by URL from `--checksum` and list lines, plus SUMS files), and the
//! `ChecksumFile` an item may have of its own, loaded once. Plain data and parsing; depends on
//! std, tokio's `OnceCell`, percent-encoding and the engine's checksum and URL vocabulary.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::checksum::{Algo, ChecksumSource, ExpectedChecksum};

/// The entries of a checksum file, by file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SumsFile {
    /// File name (the last path segment of the entry) → checksum.
    by_name: HashMap<String, ExpectedChecksum>,
}

impl SumsFile {
    /// Parses a checksum file. Lines that are not entries (comments, PGP armour around a
    /// signed `SHA256SUMS`, blank lines) are skipped; the file must hold at least one entry.
    pub fn parse(text: &str, source: ChecksumSource) -> Result<Self, String> {
        let mut by_name = HashMap::new();
        for line in text.lines() {
            if let Some((name, expected)) = parse_line(line.trim_end_matches('\r'), source) {
                let base = name.rsplit('/').next().unwrap_or(&name).to_string();
                by_name.insert(base, expected);
            }
        }
        if by_name.is_empty() {
            return Err("no checksum lines in it (expected `HEX  NAME` or `SHA256 (NAME) = HEX`)".into());
        }
        Ok(Self { by_name })
    }

    /// The checksum for a file called `name`.
    pub fn get(&self, name: &str) -> Option<&ExpectedChecksum> {
        self.by_name.get(name)
    }

    /// The checksum for an item saved as `name`, else for its URL's last path segment (as
    /// `ChecksumBook::for_name` does over several files).
    pub fn for_item(&self, name: &str, url: &url::Url) -> Option<&ExpectedChecksum> {
        self.get(name).or_else(|| self.get(&last_segment(url)?))
    }

    /// The checksum for the URL's last path segment (the file's name before the server says
    /// another).
    pub fn for_url(&self, url: &url::Url) -> Option<&ExpectedChecksum> {
        self.get(&last_segment(url)?)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// One line: `HEX  NAME`, `HEX *NAME` (binary mode), `\HEX  NAME` (escaped name), or BSD's
/// `ALGO (NAME) = HEX`. The algorithm of a GNU line is told by the digest's length.
fn parse_line(line: &str, source: ChecksumSource) -> Option<(String, ExpectedChecksum)> {
    let line = line.trim_start();
    if let Some((head, hex)) = line.rsplit_once(") = ") {
        let (algo, name) = head.split_once(" (")?;
        let expected = ExpectedChecksum::from_hex(Algo::parse(algo)?, hex.trim(), source).ok()?;
        return Some((name.to_string(), expected));
    }
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (hex, rest) = line.split_once(' ')?;
    let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*')).unwrap_or(rest);
    let algo = Algo::of_hex_len(hex.len())?;
    let expected = ExpectedChecksum::from_hex(algo, hex, source).ok()?;
    let name = if escaped { name.replace("\\n", "\n").replace("\\\\", "\\") } else { name.to_string() };
    (!name.is_empty()).then_some((name, expected))
}

/// Every checksum known before downloads start (engine options): by URL, from `--checksum`
/// and `URL ALGO=HEX` list lines, and checksum files matched by the name each item gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksumBook {
    by_url: HashMap<String, ExpectedChecksum>,
    files: Vec<SumsFile>,
}

impl ChecksumBook {
    /// Expects `checksum` for the item added with exactly this URL text.
    pub fn insert_url(&mut self, url: impl Into<String>, checksum: ExpectedChecksum) {
        self.by_url.insert(url.into(), checksum);
    }

    pub fn add_file(&mut self, file: SumsFile) {
        self.files.push(file);
    }

    pub fn is_empty(&self) -> bool {
        self.by_url.is_empty() && self.files.is_empty()
    }

    /// The checksum given for this URL (as added).
    pub fn for_url(&self, url: &str) -> Option<&ExpectedChecksum> {
        self.by_url.get(url.trim())
    }

    /// The checksum a checksum file lists for `name` (the file name the item got), else for
    /// the URL's last path segment (the name the server's file has, when dlm chose another,
    /// e.g. `file (1).iso`).
    pub fn for_name(&self, name: &str, url: &url::Url) -> Option<&ExpectedChecksum> {
        self.files.iter().find_map(|f| f.get(name)).or_else(|| {
            let segment = last_segment(url)?;
            self.files.iter().find_map(|f| f.get(&segment))
        })
    }
}

/// The URL's last path segment, percent-decoded; `None` when empty.
fn last_segment(url: &url::Url) -> Option<String> {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

/// A checksum file one or more items are checked against, loaded when the first of them
/// needs it and kept: a URL is fetched once, however many items share it. A failed load is
/// not kept, so a later item tries again (the server may be back).
pub struct ChecksumFile {
    source: String,
    loaded: tokio::sync::OnceCell<Arc<SumsFile>>,
}

impl ChecksumFile {
    /// `source` is a path (absolute, or relative to the folder dlm runs in) or an http(s) URL.
    pub fn new(source: impl Into<String>) -> Self {
        Self { source: source.into(), loaded: tokio::sync::OnceCell::new() }
    }

    /// One already read, e.g. by `dlm add` checking it before sending it on.
    pub fn loaded(source: impl Into<String>, sums: SumsFile) -> Self {
        Self { source: source.into(), loaded: tokio::sync::OnceCell::new_with(Some(Arc::new(sums))) }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The file's entries, loaded by `load` (`sums_source::load`) the first time.
    pub async fn get_or_load<F, Fut>(&self, load: F) -> Result<Arc<SumsFile>, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SumsFile, String>>,
    {
        self.loaded.get_or_try_init(|| async { load().await.map(Arc::new) }).await.cloned()
    }
}

impl fmt::Debug for ChecksumFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChecksumFile")
            .field("source", &super::urls::redact_str(&self.source))
            .field("loaded", &self.loaded.initialized())
            .finish()
    }
}

/// The same file whether loaded yet or not.
impl PartialEq for ChecksumFile {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for ChecksumFile {}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const M: &str = "d41d8cd98f00b204e9800998ecf8427e";

    #[test]
    fn gnu_and_bsd_lines_are_read_and_the_rest_skipped() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{A}  a.iso\n{M} *dir/b.bin\r\n\
             SHA256 (c d.txt) = {}\n# comment\nnot a line\n\\{A}  e\\\\f\n",
            A.to_uppercase()
        );
        let sums = SumsFile::parse(&text, ChecksumSource::File).unwrap();
        assert_eq!(sums.len(), 4);
        assert_eq!(sums.get("a.iso").unwrap().algo, Algo::Sha256);
        assert_eq!(sums.get("b.bin").unwrap().algo, Algo::Md5);
        assert_eq!(sums.get("c d.txt").unwrap().hex(), A);
        assert!(sums.get("e\\f").is_some());
        assert!(SumsFile::parse("hello\n", ChecksumSource::File).unwrap_err().contains("no checksum lines"));
    }

    #[test]
    fn the_book_matches_by_url_then_name_then_the_urls_last_segment() {
        let mut book = ChecksumBook::default();
        book.add_file(SumsFile::parse(&format!("{A}  a b.iso\n"), ChecksumSource::File).unwrap());
        let url = url::Url::parse("http://h/x/a%20b.iso").unwrap();
        assert!(book.for_name("a b.iso", &url).is_some());
        assert!(book.for_name("a b (1).iso", &url).is_some(), "by the URL's segment");
        assert!(book.for_name("other", &url::Url::parse("http://h/other").unwrap()).is_none());
        book.insert_url(
            "http://h/x",
            ExpectedChecksum::parse(&format!("md5={M}"), ChecksumSource::User).unwrap(),
        );
        assert_eq!(book.for_url(" http://h/x ").unwrap().algo, Algo::Md5);
    }
}
