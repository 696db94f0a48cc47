//! The checksum a server sends with a file: RFC 9530's `Repr-Digest` and `Content-Digest`
//! (structured-field dictionaries of byte sequences, `sha-256=:BASE64:`) and RFC 3230's older
//! `Digest` (`SHA-256=BASE64`). Malformed values are skipped with a note, never an error: a
//! broken header must not fail a download that is otherwise fine. Depends on reqwest's header
//! types, base64, and the engine's checksum vocabulary.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderMap;

use super::checksum::{Algo, ChecksumSource, ExpectedChecksum, decode_hex};

/// What dlm asks for (RFC 9530 §4): sha-256 preferred, sha-512 welcome; nothing weak.
pub const WANT_REPR_DIGEST: &str = "sha-256=10, sha-512=3";

/// The strongest checksum a server's answer carries for the whole file, and notes on headers
/// that could not be read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Offered {
    pub checksum: Option<ExpectedChecksum>,
    pub notes: Vec<String>,
}

/// The known algorithms' digests a header lists, or why it cannot be read.
type Members = Result<Vec<(Algo, Vec<u8>)>, String>;

/// Reads the digest headers of an answer. `whole_identity_body`: the answer is a `200` whose
/// body is the file as is (no content coding), the only case where `Content-Digest` (a digest
/// of the body as sent) is the file's.
pub fn offered(headers: &HeaderMap, whole_identity_body: bool) -> Offered {
    let mut notes = Vec::new();
    let mut read = |name: &str, source, parse: fn(&str) -> Members| {
        let mut found: Vec<(Algo, Vec<u8>)> = Vec::new();
        for value in headers.get_all(name) {
            let text = match value.to_str() {
                Ok(text) => text,
                Err(_) => {
                    notes.push(format!("ignored a {name} header that is not text"));
                    continue;
                }
            };
            match parse(text) {
                Ok(members) => found.extend(members),
                Err(why) => notes.push(format!("ignored the {name} header {text:?}: {why}")),
            }
        }
        strongest(found, source)
    };
    let repr = read("repr-digest", ChecksumSource::ServerReprDigest, parse_structured);
    let content = if whole_identity_body {
        read("content-digest", ChecksumSource::ServerContentDigest, parse_structured)
    } else {
        None
    };
    let legacy = read("digest", ChecksumSource::ServerDigest, parse_rfc3230);
    // A strong digest from any header beats a weak one from a better header.
    let checksum = [repr, content, legacy].into_iter().flatten().min_by_key(|e| {
        (
            e.algo.is_weak(),
            e.source != ChecksumSource::ServerReprDigest,
            e.source == ChecksumSource::ServerDigest,
        )
    });
    Offered { checksum, notes }
}

/// The strongest of the members dlm knows.
fn strongest(found: Vec<(Algo, Vec<u8>)>, source: ChecksumSource) -> Option<ExpectedChecksum> {
    found.into_iter().max_by_key(|(algo, _)| *algo).map(|(algo, digest)| ExpectedChecksum {
        algo,
        digest,
        source,
    })
}

/// The algorithm names of the HTTP digest registries (RFC 9530 §7.2, RFC 3230's): `sha` is
/// sha-1. Others (crc32c, adler, unixsum…) are not checksums dlm checks.
fn http_algo(name: &str) -> Option<Algo> {
    match name.to_ascii_lowercase().as_str() {
        "sha-256" => Some(Algo::Sha256),
        "sha-512" => Some(Algo::Sha512),
        "sha" => Some(Algo::Sha1),
        "md5" => Some(Algo::Md5),
        _ => None,
    }
}

/// An RFC 9530 dictionary: `key=:BASE64:` members separated by commas, each perhaps with
/// `;param`s. Unknown algorithms are skipped; a known one with a bad value makes the header
/// unreadable (a server that gets that wrong is not trusted for the rest).
fn parse_structured(text: &str) -> Members {
    let mut out = Vec::new();
    for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let Some((key, value)) = member.split_once('=') else {
            return Err(format!("{member:?} is not key=value"));
        };
        let key = key.trim();
        if key.is_empty()
            || !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b))
        {
            return Err(format!("{key:?} is not a lower-case key"));
        }
        let value = value.split(';').next().unwrap_or_default().trim();
        let Some(algo) = http_algo(key) else { continue };
        let Some(b64) = value.strip_prefix(':').and_then(|v| v.strip_suffix(':')) else {
            return Err(format!("the {key} value is not a byte sequence (:base64:)"));
        };
        out.push((algo, digest_bytes(algo, b64)?));
    }
    Ok(out)
}

