//! When to try again: exponential backoff with jitter, and the server's `Retry-After`.
//! Pure functions; depends only on std, `fastrand` and `httpdate`.

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
    // IMF-fixdate, and the obsolete RFC 850 and asctime forms RFC 9110 says recipients accept.
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
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

    #[test]
    fn retry_after_accepts_the_obsolete_date_forms() {
        // RFC 9110 §5.6.7: recipients must accept RFC 850 and asctime dates too.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_700);
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), Some(Duration::from_secs(77)));
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), Some(Duration::from_secs(77)));
    }
}
