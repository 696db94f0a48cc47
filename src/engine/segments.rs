//! Which byte ranges of a segmented download are done, owned by a connection, or free, and how
//! work is split so no connection idles while another crawls through the tail. Pure data
//! structure, no I/O; the orchestration lives in `segmented`.
//!
//! The tail: once nothing is free, a connection that has finished takes the end of the range
//! that would finish last. When both connections' paces are known the cut is where both would
//! finish together (a connection at 1 MB/s beside one at 8 MB/s keeps a ninth), down to small
//! pieces; otherwise the range is halved, and only a large one. A range whose connection has
//! gone quiet (a server pausing it, a path that stalled) is taken whole by a new request: a
//! connection holding the last 24 KiB in a one-second pause no longer decides when a 256 MiB
//! file is done.

use std::collections::BTreeMap;
use std::time::Duration;

/// A half-open byte range `[start, end)`.
pub type Span = (u64, u64);

/// Smallest piece worth a connection of its own: below this, a new request's round trip costs
/// more than it saves. 256 KiB measured better than 1 MiB on the throttled bench (median of
/// three, 256 MiB over 16 connections at 8 MB/s each: 1.88 s against 2.03 s) because the tail
/// is shared sooner. On a link with a long round trip and a fast server a split this small can
/// cost a round trip more than it saves; adapting it to the measured rate and RTT is left.
pub const MIN_SPLIT: u64 = 256 << 10;
/// Smallest piece a connection whose pace is known takes from another's range: a request's
/// round trip is worth it only for what it fetches in parallel.
pub const TAIL_PIECE: u64 = 64 << 10;
/// A range its connection will finish within this, at its pace, is left to it: a new request
/// would barely answer before it is done.
pub const TAIL_WORTH: Duration = Duration::from_millis(100);
/// A claimer below this share of the median pace takes no quiet range: it would likely be
/// slower than the pause it replaces.
const SLOW_CLAIMER: f64 = 1.0 / 3.0;

/// How a connection that has received its first byte is going.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Bytes a second since its first byte, once that has been measured long enough.
    pub rate: Option<f64>,
    /// Nothing has arrived for much longer than its pace would explain.
    pub quiet: bool,
}

/// The paces of the connections that have received, by connection id.
pub type Paces = BTreeMap<usize, Pace>;

/// A range handed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub span: Span,
    /// The connection the whole range was taken from (it went quiet): it has nothing left to
    /// fetch and should stop now rather than at its next byte.
    pub emptied: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    /// Next byte this connection will receive.
    received: u64,
    /// Bytes below this are on disk.
    written: u64,
    /// Where this connection must stop; shrinks when another connection takes the tail.
    end: u64,
}

/// The state of one file's ranges across its connections.
#[derive(Debug, Clone)]
pub struct SegmentMap {
    total: u64,
    min_split: u64,
    /// Ranges nobody owns yet, in order.
    free: Vec<Span>,
    owned: BTreeMap<usize, Owned>,
}

impl SegmentMap {
    /// A map for a file of `total` bytes where `missing` are the ranges still to fetch.
    pub fn new(total: u64, missing: Vec<Span>, min_split: u64) -> Self {
        let mut missing: Vec<Span> = missing.into_iter().filter(|(s, e)| s < e && *e <= total).collect();
        missing.sort_unstable();
        // Overlapping ranges (a damaged sidecar) would count bytes twice; touching ones are
        // pieces cut on purpose and stay apart.
        let mut free: Vec<Span> = Vec::with_capacity(missing.len());
        for (s, e) in missing {
            match free.last_mut() {
                Some(last) if s < last.1 => last.1 = last.1.max(e),
                _ => free.push((s, e)),
            }
        }
        Self { total, min_split: min_split.max(1), free, owned: BTreeMap::new() }
    }

    /// Gives `worker` a range to fetch: a free one, else the end of another connection's range
    /// (`tail_cut`), if that is worth it. The range is owned by `worker` until released.
    /// `paces` are the connections' known paces (empty: split by bytes alone).
    pub fn claim(&mut self, worker: usize, paces: &Paces) -> Option<Claim> {
        let (span, emptied) = if self.free.is_empty() {
            let (victim, keep) = self.tail_cut(worker, paces)?;
            let owner = self.owned.get_mut(&victim)?;
            let span = (owner.received + keep, owner.end);
            owner.end = span.0;
            (span, (keep == 0).then_some(victim))
        } else {
            (self.free.remove(0), None)
        };
        self.owned.insert(worker, Owned { received: span.0, written: span.0, end: span.1 });
        Some(Claim { span, emptied })
    }

