//! Choosing the file name: Content-Disposition (read by `disposition`), else the URL's last
//! path segment, else a fallback; sanitised so a server can never choose the folder, and made
//! unique so nothing is overwritten (`reservations` hands the names out). Pure functions.
//! Depends only on std, `url`, `percent-encoding` and `disposition`.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use url::Url;

/// Longest file name in bytes; most filesystems allow 255, and ` (99).part` must still fit.
pub const MAX_NAME_BYTES: usize = 200;
/// Name used when neither the server nor the URL offers a usable one.
pub const FALLBACK_NAME: &str = "download";
/// Suffix of the file a download is written to until it is complete.
pub const PART_SUFFIX: &str = ".part";

pub use super::disposition::filename_from_content_disposition;

/// The file name for a response: Content-Disposition first, then the URL path, then a fallback.
/// The result is always a single, safe path component. The header is given as raw bytes: a
/// name in it may be UTF-8 or ISO-8859-1, which a `&str` view of the header would refuse.
pub fn choose_name(
    content_disposition: Option<&[u8]>,
    final_url: &Url,
    content_type: Option<&str>,
) -> String {
    content_disposition
        .and_then(filename_from_content_disposition)
        .and_then(|n| sanitize(&n))
        .or_else(|| name_from_url(final_url).and_then(|n| sanitize(&n)))
        .unwrap_or_else(|| {
            let html = content_type.is_some_and(|t| t.trim_start().starts_with("text/html"));
            if html { "index.html" } else { FALLBACK_NAME }.to_string()
        })
}

/// The last non-empty path segment of `url`, percent-decoded.
pub fn name_from_url(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    Some(percent_decode_str(segment).decode_utf8_lossy().into_owned())
}

/// Makes `raw` a safe single file name, or `None` when nothing usable is left.
///
/// Keeps only what follows the last `/` or `\` (so `../../x` is `x` and `/etc/passwd` is
/// `passwd`), drops control characters, leading dots (no hidden files) and surrounding spaces,
/// prefixes Windows reserved device names, and caps the length, keeping the extension.
pub fn sanitize(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    // Dots and spaces are stripped together: `..\0..x` (a control character between two runs of
    // dots) must not come out as the hidden `..x`.
    let cleaned = cleaned.trim_start_matches(|c: char| c == '.' || c.is_whitespace());
    let cleaned = cleaned.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if cleaned.is_empty() {
        return None;
    }
    let mut name = cleaned.to_string();
    if is_windows_reserved(&name) {
        name.insert(0, '_');
    }
    Some(cap_length(&name, MAX_NAME_BYTES))
}

fn is_windows_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit())
}

/// Cuts `name` to at most `max` bytes on a character boundary, keeping a short extension.
fn cap_length(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let (stem, ext) = split_extension(name);
    if ext.len() <= 16 && ext.len() < max / 2 {
        let stem = truncate_to_boundary(stem, max - ext.len());
        format!("{}{ext}", stem.trim_end())
    } else {
        truncate_to_boundary(name, max).to_string()
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn truncate_to_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Splits `archive.tar.gz` into `("archive", ".tar.gz")` and `file.iso` into `("file", ".iso")`.
/// A leading dot is not an extension.
pub fn split_extension(name: &str) -> (&str, &str) {
    const DOUBLE: [&str; 6] = [".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar.lz", ".tar.lzma"];
    let lower = name.to_ascii_lowercase();
    for ext in DOUBLE {
        if lower.ends_with(ext) && name.len() > ext.len() {
            let at = name.len() - ext.len();
            return (&name[..at], &name[at..]);
        }
    }
    match name.rfind('.') {
        Some(0) | None => (name, ""),
        Some(at) => (&name[..at], &name[at..]),
    }
}

/// `name (n).ext` for the n-th alternative.
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = split_extension(name);
    format!("{stem} ({n}){ext}")
}

/// The sidecar of a final path's partial file: `NAME.part.dlm` (written by `disk`).
pub fn sidecar_path(final_path: &Path) -> PathBuf {
    let mut os = part_path(final_path).into_os_string();
    os.push(".dlm");
    PathBuf::from(os)
}

/// The path of the partial file for a final path: `NAME.part`.
pub fn part_path(final_path: &Path) -> PathBuf {
    let mut os = final_path.as_os_str().to_owned();
    os.push(PART_SUFFIX);
    PathBuf::from(os)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn dots_split_by_control_characters_still_never_make_a_hidden_name() {
        // Found by the property test in tests/fuzz_parsers.rs.
        assert_eq!(sanitize("..\0..x.txt").as_deref(), Some("x.txt"));
        assert_eq!(sanitize(". \u{7f} .\t.x").as_deref(), Some("x"));
        assert_eq!(sanitize("..\0.."), None);
    }

    #[test]
    fn hostile_names_stay_in_the_folder() {
        assert_eq!(sanitize("../../x").as_deref(), Some("x"));
        assert_eq!(sanitize("/etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize("..\\..\\win.ini").as_deref(), Some("win.ini"));
        assert_eq!(sanitize("..").as_deref(), None);
        assert_eq!(sanitize("/").as_deref(), None);
        assert_eq!(sanitize(".bashrc").as_deref(), Some("bashrc"));
        assert_eq!(sanitize("a\u{0}b\nc\x1b[31m.txt").as_deref(), Some("a b c [31m.txt"));
        assert_eq!(sanitize("CON.txt").as_deref(), Some("_CON.txt"));
        assert_eq!(sanitize("lpt1").as_deref(), Some("_lpt1"));
        assert_eq!(sanitize("  spaced.  ").as_deref(), Some("spaced"));
    }

    #[test]
    fn long_names_are_capped_keeping_extension() {
        let long = format!("{}.iso", "é".repeat(5000));
        let name = sanitize(&long).unwrap();
        assert!(name.len() <= MAX_NAME_BYTES, "{}", name.len());
        assert!(name.ends_with(".iso"));
    }

    #[test]
    fn name_from_url_path() {
        assert_eq!(name_from_url(&url("http://h/a/b/file%20name.zip?x=1")).as_deref(), Some("file name.zip"));
        assert_eq!(name_from_url(&url("http://h/dir/")).as_deref(), Some("dir"));
        assert_eq!(name_from_url(&url("http://h/")), None);
        assert_eq!(
            name_from_url(&url("http://h/a/%2e%2e%2f%2e%2e%2fetc%2fpasswd")).as_deref(),
            Some("../../etc/passwd")
        );
    }

    #[test]
    fn choose_name_order_and_fallbacks() {
        let u = url("http://h/path/from-url.bin");
        assert_eq!(choose_name(Some("attachment; filename=cd.bin".as_bytes()), &u, None), "cd.bin");
        assert_eq!(choose_name(Some(r#"attachment; filename="../""#.as_bytes()), &u, None), "from-url.bin");
        assert_eq!(choose_name(None, &url("http://h/a/%2e%2e%2fsecret"), None), "secret");
        assert_eq!(choose_name(None, &url("http://h/"), Some("text/html; charset=utf-8")), "index.html");
        assert_eq!(choose_name(None, &url("http://h/"), None), FALLBACK_NAME);
    }

    #[test]
    fn numbered_alternatives_keep_extensions() {
        assert_eq!(numbered("file.iso", 1), "file (1).iso");
        assert_eq!(numbered("a.tar.gz", 2), "a (2).tar.gz");
        assert_eq!(numbered("README", 3), "README (3)");
        assert_eq!(numbered(".hidden", 1), ".hidden (1)");
    }
}
