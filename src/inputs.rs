//! Reading URL lists for `-i FILE` / `-i -`: one URL per line, perhaps followed by the file's
//! checksum (`URL sha256=HEX`), blank lines and `#` comments skipped, whitespace trimmed; each
//! line keeps its number so errors can point at it.

use std::io::{self, BufRead};
use std::path::Path;

/// A URL from a list, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUrl {
    pub line: usize,
    pub url: String,
    /// What followed the URL on its line (`sha256=HEX`), unparsed: the caller checks it and
    /// says which line is wrong.
    pub checksum: Option<String>,
}

/// The URLs in a list's text, in order.
pub fn parse_list(text: &str) -> Vec<ListedUrl> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            // A URL has no unescaped whitespace: a checksum word after it is its checksum.
            // Anything else stays part of the line, which is then reported as a bad URL.
            let (url, checksum) = match line.split_once(char::is_whitespace) {
                Some((url, rest)) if is_checksum_word(rest.trim()) => (url, Some(rest.trim().to_string())),
                _ => (line, None),
            };
            Some(ListedUrl { line: i + 1, url: url.to_string(), checksum })
        })
        .collect()
}

/// Reads a list from a file, or from standard input when `path` is `-`.
pub fn read_list(path: &Path) -> io::Result<Vec<ListedUrl>> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        for line in io::stdin().lock().lines() {
            text.push_str(&line?);
            text.push('\n');
        }
    } else {
        // Valid UTF-8 (the usual case) is taken as it is, not copied: a list of 100,000
        // URLs is megabytes.
        text = String::from_utf8(std::fs::read(path)?)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
    Ok(parse_list(&text))
}

/// Every http(s) URL in a pasted text (separated by whitespace), and the other words.
pub fn split_pasted(text: &str) -> (Vec<String>, Vec<String>) {
    text.split_whitespace().map(str::to_string).partition(|w| {
        let lower = w.to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    })
}

/// Whether `word` is meant as a checksum: `ALGO=…` or `ALGO:…` with an algorithm dlm knows
/// (whether the digits are right is checked later, with a message saying what is wrong).
pub fn is_checksum_word(word: &str) -> bool {
    word.split_once(['=', ':']).is_some_and(|(algo, _)| {
        let algo = algo.to_ascii_lowercase().replace(['-', '_'], "");
        matches!(algo.as_str(), "sha256" | "sha512" | "sha1" | "md5")
    })
}

/// Like `split_pasted`, with a checksum word right after a URL (`URL sha256=HEX`) kept with
/// it, unparsed: for the add box, so pasted text carries checksums as lists do.
pub fn split_pasted_with_checksums(text: &str) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let is_url = |w: &str| {
        let lower = w.to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    };
    let (mut urls, mut rest): (Vec<(String, Option<String>)>, Vec<String>) = (Vec::new(), Vec::new());
    let mut after_url = false;
    for word in text.split_whitespace() {
        match urls.last_mut() {
            _ if is_url(word) => urls.push((word.to_string(), None)),
            Some((_, checksum)) if after_url && is_checksum_word(word) => *checksum = Some(word.to_string()),
            _ => rest.push(word.to_string()),
        }
        after_url = is_url(word);
    }
    (urls, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_blanks_and_comments_keeping_line_numbers() {
        let list = parse_list("# mirror list\n\n  http://a/1  \n\t# indented comment\nhttp://a/2\r\n");
        assert_eq!(
            list,
            vec![
                ListedUrl { line: 3, url: "http://a/1".into(), checksum: None },
                ListedUrl { line: 5, url: "http://a/2".into(), checksum: None },
            ]
        );
    }

    #[test]
    fn a_checksum_after_the_url_is_kept_apart() {
        let list = parse_list("http://a/1   sha256=ABCD  \nhttp://a/2\tMD5:00\nnot a url\n");
        assert_eq!(list[0].url, "http://a/1");
        assert_eq!(list[0].checksum.as_deref(), Some("sha256=ABCD"));
        assert_eq!(list[1].checksum.as_deref(), Some("MD5:00"));
        assert_eq!((list[2].url.as_str(), list[2].checksum.as_deref()), ("not a url", None), "a bad URL");
    }

    #[test]
    fn pasted_text_splits_urls_from_the_rest() {
        let (urls, rest) = split_pasted("see http://a/1 and\nHTTPS://b/2\tftp://c/3");
        assert_eq!(urls, vec!["http://a/1", "HTTPS://b/2"]);
        assert_eq!(rest, vec!["see", "and", "ftp://c/3"]);
    }

    #[test]
    fn pasted_checksums_stay_with_the_url_before_them() {
        let (urls, rest) = split_pasted_with_checksums(
            "http://a/1 sha256=AB\nhttp://a/2 md5=00 md5=11 word http://a/3 x sha1=00",
        );
        assert_eq!(
            urls,
            vec![
                ("http://a/1".to_string(), Some("sha256=AB".to_string())),
                ("http://a/2".into(), Some("md5=00".into())),
                ("http://a/3".into(), None),
            ]
        );
        assert_eq!(rest, vec!["md5=11", "word", "x", "sha1=00"]);
    }
}
