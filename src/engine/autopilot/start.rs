//! Auto's start: the download runs as one plain stream while this watches its bytes, and says
//! whether more connections may pay and how boldly to try them. Pure: fed the bytes on disk
//! with the time since the stream began (a fake clock in tests); `transfer` acts on it.
//!
//! Two kinds of look. Early (`EARLY`, at 0.1 and 0.2 s): when the rate so far says one stream would take long
//! (`LONG`), waiting longer only costs time, so it stops there and auto tries its ceiling at
//! once (and gives back what did not help, `Autopilot::measured`). A server limiting each
//! connection to 8 MB/s reaches full speed about a tenth of a second in, where the doubling
//! steps took two seconds and more. Otherwise, after a warm-up, a one-second window: a stream
//! that would finish soon at that rate is left alone (loopback, a fast link, a small file); one
//! that would not gets a careful step of two.

use std::time::Duration;

/// When the early looks are taken. Every tenth of a second of one stream costs a server
/// limiting each connection 5 % of `-x 16`'s time on the bench's 256 MiB file (one connection
/// where sixteen could run), so the first look is at a tenth: a stream that already says
/// "long" then (a 256 MiB file at 8 MB/s says 20 s) goes at once. A fifth of a second holds a
/// rate-limiting server's first burst (nginx's `limit_rate` sends 2 MB, then pauses 250 ms at
/// 8 MB/s), and with the bytes not on disk yet counted as received, tells a 30-second
/// download from a 2-second one: the second look catches what the first could not tell. A
/// look only ever says "long"; "not long" waits for the careful window.
pub const EARLY: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(200)];
/// One stream that would need this long for the rest is "long": the early look decides. Four
/// times `PAYOFF`, so that a noisy early rate (a first burst, slow start) cannot make a
/// download that one stream finishes in a few seconds open many connections; a fast link's
/// 1 GiB file (0.5 GB/s and up) is far below it.
pub const LONG: Duration = Duration::from_secs(8);
/// More connections are tried only when the rest of the file would take longer than this at
/// the measured rate: a probe costs a measuring window and cannot pay back on a file that is
/// about to finish (a fast single stream, loopback, a small file).
pub const PAYOFF: Duration = Duration::from_secs(2);
/// How long the stream runs before the careful look's window begins, and the window.
pub const WARMUP: Duration = Duration::from_millis(200);
pub const WINDOW: Duration = Duration::from_millis(1000);
/// How often `transfer` feeds the probe.
pub const EVERY: Duration = Duration::from_millis(50);

/// What auto's single stream showed, when more connections may pay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneStream {
    /// Its rate, bytes a second.
    pub rate: f64,
    /// Decided early: the rest would take at least `LONG` at this rate.
    pub long: bool,
}

/// The probe's answer after a look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Not decided yet.
    Wait,
    /// More connections may pay: stop the stream and go on from its bytes with several.
    More(OneStream),
    /// The rest would take less than a probe could save: stay one stream.
    FastEnough,
}

/// Watches one stream's bytes on disk.
#[derive(Debug)]
pub struct StreamProbe {
    /// Bytes the stream may have received that are not on disk yet (its write batches).
    unwritten: u64,
    /// Bytes on disk at the first look (a resumed `.part` may hold some already).
    began: Option<u64>,
    /// Early looks taken.
    early_looks: usize,
    /// Time and bytes where the careful window began.
    window: Option<(Duration, u64)>,
}

impl StreamProbe {
    /// A probe for a stream that writes in batches of up to `unwritten` bytes.
    pub fn new(unwritten: u64) -> Self {
        Self { unwritten, began: None, early_looks: 0, window: None }
    }

    /// A look at `elapsed` since the stream began: `bytes` on disk of a `total`-byte file.
    pub fn observe(&mut self, elapsed: Duration, bytes: u64, total: u64) -> Verdict {
        let began = *self.began.get_or_insert(bytes);
        let remaining = total.saturating_sub(bytes);
        if EARLY.get(self.early_looks).is_some_and(|at| elapsed >= *at) {
            // A late look (a busy runtime) counts for every look it is late for.
            self.early_looks = EARLY.iter().filter(|at| elapsed >= **at).count();
            let got = bytes.saturating_sub(began);
            // The most it may have received: the bytes on disk lag by up to a write batch,
            // which this early is a good part of a slow stream's bytes. Only a
            // stream that would take long even at that rate is split early; nothing on disk
            // yet says nothing (a slow start): the careful look decides.
            let most = (got + self.unwritten) as f64 / elapsed.as_secs_f64();
            if got > 0 && remaining as f64 / most >= LONG.as_secs_f64() {
                let rate = got as f64 / elapsed.as_secs_f64();
                return Verdict::More(OneStream { rate, long: true });
            }
        }
        if elapsed < WARMUP {
            return Verdict::Wait;
        }
        let (at, from) = *self.window.get_or_insert((elapsed, bytes));
        let span = elapsed.saturating_sub(at);
        if span < WINDOW {
            return Verdict::Wait;
        }
        let rate = bytes.saturating_sub(from) as f64 / span.as_secs_f64();
        if worth_more(rate, remaining) {
            Verdict::More(OneStream { rate, long: false })
        } else {
            Verdict::FastEnough
        }
    }
}