    /// Whose range `worker` should take the end of, and how many of its bytes left the owner
    /// keeps. A range whose owner has gone quiet comes first and is taken whole (by a claimer
    /// not known to be slow). Otherwise the range that would finish last at its owner's pace
    /// (unknown: the median) is cut where both would finish together. A claimer whose pace is
    /// not known yet (a new connection, which may have been handed a slow path) only takes a
    /// quiet range or halves one of at least `2 × min_split`, as before paces were known.
    fn tail_cut(&self, worker: usize, paces: &Paces) -> Option<(usize, u64)> {
        let median = median(paces.values().filter_map(|p| p.rate).collect());
        let mine = paces.get(&worker).and_then(|p| p.rate).filter(|p| *p > 0.0);
        let not_slow = match (mine, median) {
            (Some(mine), Some(median)) => mine >= median * SLOW_CLAIMER,
            _ => true,
        };
        let cut = |id: usize, left: u64| -> Option<(f64, u64)> {
            let pace = paces.get(&id);
            if pace.is_some_and(|p| p.quiet) {
                return (left > 0 && not_slow).then_some((f64::INFINITY, 0));
            }
            let theirs = pace.and_then(|p| p.rate).or(median).filter(|p| *p > 0.0);
            let finish = theirs.map_or(left as f64, |p| left as f64 / p);
            match (mine, theirs) {
                (Some(mine), Some(theirs)) => {
                    if finish < TAIL_WORTH.as_secs_f64() {
                        return None;
                    }
                    let keep = (left as f64 * theirs / (theirs + mine)) as u64;
                    (left - keep.min(left) >= TAIL_PIECE).then_some((finish, keep))
                }
                _ => (left >= 2 * self.min_split).then_some((finish, left / 2)),
            }
        };
        self.owned
            .iter()
            .filter(|(id, _)| **id != worker)
            .filter_map(|(&id, o)| cut(id, o.end.saturating_sub(o.received)).map(|(f, keep)| (id, f, keep)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _, keep)| (id, keep))
    }

    /// The free piece that contains byte `pos`, if any.
    pub fn free_piece_at(&self, pos: u64) -> Option<Span> {
        self.free.iter().copied().find(|(s, e)| *s <= pos && pos < *e)
    }

    /// Gives `worker` exactly `span` (the first connection, whose request is already answered).
    pub fn claim_exact(&mut self, worker: usize, span: Span) -> bool {
        let Some(at) = self.free.iter().position(|f| f.0 <= span.0 && span.1 <= f.1) else { return false };
        let (fs, fe) = self.free.remove(at);
        if span.1 < fe {
            self.free.insert(at, (span.1, fe));
        }
        if fs < span.0 {
            self.free.insert(at, (fs, span.0));
        }
        self.owned.insert(worker, Owned { received: span.0, written: span.0, end: span.1 });
        true
    }

    /// How many of `len` newly received bytes `worker` may keep (its end may have moved).
    pub fn accept(&mut self, worker: usize, len: u64) -> u64 {
        let Some(o) = self.owned.get_mut(&worker) else { return 0 };
        let keep = len.min(o.end.saturating_sub(o.received));
        o.received += keep;
        keep
    }

    /// Where `worker` is: (next byte to receive, end).
    pub fn position(&self, worker: usize) -> Option<(u64, u64)> {
        self.owned.get(&worker).map(|o| (o.received, o.end))
    }

    /// Records that `worker`'s bytes below `upto` are on disk.
    pub fn written(&mut self, worker: usize, upto: u64) {
        if let Some(o) = self.owned.get_mut(&worker) {
            o.written = o.written.max(upto.min(o.end));
        }
    }

    /// `worker` finished or gave up: what it wrote is done, the rest is free again.
    pub fn release(&mut self, worker: usize) {
        let Some(o) = self.owned.remove(&worker) else { return };
        if o.written < o.end {
            self.insert_free((o.written, o.end));
        }
    }

    fn insert_free(&mut self, span: Span) {
        let at = self.free.partition_point(|f| f.0 < span.0);
        self.free.insert(at, span);
    }

    /// Bytes received so far (on disk or buffered), for progress.
    pub fn received_bytes(&self) -> u64 {
        self.total.saturating_sub(self.missing_after(|o| o.received))
    }

    /// Ranges not yet on disk: what a resume must fetch.
    pub fn missing(&self) -> Vec<Span> {
        let mut spans: Vec<Span> = self.free.clone();
        spans.extend(self.owned.values().filter(|o| o.written < o.end).map(|o| (o.written, o.end)));
        spans.sort_unstable();
        merge(spans)
    }

