//! The file name a `Content-Disposition` header offers (RFC 6266), with `filename*` (RFC 8187,
//! formerly 5987), RFC 2231 continuations and the RFC 2047 encoded words some servers still
//! send. Pure functions over the header's raw bytes; depends only on std and `percent-encoding`.
//!
//! The reading is lenient where a broken header still says plainly what the name is
//! (`filename=foo bar.html` unquoted, a trailing `;`, non-ASCII bytes in a token), and strict
//! where it does not: a header whose structure is broken (a quoted or missing disposition
//! type, an unclosed or stray quote, two dispositions or two header fields in one, a parameter
//! given twice) offers no name at all, so the URL's name is used rather than a fragment such
//! as `foo"bar` or `foo.html, attachment`. Julian Reschke's tc2231 cases are the reference;
//! `tests/names.rs` checks every one of them.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// The file name a Content-Disposition header value offers, unsanitised, or `None`.
///
/// The bytes are read as UTF-8 when they are valid UTF-8 (what servers send today) and as
/// ISO-8859-1 otherwise (what older servers send, and what browsers fall back to). A valid
/// `filename*` wins over RFC 2231 continuations (`filename*0`, `filename*1`, …), which win over
/// `filename`, as RFC 6266 says.
pub fn filename_from_content_disposition(raw: &[u8]) -> Option<String> {
    let text = header_text(raw);
    let params = parse(&text)?;
    let get = |name: &str| params.iter().find(|p| p.key == name).map(|p| &p.value);
    // A quoted `filename*` is not an ext-value (tc2231 attwithfn2231quot): ignore it.
    let extended = match get("filename*") {
        Some(Value::Token(v)) => decode_ext_value(v),
        _ => None,
    };
    let plain = || match get("filename")? {
        Value::Token(v) | Value::Quoted(v) => plain_name(v),
    };
    let non_empty = |n: &String| !n.is_empty();
    extended
        .filter(non_empty)
        .or_else(|| continued(&params).filter(non_empty))
        .or_else(|| plain().filter(non_empty))
}

/// The header's text: UTF-8 if it is valid UTF-8, else every byte as its ISO-8859-1 character.
fn header_text(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(raw.iter().map(|&b| char::from(b)).collect()),
    }
}

/// A parameter's value as sent: a token (anything unquoted, leniently) or a quoted string with
/// its escapes undone.
#[derive(Debug, PartialEq)]
enum Value {
    Token(String),
    Quoted(String),
}

#[derive(Debug)]
struct Param {
    /// Lower-cased: parameter names are case-insensitive.
    key: String,
    value: Value,
}

/// Characters of an RFC 9110 token.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits `type; a=b; c="d"` into its parameters, or `None` when the header is broken in a way
/// that leaves its meaning in doubt (see the module comment).
fn parse(text: &str) -> Option<Vec<Param>> {
    let mut rest = text.trim_matches(is_ows);
    let kind_len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
    if kind_len == 0 {
        return None; // `"inline"`, `; filename=x`, `: inline`
    }
    rest = rest[kind_len..].trim_start_matches(is_ows);
    let mut params: Vec<Param> = Vec::new();
    while !rest.is_empty() {
        // `attachment filename=x` (no `;`) and `filename=x` (no type) end up here.
        rest = rest.strip_prefix(';')?.trim_start_matches(is_ows);
        if rest.is_empty() || rest.starts_with(';') {
            continue; // a trailing or doubled `;` hides nothing
        }
        let key_len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
        if key_len == 0 {
            return None; // `attachment; "x"`, `attachment; =x`
        }
        let key = rest[..key_len].to_ascii_lowercase();
        // `attachment; inline; filename=x` (two types) has a parameter without `=`.
        rest = rest[key_len..].trim_start_matches(is_ows).strip_prefix('=')?.trim_start_matches(is_ows);
        let (value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            quoted_string(quoted)?
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            let token = rest[..end].trim_end_matches(is_ows);
            // A quote, comma or `=` in an unquoted value means the header is not what it seems:
            // `foo"bar;baz"qux`, two fields joined with a comma, a missing `;` before the next
            // parameter, an RFC 2047 word outside quotes.
            if token.contains(['"', ',', '=']) {
                return None;
            }
            (Value::Token(token.to_string()), &rest[end..])
        };
        // Anything between a closing quote and the next `;` (`"foo.html".txt`, `"a", b`).
        rest = after.trim_start_matches(is_ows);
        if !rest.is_empty() && !rest.starts_with(';') {
            return None;
        }
        // A parameter given twice is ambiguous (RFC 6266 §4.1; tc2231 attwith2filenames).
        if params.iter().any(|p| p.key == key) {
            return None;
        }
        params.push(Param { key, value });
    }
    Some(params)
}

