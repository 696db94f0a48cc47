//! When to try again: exponential backoff with jitter, and the server's `Retry-After`.
//! Pure functions; depends only on std and `fastrand`.

use std::time::{Duration, SystemTime};

/// Longest `Retry-After` dlm honours; a server asking for more is treated as asking for this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Delay before retry number `attempt` (1 for the first retry): `base * 2^(attempt-1)`,
/// capped at `max`, then scaled by a random factor in [0.5, 1.0) so many clients failing at
/// once do not come back at once. A server's `Retry-After` overrides the computed delay.
pub fn backoff_delay(attempt: u32, base: Duration, max: Duration, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_RETRY_AFTER);
    }
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max);
    capped.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = parse_http_date(value)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the IMF-fixdate form `Sun, 06 Nov 1994 08:49:37 GMT`, the only one servers send today.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for attempt in 1..10 {
            let d = backoff_delay(attempt, base, max, None);
            let full = base.saturating_mul(1 << (attempt - 1)).min(max);
            assert!(d >= full / 2 && d < full, "attempt {attempt}: {d:?} vs {full:?}");
        }
        let samples: std::collections::HashSet<_> =
            (0..20).map(|_| backoff_delay(3, base, max, None)).collect();
        assert!(samples.len() > 1, "no jitter");
    }

    #[test]
    fn retry_after_overrides_and_is_capped() {
        let d = backoff_delay(
            1,
            Duration::from_millis(1),
            Duration::from_millis(2),
            Some(Duration::from_secs(7)),
        );
        assert_eq!(d, Duration::from_secs(7));
        let d = backoff_delay(1, Duration::ZERO, Duration::ZERO, Some(Duration::from_secs(999_999)));
        assert_eq!(d, MAX_RETRY_AFTER);
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_700);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(77)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + Duration::from_secs(999)),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now), None);
    }
}
