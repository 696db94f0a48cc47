//! Token-bucket rate limits that can change while transfers run: one global bucket shared by
//! every transfer, one per item. Consumers take tokens for bytes already read and sleep off any
//! debt, which paces the socket reads smoothly instead of in bursts. Depends on std and tokio.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Tokens that may accumulate while idle, as a share of one second's rate: small, so a
/// limited transfer never bursts far above its rate after a pause.
const BURST_SECONDS: f64 = 0.05;

#[derive(Debug)]
pub struct RateLimiter {
    /// Bytes per second; 0 means unlimited (checked without taking the lock).
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// May go negative: a debt the next consumer waits off.
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate: Option<u64>) -> Self {
        Self {
            rate: AtomicU64::new(rate.unwrap_or(0)),
            bucket: Mutex::new(Bucket { tokens: 0.0, last: Instant::now() }),
        }
    }

    pub fn rate(&self) -> Option<u64> {
        match self.rate.load(Ordering::Relaxed) {
            0 => None,
            r => Some(r),
        }
    }

    /// Changes the rate at once; `None` (or 0) lifts the limit.
    pub fn set_rate(&self, rate: Option<u64>) {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        bucket.tokens = 0.0;
        bucket.last = Instant::now();
        self.rate.store(rate.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn is_limited(&self) -> bool {
        self.rate.load(Ordering::Relaxed) != 0
    }

    /// Takes `bytes` tokens and returns how long the caller should wait to stay within the rate.
    pub fn take(&self, bytes: u64) -> Duration {
        let rate = self.rate.load(Ordering::Relaxed);
        if rate == 0 {
            return Duration::ZERO;
        }
        let rate = rate as f64;
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let earned = now.duration_since(bucket.last).as_secs_f64() * rate;
        bucket.last = now;
        bucket.tokens = (bucket.tokens + earned).min(rate * BURST_SECONDS) - bytes as f64;
        if bucket.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-bucket.tokens / rate) }
    }
}

/// Takes `bytes` from every limiter and sleeps off the longest debt.
pub async fn pace(limiters: &[&RateLimiter], bytes: u64) {
    let wait = limiters.iter().map(|l| l.take(bytes)).max().unwrap_or_default();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_rate() {
        let limiter = RateLimiter::new(Some(1_000_000));
        let start = Instant::now();
        for _ in 0..300 {
            pace(&[&limiter], 10_000).await;
        }
        // 3 MB at 1 MB/s: three seconds, minus at most the burst allowance.
        let took = start.elapsed().as_secs_f64();
        assert!((2.9..=3.01).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits_and_rate_changes_apply_at_once() {
        let limiter = RateLimiter::new(None);
        assert_eq!(limiter.take(u64::MAX / 2), Duration::ZERO);
        limiter.set_rate(Some(100));
        assert_eq!(limiter.take(200), Duration::from_secs(2));
        limiter.set_rate(None);
        assert_eq!(limiter.take(1_000_000), Duration::ZERO);
        assert_eq!(limiter.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_earns_only_a_small_burst() {
        let limiter = RateLimiter::new(Some(1000));
        tokio::time::advance(Duration::from_secs(60)).await;
        // After a minute idle only 50 bytes are banked, not 60 000.
        assert_eq!(limiter.take(50), Duration::ZERO);
        assert!(limiter.take(1000) >= Duration::from_millis(999));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_limit_is_split_between_consumers() {
        let limiter = std::sync::Arc::new(RateLimiter::new(Some(100_000)));
        let start = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        pace(&[&l], 1000).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed().as_secs_f64();
        assert!((1.9..=2.05).contains(&took), "200 kB at 100 kB/s took {took}");
    }
}
