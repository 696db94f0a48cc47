//! The checksum vocabulary: algorithms, an expected digest and where it came from, and how far
//! its check got, as front ends see it (`ChecksumView`); parsing `ALGO=HEX` as people write it.
//! Plain types; depends on std and serde only (the messages use them).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A hash dlm can check. md5 and sha1 are broken for integrity against an adversary: they are
/// used when nothing better is offered and shown as weak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algo {
    /// The name people and `sha256sum` use (and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// Deprecated for integrity (RFC 9530 marks md5 and sha-1 insecure).
    pub fn is_weak(self) -> bool {
        matches!(self, Self::Md5 | Self::Sha1)
    }

    /// `sha256`, `SHA-256`, `sha_256`, `SHA256` (BSD style): separators and case do not matter.
    pub fn parse(name: &str) -> Option<Self> {
        let plain: String =
            name.chars().filter(|c| !matches!(c, '-' | '_')).map(|c| c.to_ascii_lowercase()).collect();
        match plain.as_str() {
            "md5" => Some(Self::Md5),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The algorithm of a bare hex digest of this many characters (a SUMS file says no name).
    pub fn of_hex_len(len: usize) -> Option<Self> {
        [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512].into_iter().find(|a| a.digest_len() * 2 == len)
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an expected checksum came from, strongest first. Stable names (JSON, saved queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumSource {
    /// `--checksum ALGO=HEX`, or given with the item (`dlm add`, the saved queue).
    User,
    /// A `URL sha256=HEX` line of a list or pasted text.
    List,
    /// A `--checksum-file` (a `sha256sum`-style file, local or fetched).
    File,
    /// The server's `Repr-Digest` (RFC 9530).
    ServerReprDigest,
    /// The server's `Content-Digest` on a complete `200` (RFC 9530).
    ServerContentDigest,
    /// The server's RFC 3230 `Digest`.
    ServerDigest,
    /// A `URL.sha256` or `SHA256SUMS` found next to the URL (when the config asks to look).
    Sibling,
}

impl ChecksumSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::List => "list",
            Self::File => "file",
            Self::ServerReprDigest => "server-repr-digest",
            Self::ServerContentDigest => "server-content-digest",
            Self::ServerDigest => "server-digest",
            Self::Sibling => "sibling",
        }
    }

    /// Sent by the server with the bytes it checks (weaker than one known beforehand: a
    /// compromised server can send both).
    pub fn is_server(self) -> bool {
        matches!(self, Self::ServerReprDigest | Self::ServerContentDigest | Self::ServerDigest)
    }
}

/// A digest the finished file must have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExpectedChecksum {
    pub algo: Algo,
    /// The raw digest (`algo.digest_len()` bytes).
    pub digest: Vec<u8>,
    pub source: ChecksumSource,
}

impl ExpectedChecksum {
    /// `ALGO=HEX` (also `ALGO:HEX`), as given to `--checksum` and in lists; hex in any case.
    pub fn parse(text: &str, source: ChecksumSource) -> Result<Self, String> {
        let text = text.trim();
        let Some((name, hex)) = text.split_once(['=', ':']) else {
            return Err(format!("invalid checksum {text:?}: expected ALGO=HEX, e.g. sha256=…"));
        };
        let Some(algo) = Algo::parse(name.trim()) else {
            return Err(format!("unknown checksum algorithm {name:?}: use sha256, sha512, sha1 or md5"));
        };
        Self::from_hex(algo, hex.trim(), source)
    }

    /// A hex digest of `algo`.
    pub fn from_hex(algo: Algo, hex: &str, source: ChecksumSource) -> Result<Self, String> {
        match decode_hex(hex) {
            Some(digest) if digest.len() == algo.digest_len() => Ok(Self { algo, digest, source }),
            Some(digest) => Err(format!(
                "a {algo} checksum has {} hex digits, not {}",
                algo.digest_len() * 2,
                digest.len() * 2
            )),
            None => Err(format!("invalid {algo} checksum {hex:?}: not hexadecimal")),
        }
    }

    /// The digest in lower-case hex.
    pub fn hex(&self) -> String {
        to_hex(&self.digest)
    }

    /// The view front ends show before the check ran.
    pub fn pending(&self) -> ChecksumView {
        ChecksumView {
            algo: self.algo,
            expected: self.hex(),
            actual: None,
            source: self.source,
            state: ChecksumState::Pending,
            weak: self.algo.is_weak(),
        }
    }
}

impl fmt::Display for ExpectedChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.algo, self.hex())
    }
}

/// How far the check of an item's checksum got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumState {
    /// Known, not checked yet (the file is not complete).
    Pending,
    /// The complete file has the expected digest: it got its final name.
    Verified,
    /// It does not: the item failed with kind `checksum`, the `.part` is kept.
    Mismatch,
    /// Known, but could not be checked (the digest was of an encoded body, say).
    Unverifiable,
}

impl ChecksumState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Mismatch => "mismatch",
            Self::Unverifiable => "unverifiable",
        }
    }
}

/// An item's checksum as every front end shows it (`ItemSnapshot::checksum`): what is expected,
/// from where, and the result once the file was checked. Serialises as the `checksum` object
/// of `dlm ls --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksumView {
    pub algo: Algo,
    /// Lower-case hex.
    pub expected: String,
    /// Lower-case hex of the file's digest, once computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    pub source: ChecksumSource,
    pub state: ChecksumState,
    /// md5 or sha1: a check against accidents, not against tampering.
    #[serde(default)]
    pub weak: bool,
}

impl ChecksumView {
    /// The expected checksum back, to hand to the engine again (a restored queue).
    pub fn to_expected(&self) -> Option<ExpectedChecksum> {
        ExpectedChecksum::from_hex(self.algo, &self.expected, self.source).ok()
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Bytes of a hex string (either case); `None` if it is not an even run of hex digits.
pub fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    digits.chunks(2).map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn algo_equals_hex_is_parsed_in_any_case() {
        let e =
            ExpectedChecksum::parse(&format!("SHA256={}", SHA256_EMPTY.to_uppercase()), ChecksumSource::User)
                .unwrap();
        assert_eq!((e.algo, e.hex()), (Algo::Sha256, SHA256_EMPTY.to_string()));
        assert_eq!(e.to_string(), format!("sha256={SHA256_EMPTY}"));
        let e =
            ExpectedChecksum::parse("md5:d41d8cd98f00b204e9800998ecf8427e", ChecksumSource::List).unwrap();
        assert!(e.pending().weak);
        assert_eq!(Algo::parse("SHA-512"), Some(Algo::Sha512));
    }

    #[test]
    fn bad_checksums_say_what_is_wrong() {
        let err = |t: &str| ExpectedChecksum::parse(t, ChecksumSource::User).unwrap_err();
        assert!(err("abc").contains("expected ALGO=HEX"));
        assert!(err("crc32=00000000").contains("unknown checksum algorithm"));
        assert!(err("sha256=abcd").contains("64 hex digits, not 4"));
        assert!(err("sha1=zz").contains("not hexadecimal"));
        assert!(err("sha256=").contains("not hexadecimal"));
    }

    #[test]
    fn a_view_round_trips_to_the_expected_checksum() {
        let e = ExpectedChecksum::from_hex(Algo::Sha256, SHA256_EMPTY, ChecksumSource::File).unwrap();
        assert_eq!(e.pending().to_expected(), Some(e));
        assert_eq!(Algo::of_hex_len(64), Some(Algo::Sha256));
        assert_eq!(Algo::of_hex_len(63), None);
    }
}