    fn missing_after(&self, pos: impl Fn(&Owned) -> u64) -> u64 {
        let free: u64 = self.free.iter().map(|(s, e)| e - s).sum();
        let owned: u64 = self.owned.values().map(|o| o.end.saturating_sub(pos(o))).sum();
        free + owned
    }

    pub fn is_complete(&self) -> bool {
        self.free.is_empty() && self.owned.values().all(|o| o.written >= o.end)
    }

    /// Whether a new connection (pace unknown) would find something to do.
    pub fn has_work(&self, paces: &Paces) -> bool {
        !self.free.is_empty() || self.tail_cut(usize::MAX, paces).is_some()
    }
}

/// Cuts `missing` into about `connections` pieces of equal size (none below `min_split`), so
/// connections opened together also finish together; splitting the largest remainder
/// repeatedly would give halves, quarters, eighths… and leave the tail to a few of them.
pub fn even_pieces(missing: &[Span], connections: usize, min_split: u64) -> Vec<Span> {
    let piece = (byte_count(missing) / connections.max(1) as u64).max(min_split).max(1);
    let mut out = Vec::new();
    for &(start, end) in missing {
        let count = end.saturating_sub(start).div_ceil(piece).max(1);
        cut((start, end), end.saturating_sub(start).div_ceil(count), &mut out);
    }
    out
}

fn byte_count(spans: &[Span]) -> u64 {
    spans.iter().fold(0u64, |sum, (s, e)| sum.saturating_add(e.saturating_sub(*s)))
}

/// Cuts `span` into pieces of `size` bytes (the last one shorter) onto `out`.
fn cut((start, end): Span, size: u64, out: &mut Vec<Span>) {
    let mut at = start;
    while at < end {
        let to = at.saturating_add(size.max(1)).min(end);
        out.push((at, to));
        at = to;
    }
}

/// The pieces a segmented download starts with, for `(connections now, at most)`: even ones,
/// cut smaller and in file order when the file is checked against a checksum (`checked`), so
/// its hash keeps up.
pub fn first_pieces(missing: &[Span], (now, most): (usize, usize), checked: bool) -> Vec<Span> {
    let even = even_pieces(missing, now, MIN_SPLIT);
    if checked { in_file_order(even, most) } else { even }
}

/// The largest piece a download that is checked against a checksum hands out, at least: see
/// `in_file_order`.
pub const IN_ORDER_PIECE: u64 = 8 << 20;

/// Cuts `pieces` further so no piece is larger than `IN_ORDER_PIECE` or an eighth of each
/// connection's share, whichever is larger. Free pieces are claimed first to last, so with
/// small pieces the file fills from its start and its contiguous prefix grows with the
/// download: a checksum's hash (which can only run front to back) follows it instead of
/// reading most of the file back once the last range lands. Even pieces of 1 GiB over 16
/// connections left 0.6 s of hashing after the last byte (+17 % at 300 MB/s); at most about
/// one piece per connection is left to hash now. The price is a request per piece instead
/// of per connection: at least 8 MiB each, and an eighth of a share keeps it to about eight
/// more requests per connection whatever the size.
pub fn in_file_order(pieces: Vec<Span>, connections: usize) -> Vec<Span> {
    let cap = (byte_count(&pieces) / (connections.max(1) as u64).saturating_mul(8)).max(IN_ORDER_PIECE);
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        cut(piece, cap, &mut out);
    }
    out
}

/// The median of `values`, if any (also the autopilot's, for connections' rates).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