/// Reads a quoted string whose opening quote is already consumed; returns it and what follows
/// the closing quote, or `None` if it is never closed.
fn quoted_string(text: &str) -> Option<(Value, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((Value::Quoted(value), &text[at + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

/// A plain `filename` value: taken as it is (no percent-decoding: tc2231 attwithfnrawpctenca),
/// except that RFC 2047 encoded words (`=?UTF-8?Q?…?=`), which some servers put there, are
/// decoded; one that cannot be decoded gives no name rather than the raw word.
fn plain_name(value: &str) -> Option<String> {
    if value.contains("=?") && value.contains("?=") {
        decode_encoded_words(value)
    } else {
        Some(value.to_string())
    }
}

/// Decodes an RFC 8187 `charset'language'percent-encoded` value, or `None` if it is malformed,
/// names no charset, or is not valid in the charset it names.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let bytes = strict_percent_decode(parts.next()?)?;
    decode_charset(charset, bytes)
}

/// Bytes in a named charset as text: UTF-8, ISO-8859-1 (whose bytes 0x80–0x9F are no
/// characters, tc2231 attwithfn2231utf8_bad) and US-ASCII; `None` for anything else.
fn decode_charset(charset: &str, bytes: Vec<u8>) -> Option<String> {
    match charset.trim().to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" | "latin1" => bytes
            .iter()
            .all(|b| !(0x80..0xA0).contains(b))
            .then(|| bytes.iter().map(|&b| char::from(b)).collect()),
        "us-ascii" => bytes.is_ascii().then(|| bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

/// Percent-decoding that rejects bad escapes (`%zz`, a trailing `%`) instead of passing them on.
fn strict_percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Some(percent_decode_str(text).collect())
}

/// RFC 2231 continuations: `filename*0="foo."; filename*1="html"`, each piece optionally
/// encoded (`filename*0*=UTF-8''foo-%c3%a4`; the charset is named in piece 0 only). Pieces are
/// joined from 0 while the numbers run on; numbers with a leading zero do not count (tc2231
/// attfncontlz). `None` without a piece 0 or when an encoded piece does not decode.
fn continued(params: &[Param]) -> Option<String> {
    let piece = |n: usize| {
        let plain = format!("filename*{n}");
        params.iter().find_map(|p| match p.key.strip_prefix(&plain) {
            Some("") => Some((&p.value, false)),
            Some("*") => Some((&p.value, true)),
            _ => None,
        })
    };
    let pieces: Vec<_> = (0..).map_while(piece).collect();
    let charset = match pieces.first()? {
        (Value::Token(v), true) => Some(v.split('\'').next()?),
        _ => None,
    };
    let mut bytes = Vec::new();
    for (n, (value, encoded)) in pieces.into_iter().enumerate() {
        match (value, encoded) {
            (Value::Token(v), true) => {
                // Piece 0 carries `charset'language'` in front of the encoded text.
                let text = if n == 0 { v.splitn(3, '\'').nth(2)? } else { v };
                bytes.extend(strict_percent_decode(text)?);
            }
            (Value::Quoted(_), true) => return None,
            (Value::Token(v) | Value::Quoted(v), false) => bytes.extend_from_slice(v.as_bytes()),
        }
    }
    match charset {
        Some(charset) => decode_charset(charset, bytes),
        None => String::from_utf8(bytes).ok(),
    }
}

/// Decodes RFC 2047 encoded words (`=?charset?Q|B?text?=`) in `text`; the space between two
/// adjacent words is dropped, as RFC 2047 says. `None` if any word does not decode.
fn decode_encoded_words(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let mut parts = rest[start + 2..].splitn(3, '?');
        // RFC 2231 allows a language after the charset: `UTF-8*en`.
        let charset = parts.next()?.split('*').next()?;
        let encoding = parts.next()?;
        let tail = parts.next()?;
        let end = tail.find("?=")?;
        let bytes = match encoding {
            "Q" | "q" => q_decode(&tail[..end])?,
            "B" | "b" => base64_decode(&tail[..end])?,
            _ => return None,
        };
        out.push_str(&decode_charset(charset, bytes)?);
        rest = &tail[end + 2..];
        after_word = true;
    }
    out.push_str(rest);
    Some(out)
}

/// RFC 2047 "Q" encoding: `_` is a space, `=XX` a byte in hex.
fn q_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    Some(out)
}

/// Standard base64 with optional `=` padding (RFC 2047 "B" encoding); `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let data = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in data {
        acc = (acc << 6) | u32::from(sextet(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(value: &str) -> Option<String> {
        filename_from_content_disposition(value.as_bytes())
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(name("attachment; filename=a.txt").as_deref(), Some("a.txt"));
        assert_eq!(
            name(r#"attachment; filename="we \"say\"; hi.txt""#).as_deref(),
            Some(r#"we "say"; hi.txt"#)
        );
        assert_eq!(name("inline").as_deref(), None);
        assert_eq!(name("attachment; filename=\"\"").as_deref(), None);
    }

    #[test]
    fn filename_star_wins_and_decodes() {
        let v = "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt";
        assert_eq!(name(v).as_deref(), Some("€ rates.txt"));
        let v = "attachment; filename*=iso-8859-1'en'%A3%20rates.txt; filename=x";
        assert_eq!(name(v).as_deref(), Some("£ rates.txt"));
    }

    #[test]
    fn bad_rfc5987_falls_back_to_plain_filename() {
        let v = "attachment; filename*=UTF-8''bad%zzescape; filename=plain.bin";
        assert_eq!(name(v).as_deref(), Some("plain.bin"));
        let v = "attachment; filename*=UTF-8''%FF%FE; filename=plain.bin";
        assert_eq!(name(v).as_deref(), Some("plain.bin"));
        assert_eq!(name("attachment; filename*=klingon''x"), None);
    }

    #[test]
    fn non_utf8_header_bytes_are_latin1() {
        let raw = b"attachment; filename=\"r\xe9sum\xe9 2026.pdf\"";
        assert_eq!(filename_from_content_disposition(raw).as_deref(), Some("résumé 2026.pdf"));
        let raw = "attachment; filename=\"résumé 2026.pdf\"";
        assert_eq!(name(raw).as_deref(), Some("résumé 2026.pdf"));
    }

    #[test]
    fn encoded_words_are_decoded_or_dropped() {
        assert_eq!(
            name("attachment; filename=\"=?UTF-8?B?csOpc3Vtw6kucGRm?=\"").as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(
            name("attachment; filename=\"=?UTF-8?Q?a?= =?UTF-8?Q?_b.txt?=\"").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(name("attachment; filename=\"=?KOI8-R?Q?x?=\""), None);
        assert_eq!(name("attachment; filename=\"=?UTF-8?B?*?=\""), None);
    }

    #[test]
    fn base64_of_every_padding() {
        for (encoded, text) in
            [("", ""), ("YQ==", "a"), ("YWI=", "ab"), ("YWJj", "abc"), ("csOpc3Vtw6k=", "résumé")]
        {
            assert_eq!(base64_decode(encoded).as_deref(), Some(text.as_bytes()), "{encoded}");
        }
        assert_eq!(base64_decode("YW*="), None);
    }
}
