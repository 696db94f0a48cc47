//! Token-bucket rate limits that can change while transfers run: one global bucket shared by
//! every transfer, one per item. Consumers take tokens for bytes already read and sleep off any
//! debt, which paces the socket reads smoothly instead of in bursts. A sleep never outlives the
//! reason for it: it ends at once when the transfer is stopped (pause, cancel, quit) or when a
//! limit it waits on changes. Depends on std, tokio, tokio-util and futures.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Tokens that may accumulate while idle, as a share of one second's rate: small, so a
/// limited transfer never bursts far above its rate after a pause.
const BURST_SECONDS: f64 = 0.05;

#[derive(Debug)]
pub struct RateLimiter {
    /// Bytes per second; 0 means unlimited (checked without taking the lock).
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
    /// Counts rate changes, so a sleeper can tell that one happened between reading its debt
    /// and starting to wait for `changed`.
    generation: AtomicU64,
    /// Wakes every sleeper when the rate changes: its debt was computed at the old rate.
    changed: Notify,
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
            generation: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    pub fn rate(&self) -> Option<u64> {
        match self.rate.load(Ordering::Relaxed) {
            0 => None,
            r => Some(r),
        }
    }

    /// Changes the rate at once; `None` (or 0) lifts the limit. Any debt is forgiven (it was
    /// run up at the old rate) and every transfer sleeping on this limit wakes up.
    pub fn set_rate(&self, rate: Option<u64>) {
        {
            let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
            bucket.tokens = 0.0;
            bucket.last = Instant::now();
            self.rate.store(rate.unwrap_or(0), Ordering::Relaxed);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
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

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Takes `bytes` from every limiter and sleeps off the longest debt, unless `stop` fires or
/// one of the limits changes first. Either way it returns: a stopped transfer sees its token
/// next, and a changed limit has forgiven the debt, so the next read is paced at the new rate.
/// At a low limit one read can owe minutes or hours, which is why the sleep must be
/// interruptible.
pub async fn pace(limiters: &[&RateLimiter], bytes: u64, stop: &CancellationToken) {
    owe(limiters, bytes).wait(stop).await;
}

/// Takes `bytes` from every limiter; the debt says how long to wait (see `pace`), so a caller
/// can do something first when the wait will be long.
pub fn owe<'a>(limiters: &'a [&'a RateLimiter], bytes: u64) -> Debt<'a> {
    // Read before taking: a change between `take` and the start of the wait is then seen.
    let seen: u64 = limiters.iter().fold(0, |sum, l| sum.wrapping_add(l.generation()));
    let wait = limiters.iter().map(|l| l.take(bytes)).max().unwrap_or_default();
    Debt { limiters, seen, wait }
}

/// Time owed to the limiters for bytes already read.
pub struct Debt<'a> {
    limiters: &'a [&'a RateLimiter],
    seen: u64,
    wait: Duration,
}

impl Debt<'_> {
    pub fn duration(&self) -> Duration {
        self.wait
    }

    /// Sleeps the debt off, unless `stop` fires or a limit changes first.
    pub async fn wait(self, stop: &CancellationToken) {
        if self.wait.is_zero() {
            return;
        }
        let limiters = self.limiters;
        let mut changes: Vec<_> = limiters.iter().map(|l| Box::pin(l.changed.notified())).collect();
        for change in &mut changes {
            change.as_mut().enable();
        }
        if limiters.iter().fold(0, |sum: u64, l| sum.wrapping_add(l.generation())) != self.seen {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(self.wait) => {}
            () = stop.cancelled() => {}
            _ = futures::future::select_all(changes) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token that never fires, for tests about the rate alone.
    fn running() -> CancellationToken {
        CancellationToken::new()
    }

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_rate() {
        let limiter = RateLimiter::new(Some(1_000_000));
        let start = Instant::now();
        for _ in 0..300 {
            pace(&[&limiter], 10_000, &running()).await;
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
                        pace(&[&l], 1000, &running()).await;
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

    /// Starts a transfer owing 10 000 s (10 kB at 1 B/s) and returns its task once it sleeps.
    async fn sleeper(
        global: &std::sync::Arc<RateLimiter>,
        item: &std::sync::Arc<RateLimiter>,
        stop: &CancellationToken,
    ) -> tokio::task::JoinHandle<Duration> {
        let (global, item, stop) = (global.clone(), item.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let start = Instant::now();
            pace(&[&global, &item], 10_000, &stop).await;
            start.elapsed()
        });
        // Let it take its tokens and start sleeping (virtual time does not move meanwhile).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!task.is_finished(), "a 10 000 s debt must make it sleep");
        task
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_a_long_sleep_at_once() {
        let (global, item) =
            (std::sync::Arc::new(RateLimiter::new(None)), std::sync::Arc::new(RateLimiter::new(Some(1))));
        let stop = CancellationToken::new();
        let task = sleeper(&global, &item, &stop).await;
        stop.cancel();
        assert_eq!(task.await.unwrap(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn lifting_or_raising_either_limit_wakes_the_sleeper() {
        for (item_rate, global_rate, change_item, new_rate) in [
            (Some(1), None, true, None),
            (None, Some(1), false, None),
            (Some(1), None, true, Some(1_000_000)),
        ] {
            let global = std::sync::Arc::new(RateLimiter::new(global_rate));
            let item = std::sync::Arc::new(RateLimiter::new(item_rate));
            let task = sleeper(&global, &item, &running()).await;
            tokio::time::advance(Duration::from_millis(500)).await;
            if change_item {
                item.set_rate(new_rate)
            } else {
                global.set_rate(new_rate)
            }
            assert_eq!(task.await.unwrap(), Duration::from_millis(500), "woke when the limit changed");
        }
    }
}
