//! The open connections of one segmented download: what each has received and since its
//! first byte (the byte counts the autopilot is fed, and each connection's pace, which decides
//! how the tail is split between a connection that is free and one still working, `segments`),
//! and each one's own stop token, so that one can be stopped alone. Times are given as
//! durations since the download began. Depends on `segments` for its types and tokio-util.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::segments::{Pace, Paces};

/// A connection's pace is known after it has received for this long: the first moments
/// measure a server's first burst (nginx's `limit_rate` sends 2 MB at once) and slow start.
pub const PACE_AFTER: Duration = Duration::from_millis(250);
/// A connection is quiet after this long without a byte, at least: a new request answers
/// within it on any link where splitting pays (and nginx's `limit_rate` pauses a connection
/// for up to a second, which a new request does not wait for).
pub const QUIET_AFTER: Duration = Duration::from_millis(100);
/// …and after the time three chunks this large would take at its pace: a slow but steady
/// connection (10 KB/s) is not quiet between its chunks.
const QUIET_CHUNKS: f64 = 3.0 * 16_384.0;

#[derive(Debug, Default)]
struct Tally {
    /// Bytes received since the connection opened.
    bytes: u64,
    /// When its first byte came, and the bytes counted then.
    first: Option<(Duration, u64)>,
    /// When its last bytes came, or when the rate limit holding them back lets it read again.
    last: Duration,
    /// It has asked for a new range and no byte of the answer has come yet: waiting for an
    /// answer (a server slow to start a response) is not going quiet.
    asking: bool,
    stop: CancellationToken,
}

/// The open connections, by connection id.
#[derive(Debug, Default)]
pub struct OpenConns(BTreeMap<usize, Tally>);

impl OpenConns {
    /// Counts connection `id` from now; `stop` stops it alone.
    pub fn open(&mut self, id: usize, stop: CancellationToken) {
        self.0.insert(id, Tally { stop, ..Tally::default() });
    }

    pub fn close(&mut self, id: usize) {
        self.0.remove(&id);
    }

    /// Stops connection `id` (its worker ends at once and closes it). Whether it was open and
    /// not stopped already.
    pub fn stop(&self, id: usize) -> bool {
        self.0.get(&id).filter(|t| !t.stop.is_cancelled()).map(|t| t.stop.cancel()).is_some()
    }

    /// Stops the open connections after the first `keep` (in id order: the newest go).
    pub fn stop_after(&self, keep: usize) {
        self.0.values().filter(|t| !t.stop.is_cancelled()).skip(keep).for_each(|t| t.stop.cancel());
    }

    /// Counts `bytes` more for connection `id`, received at `now`, after which a rate limit
    /// holds it back for `held` (dlm's own pause: the connection is not quiet meanwhile).
    pub fn add(&mut self, id: usize, bytes: u64, now: Duration, held: Duration) {
        if let Some(tally) = self.0.get_mut(&id).filter(|_| bytes > 0) {
            tally.bytes += bytes;
            tally.last = now.saturating_add(held);
            tally.asking = false;
            // The first chunk came in at once, not over time: the pace counts what followed.
            tally.first.get_or_insert((now, tally.bytes));
        }
    }

    /// Connection `id` asks for a new range: not quiet until the answer's first byte.
    pub fn asking(&mut self, id: usize) {
        if let Some(tally) = self.0.get_mut(&id) {
            tally.asking = true;
        }
    }

    /// Each open connection's bytes, in id order (those stopped and still closing are gone).
    pub fn bytes(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.0.iter().filter(|(_, t)| !t.stop.is_cancelled()).map(|(&id, t)| (id, t.bytes))
    }

    /// The pace of every connection that has received a byte by `now`: its rate once it has
    /// received for `PACE_AFTER`, counted from its first byte (waiting for an answer is not
    /// slowness), and whether it has gone quiet since.
    pub fn paces(&self, now: Duration) -> Paces {
        self.0
            .iter()
            .filter_map(|(&id, t)| {
                let (since, at_first) = t.first?;
                let span = now.saturating_sub(since);
                let rate = (span >= PACE_AFTER).then(|| (t.bytes - at_first) as f64 / span.as_secs_f64());
                let chunks = rate.filter(|r| *r > 0.0).map_or(QUIET_AFTER, |r| {
                    Duration::try_from_secs_f64(QUIET_CHUNKS / r).unwrap_or(Duration::MAX)
                });
                let quiet = !t.asking && now.saturating_sub(t.last) >= chunks.max(QUIET_AFTER);
                Some((id, Pace { rate, quiet }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_pace_is_known_after_a_while_of_receiving_counts_from_the_first_byte_and_goes_quiet() {
        let mut conns = OpenConns::default();
        conns.open(1, CancellationToken::new());
        conns.open(2, CancellationToken::new());
        // Connection 1 waited 400 ms for its answer, then received 1 MB a second.
        for t in (400..=1000).step_by(100) {
            conns.add(1, 100_000, ms(t), Duration::ZERO);
        }
        conns.add(2, 50_000, ms(950), Duration::ZERO);
        let paces = conns.paces(ms(1000));
        let pace = paces[&1].rate.unwrap();
        assert!((pace - 1_000_000.0).abs() < 1.0, "{pace}");
        assert_eq!(paces[&2].rate, None, "50 ms of bytes tell no pace yet");
        assert!(!paces[&1].quiet && !paces[&2].quiet);
        // Quiet: 1 MB/s would bring three 16 KiB chunks in 49 ms, but 100 ms is the least.
        assert!(!conns.paces(ms(1099))[&1].quiet);
        assert!(conns.paces(ms(1100))[&1].quiet);
        // Bytes a rate limit holds back for 2 s: dlm's own pause, not the connection's.
        conns.open(3, CancellationToken::new());
        conns.add(3, 16_384, ms(1000), Duration::from_secs(2));
        assert!(!conns.paces(ms(3099))[&3].quiet && conns.paces(ms(3100))[&3].quiet);
        // Asking for its next range, connection 1 is waiting for an answer, not quiet, however
        // long the server takes; from the answer's first byte the rule applies again.
        conns.asking(1);
        assert!(!conns.paces(ms(5000))[&1].quiet);
        conns.add(1, 16_384, ms(5000), Duration::ZERO);
        // Its pace is now about 124 KB/s (616,384 bytes in 5 s): three 16 KiB chunks take 0.4 s.
        assert!(!conns.paces(ms(5300))[&1].quiet && conns.paces(ms(5500))[&1].quiet);
        conns.close(1);
        assert_eq!(conns.bytes().collect::<Vec<_>>(), [(2, 50_000), (3, 16_384)]);
    }

    #[test]
    fn a_stopped_connection_is_stopped_alone_and_no_longer_counted() {
        let mut conns = OpenConns::default();
        let tokens: Vec<CancellationToken> = (0..4).map(|_| CancellationToken::new()).collect();
        for (id, token) in tokens.iter().enumerate() {
            conns.open(id, token.clone());
        }
        assert!(conns.stop(1) && !conns.stop(1) && !conns.stop(9));
        assert!(tokens[1].is_cancelled() && !tokens[0].is_cancelled());
        conns.stop_after(2);
        let open: Vec<usize> = conns.bytes().map(|(id, _)| id).collect();
        assert_eq!(open, [0, 2], "the newest beyond two were stopped");
        assert!(tokens[3].is_cancelled());
    }
}