/// Whether a download running at `rate` bytes a second with `remaining` bytes to go is worth
/// trying more connections for: the rest would outlast what measuring them costs.
pub fn worth_more(rate: f64, remaining: u64) -> bool {
    rate <= 0.0 || remaining as f64 / rate >= PAYOFF.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1_000_000.0;
    const LAG: u64 = 256 << 10;

    /// Feeds a probe a stream of `rate` bytes a second on a `total`-byte file every `EVERY`
    /// until it decides; returns the verdict and when.
    fn watch(rate: impl Fn(Duration) -> f64, total: u64) -> (Verdict, Duration) {
        let mut probe = StreamProbe::new(LAG);
        let (mut now, mut bytes) = (Duration::ZERO, 0u64);
        loop {
            let verdict = probe.observe(now, bytes, total);
            if verdict != Verdict::Wait {
                return (verdict, now);
            }
            assert!(now < Duration::from_secs(5), "never decided");
            bytes = (bytes + (rate(now) * EVERY.as_secs_f64()) as u64).min(total);
            now += EVERY;
        }
    }

    #[test]
    fn a_stream_that_would_take_long_is_split_at_the_early_look() {
        // 256 MiB at 8 MB/s: 33 s for one stream.
        let (verdict, at) = watch(|_| 8.0 * MB, 256 << 20);
        let Verdict::More(OneStream { rate, long: true }) = verdict else { panic!("{verdict:?}") };
        assert_eq!(at, EARLY[0]);
        assert!((rate - 8.0 * MB).abs() < 0.1 * MB, "{rate}");
    }

    #[test]
    fn a_stream_with_nothing_on_disk_at_the_first_look_is_judged_at_the_second() {
        // 256 MiB at 8 MB/s after a first tenth of a second with no bytes (a slow start).
        let (verdict, at) = watch(|t| if t < EARLY[0] { 0.0 } else { 8.0 * MB }, 256 << 20);
        assert!(matches!(verdict, Verdict::More(OneStream { long: true, .. })), "{verdict:?}");
        assert_eq!(at, EARLY[1]);
    }

    #[test]
    fn a_stream_of_a_few_seconds_waits_for_the_careful_window() {
        // 40 MB at 8 MB/s: 5 s, not long; the rest after 1.2 s still outlasts a probe.
        let (verdict, at) = watch(|_| 8.0 * MB, 40_000_000);
        let Verdict::More(OneStream { long: false, .. }) = verdict else { panic!("{verdict:?}") };
        assert_eq!(at, WARMUP + WINDOW);
    }

    #[test]
    fn a_fast_stream_stays_one() {
        // A 1 GiB file at 450 MB/s (TLS on loopback) is never long, and soon done.
        let (verdict, _) = watch(|_| 450.0 * MB, 1 << 30);
        assert_eq!(verdict, Verdict::FastEnough);
        assert!(!worth_more(1000.0 * MB, 1 << 30) && worth_more(8.0 * MB, 256 << 20));
    }

    #[test]
    fn a_stream_is_judged_long_only_if_it_is_even_with_a_write_batch_unseen() {
        // 24 MiB at 3 MB/s: 8.4 s. With a write batch not on disk yet at the early look, the
        // bytes seen say 2.6 MB/s (9.6 s), but with the batch it may hold, 5.2 MB/s (4.8 s).
        let total = 24 << 20;
        let mut probe = StreamProbe::new(LAG);
        assert_eq!(probe.observe(Duration::ZERO, 0, total), Verdict::Wait);
        assert_eq!(probe.observe(EARLY[1], 512 << 10, total), Verdict::Wait);
        let mut blind = StreamProbe::new(0);
        blind.observe(Duration::ZERO, 0, total);
        assert!(matches!(
            blind.observe(EARLY[1], 512 << 10, total),
            Verdict::More(OneStream { long: true, .. })
        ));
    }

    #[test]
    fn no_bytes_by_the_early_look_is_no_reason_to_split_early() {
        // Nothing reaches the disk for 300 ms (a slow start), then a fast stream.
        let fast_later = |t: Duration| if t < Duration::from_millis(300) { 0.0 } else { 500.0 * MB };
        let (verdict, _) = watch(fast_later, 1 << 30);
        assert_eq!(verdict, Verdict::FastEnough);
    }
}