/// Joins touching or overlapping sorted spans.
fn merge(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = MIN_SPLIT;
    /// No connection's pace known yet.
    const UNKNOWN: Paces = Paces::new();

    #[test]
    fn pieces_in_file_order_are_cut_to_the_cap_and_claimed_front_to_back() {
        let total = 64 * IN_ORDER_PIECE;
        let pieces = in_file_order(even_pieces(&[(0, total)], 2, M), 2);
        assert!(pieces.iter().all(|(s, e)| e - s <= 4 * IN_ORDER_PIECE), "{pieces:?}");
        assert_eq!(pieces.len(), 16, "an eighth of each connection's share");
        let small = in_file_order(even_pieces(&[(0, 3 * IN_ORDER_PIECE)], 1, M), 1);
        assert_eq!(
            small,
            [
                (0, IN_ORDER_PIECE),
                (IN_ORDER_PIECE, 2 * IN_ORDER_PIECE),
                (2 * IN_ORDER_PIECE, 3 * IN_ORDER_PIECE)
            ]
        );
        let mut map = SegmentMap::new(total, pieces, M);
        let starts: Vec<u64> = (0..4).map(|w| map.claim(w, &UNKNOWN).map(|c| c.span).unwrap().0).collect();
        assert_eq!(starts, [0, 4 * IN_ORDER_PIECE, 8 * IN_ORDER_PIECE, 12 * IN_ORDER_PIECE]);
    }

    #[test]
    fn free_ranges_are_handed_out_first_then_the_largest_tail_is_split() {
        let mut map = SegmentMap::new(8 * M, vec![(0, 8 * M)], M);
        assert!(map.claim_exact(0, (0, 8 * M)));
        assert_eq!(map.claim(1, &UNKNOWN).map(|c| c.span), Some((4 * M, 8 * M)));
        assert_eq!(map.position(0), Some((0, 4 * M)), "the first connection now stops halfway");
        assert_eq!(
            map.claim(2, &UNKNOWN).map(|c| c.span),
            Some((6 * M, 8 * M)),
            "halves of the largest remainder"
        );
        assert_eq!(map.claim(3, &UNKNOWN).map(|c| c.span), Some((2 * M, 4 * M)));
    }

    const MB: f64 = 1_000_000.0;

    fn paces(list: &[(usize, Option<f64>, bool)]) -> Paces {
        list.iter().map(|&(id, rate, quiet)| (id, Pace { rate: rate.map(|r| r * MB), quiet })).collect()
    }

    #[test]
    fn a_slow_connections_tail_is_cut_where_both_would_finish_together() {
        // Worker 0 crawls at 1 MB/s with 900 KB left; worker 1 (8 MB/s) is free.
        let mut map = SegmentMap::new(900_000, vec![(0, 900_000)], M);
        map.claim_exact(0, (0, 900_000));
        let known = paces(&[(0, Some(1.0), false), (1, Some(8.0), false)]);
        let claim = map.claim(1, &known).unwrap();
        assert_eq!(claim, Claim { span: (100_000, 900_000), emptied: None }, "the crawler keeps a ninth");
        // A free connection whose pace is not known yet (a new one, perhaps on a slow path)
        // only halves ranges of at least 2 × `MIN_SPLIT`: 400 KB stays with the crawler.
        let mut map = SegmentMap::new(400_000, vec![(0, 400_000)], M);
        map.claim_exact(0, (0, 400_000));
        assert_eq!(map.claim(1, &paces(&[(0, Some(1.0), false)])), None);
        assert!(!map.has_work(&paces(&[(0, Some(1.0), false)])));
    }

    #[test]
    fn the_range_that_would_finish_last_is_cut_first_and_a_near_finished_one_is_left_alone() {
        let mut map = SegmentMap::new(10 * M, vec![(0, 5 * M), (5 * M, 10 * M)], M);
        map.claim_exact(0, (0, 5 * M));
        map.claim_exact(1, (5 * M, 10 * M));
        map.accept(1, 4 * M);
        // Worker 0 has five times the bytes left, but worker 1 goes at a tenth of its pace.
        let known = paces(&[(0, Some(10.0), false), (1, Some(1.0), false), (2, Some(10.0), false)]);
        let Claim { span, .. } = map.claim(2, &known).unwrap();
        assert!(span.0 > 9 * M && span.1 == 10 * M, "{span:?}");
        // A range that its connection finishes within `TAIL_WORTH` is not worth a request.
        let mut map = SegmentMap::new(M, vec![(0, M)], M);
        map.claim_exact(0, (0, M));
        assert_eq!(map.claim(1, &paces(&[(0, Some(10.0), false), (1, Some(10.0), false)])), None);
    }

    #[test]
    fn a_quiet_connections_range_is_taken_whole_and_it_is_named_to_stop() {
        let mut map = SegmentMap::new(2 * M, vec![(0, M), (M, 2 * M)], M);
        map.claim_exact(0, (0, M));
        map.claim_exact(1, (M, 2 * M));
        map.accept(0, M - 24_000);
        // Worker 0 has 24 KB left and went quiet; worker 1 has far more left but is going.
        let quiet = paces(&[(0, Some(9.0), true), (1, Some(9.0), false), (2, Some(9.0), false)]);
        assert_eq!(map.claim(2, &quiet), Some(Claim { span: (M - 24_000, M), emptied: Some(0) }));
        assert_eq!(map.position(0), Some((M - 24_000, M - 24_000)), "nothing left for worker 0");
        // A new connection (pace unknown) takes a quiet range too: `has_work` opens one.
        let mut map = SegmentMap::new(M, vec![(0, M)], M);
        map.claim_exact(0, (0, M));
        map.accept(0, M - 24_000);
        let quiet = paces(&[(0, None, true)]);
        assert!(map.has_work(&quiet));
        assert_eq!(map.claim(7, &quiet).map(|c| c.emptied), Some(Some(0)));
        // But not a free connection known to be far slower than the others.
        let mut map = SegmentMap::new(M, vec![(0, M)], M);
        map.claim_exact(0, (0, M));
        let slow = paces(&[(0, Some(9.0), true), (1, Some(9.0), false), (2, Some(0.5), false)]);
        assert_eq!(map.claim(2, &slow), None);
    }

    #[test]
    fn never_splits_below_the_minimum() {
        let mut map = SegmentMap::new(3 * M, vec![(0, 3 * M)], M);
        map.claim_exact(0, (0, 3 * M));
        assert_eq!(map.claim(1, &UNKNOWN).map(|c| c.span), Some((3 * M / 2, 3 * M)));
        assert_eq!(
            map.claim(2, &UNKNOWN).map(|c| c.span),
            None,
            "1.5 MiB remainders are not worth splitting again"
        );
    }

    #[test]
    fn received_bytes_are_capped_at_a_moved_end() {
        let mut map = SegmentMap::new(4 * M, vec![(0, 4 * M)], M);
        map.claim_exact(0, (0, 4 * M));
        assert_eq!(map.accept(0, M), M);
        map.claim(1, &UNKNOWN);
        // Worker 0 now ends at 2.5 MiB; of 2 MiB more it may keep 1.5 MiB.
        assert_eq!(map.accept(0, 2 * M), 3 * M / 2);
        assert_eq!(map.accept(0, 10), 0);
    }

    #[test]
    fn released_unwritten_bytes_become_free_and_missing_tracks_disk() {
        let mut map = SegmentMap::new(4 * M, vec![(0, 4 * M)], M);
        map.claim_exact(0, (0, 4 * M));
        map.accept(0, 3 * M);
        map.written(0, M);
        assert_eq!(map.received_bytes(), 3 * M);
        assert_eq!(map.missing(), vec![(M, 4 * M)]);
        map.release(0);
        assert!(map.has_work(&UNKNOWN));
        assert_eq!(map.claim(5, &UNKNOWN).map(|c| c.span), Some((M, 4 * M)));
        map.accept(5, 3 * M);
        map.written(5, 4 * M);
        assert!(map.is_complete());
        map.release(5);
        assert_eq!(map.missing(), vec![]);
    }

    #[test]
    fn even_pieces_share_the_work_equally() {
        assert_eq!(
            even_pieces(&[(0, 16 * M)], 4, M),
            vec![(0, 4 * M), (4 * M, 8 * M), (8 * M, 12 * M), (12 * M, 16 * M)]
        );
        // Never below the minimum: 3 MiB over 8 connections is three pieces.
        assert_eq!(even_pieces(&[(0, 3 * M)], 8, M).len(), 3);
        // Scattered ranges are cut in proportion and still cover exactly what was missing.
        let pieces = even_pieces(&[(0, 2 * M), (10 * M, 16 * M)], 4, M);
        assert_eq!(pieces.iter().map(|(s, e)| e - s).sum::<u64>(), 8 * M);
        assert_eq!(pieces.first(), Some(&(0, 2 * M)));
        assert_eq!(pieces.len(), 4);
    }

    #[test]
    fn resumes_from_scattered_missing_ranges() {
        let mut map = SegmentMap::new(10 * M, vec![(8 * M, 10 * M), (0, M), (M, 2 * M)], M);
        assert_eq!(map.missing(), vec![(0, 2 * M), (8 * M, 10 * M)]);
        assert_eq!(map.received_bytes(), 6 * M);
        assert_eq!(map.free_piece_at(M / 2), Some((0, M)));
        assert!(map.claim_exact(0, (M / 2, M)));
        assert_eq!(map.claim(1, &UNKNOWN).map(|c| c.span), Some((0, M / 2)), "free pieces first, in order");
        assert_eq!(map.claim(2, &UNKNOWN).map(|c| c.span), Some((M, 2 * M)));
        assert_eq!(map.claim(3, &UNKNOWN).map(|c| c.span), Some((8 * M, 10 * M)));
        assert_eq!(
            map.claim(4, &UNKNOWN).map(|c| c.span),
            Some((9 * M, 10 * M)),
            "then the largest remainder is split"
        );
    }
}
