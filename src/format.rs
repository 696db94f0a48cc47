//! Human-readable sizes, rates, durations and checksum marks, shared by every front end. Pure
//! functions; depends only on the engine's checksum types.

use std::time::Duration;

use crate::engine::{ChecksumSource, ChecksumState, ChecksumView};

const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// `1536` → `1.5 KiB`; bytes below 1 KiB are shown exactly.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 { format!("{value:.0} {}", UNITS[unit]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Bytes per second as `12.3 MiB/s`.
pub fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", bytes(bytes_per_sec.max(0.0) as u64))
}

/// Compact duration: `45s`, `3m05s`, `2h07m`, `3d04h`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Duration with sub-second precision for short spans: `0.42s`, `12.3s`, then as `duration`.
pub fn duration_precise(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        duration(d)
    }
}

/// Time left at `rate` bytes/s for `remaining` bytes, if the rate says anything.
pub fn eta(remaining: u64, rate: f64) -> Option<Duration> {
    (rate >= 1.0).then(|| Duration::from_secs_f64((remaining as f64 / rate).min(1e9)))
}

/// What `parse_size` accepts, for its error messages.
const SIZE_UNITS: &str = "K, M or G (1024-based; KiB, MiB, GiB also work), e.g. 500K or 2M";

/// Parses a size such as `2M`, `512k`, `1.5G`, `2MiB`, `100` (bytes). Every suffix is binary
/// (K = 1024). `KB`, `MB` and `GB` are refused rather than guessed at: half the world reads
/// `MB` as 10^6 and half as 2^20, and a limit silently 5% off is worse than a clear error.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 =
        num.parse().map_err(|_| format!("invalid size {text:?}: expected a number with {SIZE_UNITS}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "ki" | "kib" => 1 << 10,
        "m" | "mi" | "mib" => 1 << 20,
        "g" | "gi" | "gib" => 1 << 30,
        decimal @ ("kb" | "mb" | "gb") => {
            let binary = &decimal[..1].to_ascii_uppercase();
            return Err(format!(
                "size unit {:?} in {text:?} is ambiguous (10^3 or 2^10?): dlm reads {SIZE_UNITS}; \
                 write {num}{binary} for {num} {binary}iB",
                unit.trim()
            ));
        }
        _ => return Err(format!("invalid size unit in {text:?}: dlm reads {SIZE_UNITS}")),
    };
    Ok((value * mult as f64) as u64)
}

/// Parses a rate limit in bytes per second: a size (`2M`, `512K`, `1.5G`, `100000`), with an
/// optional `/s`. `0`, an empty text, `unlimited`, `off` and `none` mean no limit (`None`).
pub fn parse_rate(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.is_empty() || ["unlimited", "off", "none"].iter().any(|w| t.eq_ignore_ascii_case(w)) {
        return Ok(None);
    }
    let t = t.strip_suffix("/s").unwrap_or(t);
    parse_size(t).map(|n| (n > 0).then_some(n))
}

/// A size the way a person would type it back: `2M`, `512K`, `1.5G`, `100` (what
/// `parse_size` reads). Rounded to one decimal, so it is for showing, not for arithmetic.
pub fn size_spec(n: u64) -> String {
    const SUFFIXES: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (unit, suffix) in SUFFIXES {
        if n >= unit {
            let value = format!("{:.1}", n as f64 / unit as f64);
            return format!("{}{suffix}", value.strip_suffix(".0").unwrap_or(&value));
        }
    }
    n.to_string()
}

/// Parses a duration such as `30s`, `500ms`, `2m`, `1h`, or plain seconds (`15`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("invalid duration {text:?} (try 30s, 500ms or 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {text:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {text:?}"))
}

/// An item's checksum in a few cells, for lists (the TUI's table, `dlm ls`): `✓ sha256` once
/// verified, `✗ mismatch`, `· sha256` while it waits to be checked (the file is hashed as it
/// arrives and checked when complete), `? sha256` when it could not be checked; `weak` after
/// md5 and sha1, which catch accidents, not tampering.
pub fn checksum_mark(c: &ChecksumView) -> String {
    let weak = if c.weak && c.state != ChecksumState::Mismatch { " weak" } else { "" };
    match c.state {
        ChecksumState::Verified => format!("✓ {}{weak}", c.algo),
        ChecksumState::Mismatch => "✗ mismatch".into(),
        ChecksumState::Pending => format!("· {}{weak}", c.algo),
        ChecksumState::Unverifiable => format!("? {}{weak}", c.algo),
    }
}

