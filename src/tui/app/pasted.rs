//! What text pasted or typed into the add box asks for: one download from a "Copy as cURL"
//! command (with its headers, cookies and login), or every http(s) URL with the checksum that
//! follows it (`URL sha256=HEX`). A command that cannot be used or a bad checksum refuses the
//! whole text, saying why (never a value from the command), so nothing is added half-checked.
//! Pure; depends on `inputs`, `curl` and the engine's request and checksum types.

use std::path::PathBuf;

use crate::engine::{AddRequest, ChecksumSource, ExpectedChecksum, redact_url};
use crate::inputs::split_pasted_with_checksums;

/// The downloads in a text, and what else it held.
#[derive(Debug, Default)]
pub struct Pasted {
    pub requests: Vec<AddRequest>,
    /// Words that are neither URLs nor a URL's checksum.
    pub others: Vec<String>,
    /// For a curl command: what it brings besides the URL (`headers: 2, cookies: 1`).
    pub curl: Option<String>,
    /// Things the person should know (a curl command's `-k` was ignored).
    pub notices: Vec<String>,
}

/// Reads `text` into add requests for `dir` (`None`: the engine's default folder).
pub fn read(text: &str, dir: Option<&PathBuf>) -> Result<Pasted, String> {
    if crate::curl::looks_like_curl(text) {
        let command = crate::curl::parse(text).map_err(|e| format!("curl command: {e}"))?;
        let mut request = command.to_add_request().map_err(|e| format!("curl command: {e}"))?;
        request.dir = dir.cloned();
        let notices =
            if command.insecure { vec![crate::curl::INSECURE_IGNORED.to_string()] } else { Vec::new() };
        return Ok(Pasted {
            requests: vec![request],
            curl: Some(command.summary()),
            notices,
            ..Pasted::default()
        });
    }
    let (urls, others) = split_pasted_with_checksums(text);
    let mut requests = Vec::with_capacity(urls.len());
    for (url, checksum) in urls {
        let checksum = match checksum {
            Some(word) => Some(
                ExpectedChecksum::parse(&word, ChecksumSource::List)
                    .map_err(|e| format!("{}: {e}", shown(&url)))?,
            ),
            None => None,
        };
        requests.push(AddRequest { dir: dir.cloned(), checksum, ..AddRequest::new(url) });
    }
    Ok(Pasted { requests, others, ..Pasted::default() })
}

/// A line for the add box's preview: what Enter would add, or why it would not.
pub fn preview(text: &str) -> Result<String, String> {
    if crate::curl::looks_like_curl(text) {
        let command = crate::curl::parse(text).map_err(|e| format!("curl command: {e}"))?;
        // What it brings first: a long URL is cut at the box's edge.
        return Ok(format!("curl command: {} · {}", command.summary(), redact_url(&command.url)));
    }
    let pasted = read(text, None)?;
    let mut line = match pasted.requests.len() {
        1 => "1 URL".to_string(),
        n => format!("{n} URLs"),
    };
    let checked = pasted.requests.iter().filter(|r| r.checksum.is_some()).count();
    if checked > 0 {
        line.push_str(&format!(" ({checked} with a checksum)"));
    }
    if !pasted.others.is_empty() {
        line.push_str(&format!(" · {} other words will be ignored", pasted.others.len()));
    }
    Ok(line)
}

/// A URL as it may be shown: without a password.
fn shown(url: &str) -> String {
    crate::engine::redact_str(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "d41d8cd98f00b204e9800998ecf8427e";

    #[test]
    fn a_url_keeps_the_checksum_after_it_and_a_bad_one_refuses_the_text() {
        let p = read(&format!("http://h/a md5={HEX}\nhttp://h/b word"), Some(&"/d".into())).unwrap();
        assert_eq!(p.requests.len(), 2);
        assert_eq!(p.requests[0].checksum.as_ref().map(|c| c.hex()), Some(HEX.to_string()));
        assert_eq!(p.requests[0].dir.as_deref(), Some("/d".as_ref()));
        assert!(p.requests[1].checksum.is_none());
        assert_eq!(p.others, ["word"]);
        let err = read("http://u:pw@h/a sha256=00", None).unwrap_err();
        assert!(err.contains("sha256") && !err.contains("pw@"), "{err}");
        assert_eq!(
            preview(&format!("http://h/a md5={HEX} x")).unwrap(),
            "1 URL (1 with a checksum) · 1 other words will be ignored"
        );
    }

    #[test]
    fn a_curl_command_is_one_item_and_its_preview_shows_no_secret() {
        let text = "curl 'http://h/f.iso' -H 'X-Token: SECRET' -b 'sid=TOPSECRET; b=2' -u 'me:PASSWORD' -k";
        let p = read(text, None).unwrap();
        assert_eq!(p.requests.len(), 1);
        assert_eq!(p.requests[0].url, "http://h/f.iso");
        assert_eq!(p.notices, [crate::curl::INSECURE_IGNORED]);
        let line = preview(text).unwrap();
        assert_eq!(line, "curl command: headers: 1, cookies: 2, login · http://h/f.iso");
        let err = read("curl -d 'pw=SECRET' http://h/f", None).unwrap_err();
        assert!(err.starts_with("curl command: ") && !err.contains("SECRET"), "{err}");
        let debug = format!("{:?}", p.requests[0]);
        assert!(!debug.contains("SECRET") && !debug.contains("PASSWORD"), "{debug}");
    }
}