/// An RFC 3230 `Digest`: `ALGO=VALUE` pairs, names in any case, values base64 (some servers
/// send hex, or the RFC 9530 colons; both are read).
fn parse_rfc3230(text: &str) -> Members {
    let mut out = Vec::new();
    for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let Some((key, value)) = member.split_once('=') else {
            return Err(format!("{member:?} is not ALGO=VALUE"));
        };
        let Some(algo) = http_algo(key.trim()) else { continue };
        let value = value.trim().trim_matches(':');
        out.push((algo, digest_bytes(algo, value)?));
    }
    Ok(out)
}

/// The digest in `value` (base64, or hex of the right length), checked against its length.
fn digest_bytes(algo: Algo, value: &str) -> Result<Vec<u8>, String> {
    let decoded = STANDARD.decode(value).ok().filter(|d| d.len() == algo.digest_len());
    let hex = || decode_hex(value).filter(|d| d.len() == algo.digest_len());
    decoded.or_else(hex).ok_or_else(|| format!("not a {algo} digest ({} bytes)", algo.digest_len()))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    /// sha-256 of "hello world\n", base64 and hex.
    const B64: &str = "qUiQTy8PR5uPgZdpSzAYSw0u0cHNKh7A+4XSmaGSpEc=";
    const HEX: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn repr_digest_byte_sequences_are_read_strongest_first() {
        let sha512 = STANDARD.encode([7u8; 64]);
        let got =
            offered(&headers(&[("repr-digest", &format!("sha-256=:{B64}:, sha-512=:{sha512}:;x=1"))]), false);
        let e = got.checksum.unwrap();
        assert_eq!(
            (e.algo, e.source, e.digest),
            (Algo::Sha512, ChecksumSource::ServerReprDigest, vec![7u8; 64])
        );
        assert!(got.notes.is_empty());
    }

    #[test]
    fn the_rfc_3230_digest_header_is_read_in_any_case_and_hex_is_tolerated() {
        for value in [format!("SHA-256={B64}"), format!("sha-256={HEX}"), format!("MD5=abc, SHA-256=:{B64}:")]
        {
            let e = offered(&headers(&[("digest", &value)]), false).checksum;
            // md5=abc is bad: the whole header is ignored (with a note) in the last case.
            if value.starts_with("MD5") {
                assert!(e.is_none(), "{value}");
                continue;
            }
            let e = e.unwrap();
            assert_eq!(
                (e.algo, e.source, e.hex()),
                (Algo::Sha256, ChecksumSource::ServerDigest, HEX.into()),
                "{value}"
            );
        }
    }

    #[test]
    fn content_digest_counts_only_for_a_whole_identity_body() {
        let h = headers(&[("content-digest", &format!("sha-256=:{B64}:"))]);
        assert_eq!(offered(&h, true).checksum.unwrap().source, ChecksumSource::ServerContentDigest);
        assert_eq!(offered(&h, false), Offered::default());
    }

    #[test]
    fn repr_digest_wins_over_the_others_and_strong_over_weak() {
        let md5 = STANDARD.encode([1u8; 16]);
        let h = headers(&[
            ("digest", &format!("sha-256={B64}")),
            ("repr-digest", &format!("md5=:{md5}:")),
            ("content-digest", &format!("sha-256=:{B64}:")),
        ]);
        assert_eq!(offered(&h, true).checksum.unwrap().source, ChecksumSource::ServerContentDigest);
        let h =
            headers(&[("digest", &format!("sha-256={B64}")), ("repr-digest", &format!("sha-256=:{B64}:"))]);
        assert_eq!(offered(&h, true).checksum.unwrap().source, ChecksumSource::ServerReprDigest);
    }

    #[test]
    fn malformed_headers_are_ignored_with_a_note() {
        for bad in ["sha-256", "sha-256=abc", "sha-256=:!!!:", "SHA-256=:x:", "sha-256=:AAAA:", "=", ",,,=x"]
        {
            let got = offered(&headers(&[("repr-digest", bad)]), false);
            assert_eq!(got.checksum, None, "{bad}");
            assert_eq!(got.notes.len(), 1, "{bad}: {:?}", got.notes);
        }
        // Unknown algorithms are not errors.
        let got = offered(&headers(&[("repr-digest", "crc32c=:AAAAAA==:")]), false);
        assert_eq!(got, Offered::default());
    }
}