/// Where a checksum came from, in words.
pub fn checksum_source(source: ChecksumSource) -> &'static str {
    match source {
        ChecksumSource::User => "given",
        ChecksumSource::List => "list",
        ChecksumSource::File => "checksum file",
        ChecksumSource::ServerReprDigest => "Repr-Digest",
        ChecksumSource::ServerContentDigest => "Content-Digest",
        ChecksumSource::ServerDigest => "Digest header",
        ChecksumSource::Sibling => "checksum file beside the URL",
    }
}

/// A long hex digest as its first and last 8 digits (`3a7bd3e2…9f1c04e5`): enough to compare
/// by eye, short enough for one line.
pub fn short_hex(hex: &str) -> String {
    match (hex.get(..8), hex.get(hex.len().saturating_sub(8)..)) {
        (Some(head), Some(tail)) if hex.len() > 20 => format!("{head}…{tail}"),
        _ => hex.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_marks_say_each_state_and_weak_algorithms() {
        use crate::engine::{Algo, ExpectedChecksum};
        let sha = ExpectedChecksum::from_hex(Algo::Sha256, &"ab".repeat(32), ChecksumSource::User).unwrap();
        let md5 = ExpectedChecksum::from_hex(Algo::Md5, &"cd".repeat(16), ChecksumSource::File).unwrap();
        let mark = |e: &ExpectedChecksum, state| checksum_mark(&ChecksumView { state, ..e.pending() });
        assert_eq!(mark(&sha, ChecksumState::Verified), "✓ sha256");
        assert_eq!(mark(&sha, ChecksumState::Pending), "· sha256");
        assert_eq!(mark(&sha, ChecksumState::Mismatch), "✗ mismatch");
        assert_eq!(mark(&sha, ChecksumState::Unverifiable), "? sha256");
        assert_eq!(mark(&md5, ChecksumState::Verified), "✓ md5 weak");
        assert_eq!(mark(&md5, ChecksumState::Mismatch), "✗ mismatch");
        assert_eq!(short_hex(&"ab".repeat(32)), "abababab…abababab");
        assert_eq!(short_hex("abcd"), "abcd");
        assert_eq!(checksum_source(ChecksumSource::ServerReprDigest), "Repr-Digest");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(200 * 1024 * 1024), "200 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 + 1), "3.0 GiB");
        assert_eq!(rate(2048.0), "2.0 KiB/s");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_secs(45)), "45s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(duration(Duration::from_secs(7620)), "2h07m");
        assert_eq!(duration(Duration::from_secs(86400 + 4 * 3600)), "1d04h");
        assert_eq!(eta(100, 10.0), Some(Duration::from_secs(10)));
        assert_eq!(eta(100, 0.0), None);
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("fast").is_err());
        assert!(parse_size("3X").is_err());
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("2 Mi"), Ok(2 << 20));
        assert_eq!(parse_size("3gib"), Ok(3 << 30));
        // Decimal-looking units are refused with what is accepted, never read as binary.
        let e = parse_size("2 MB").unwrap_err();
        assert!(e.contains("\"MB\" in \"2 MB\" is ambiguous") && e.contains("write 2M for 2 MiB"), "{e}");
        assert!(parse_size("500kb").unwrap_err().contains("write 500K"));
        assert!(parse_size("3X").unwrap_err().contains("K, M or G (1024-based"));
        assert_eq!(parse_rate("2M"), Ok(Some(2 << 20)));
        assert_eq!(parse_rate(" 512K/s "), Ok(Some(512 << 10)));
        for none in ["", " ", "0", "unlimited", "OFF", "none"] {
            assert_eq!(parse_rate(none), Ok(None), "{none:?}");
        }
        assert!(parse_rate("fast").is_err());
        assert_eq!(size_spec(2 << 20), "2M");
        assert_eq!(size_spec(1536 << 10), "1.5M");
        assert_eq!(size_spec(512 << 10), "512K");
        assert_eq!(size_spec(3 << 30), "3G");
        assert_eq!(size_spec(1000), "1000");
        for n in [2 << 20, 512 << 10, 3 << 30, 1000] {
            assert_eq!(parse_size(&size_spec(n)), Ok(n));
        }
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
