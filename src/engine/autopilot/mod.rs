//! The connection autopilot's decisions for one segmented download: when to open more
//! connections, when to hold or give some back, which slow connection to replace, and a reason
//! a person can read for the last change. Pure: it is fed byte counts with the time they were
//! read (a fake clock in tests) and refusals, and answers with decisions; `segmented` acts on
//! them. No I/O. How auto's first single stream is judged is in `start`; the words in `reason`.
//!
//! How it grows: it starts from what one stream showed (`start`). A download one stream would
//! take long over tries the ceiling at once; another tries two. Each step is measured over a
//! window once every connection it asked for is receiving. A step that scaled almost linearly
//! (a server that limits each connection) is followed by the ceiling; a smaller gain by
//! doubling; a step that gave less than `MIN_GAIN`, or less than a quarter of what its
//! connections would at the others' pace, ends growth, and a big step that gave little gives
//! back the connections its rate does not account for (a link that carries a few
//! connections' worth keeps a few, not sixteen).

mod reason;
mod start;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::segments::median;

pub use reason::Reason;
pub use start::{EVERY as PROBE_EVERY, OneStream, StreamProbe, Verdict, worth_more};

/// Least growth of the total rate that makes a step worth keeping on adding.
pub const MIN_GAIN: f64 = 0.10;
/// Time a new step is given to reach speed (connect, slow start) before it is measured.
const WARMUP: Duration = Duration::from_millis(100);
/// How long the total rate is measured at one connection count. A second at least: servers
/// limit rates per second (nginx's `limit_rate` sends a second's worth at once, then waits),
/// and shorter windows measured bursts and pauses instead of rates, holding auto at two
/// connections on the throttled bench.
const WINDOW: Duration = Duration::from_millis(1000);
/// A step must give at least this share of what it would if it scaled linearly (twice the
/// connections, twice the rate), besides `MIN_GAIN`: a big step that mostly added idle
/// connections is not a reason to add more (a quarter, not more: measurements are noisy).
const WORTH_LINEAR: f64 = 0.25;
/// A step that gave at least this share of linear is followed by the ceiling, not a doubling:
/// the server limits each connection, and every step on the way costs a window.
const NEAR_LINEAR: f64 = 0.8;
/// A step whose connections are not all receiving after this long is measured with what it
/// got (the host's cap or the work left kept the others from opening).
const SETTLE_MAX: Duration = Duration::from_secs(2);
/// How long a connection's rate is watched before it can be called slow: half a second spans
/// two of a rate-limiting server's bursts (nginx: one every 250 ms), and a connection below a
/// third of the median over it is slow whatever the bursts (a 1 MB/s path beside 8 MB/s ones
/// shows a fifth at most). A second cost the uneven bench's three crawlers of sixteen 0.1 s
/// more each (256 MiB, auto: median 2.42 s with a second, 2.25 s with half; docs/measurements.md).
const SLOW_WINDOW: Duration = Duration::from_millis(500);
/// A connection below this fraction of the others' median rate over `SLOW_WINDOW` is slow.
const SLOW_FRACTION: f64 = 1.0 / 3.0;
/// A slow connection is replaced only if it still has at least this much to fetch: replacing
/// costs a request and a round trip.
const REPLACE_MIN_LEFT: u64 = 512 << 10;

/// One open connection as the download sees it at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnSample {
    /// The connection's id in the download (stable while it is open).
    pub id: usize,
    /// Bytes it received since it opened.
    pub received: u64,
    /// Bytes left in the range it works on now.
    pub left: u64,
}

/// What the download should do after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep the connections it has (open more only up to `Autopilot::target`).
    Keep,
    /// Stop connection `id` (its unfetched range goes back to the pool) and open another.
    Replace { id: usize },
}

/// Where growth is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for the connections of the current step to all receive (since `began`).
    Settling { began: Duration },
    /// Measuring from `at`; `start` is the total then, once `at` has passed (the warm-up).
    Measuring { at: Duration, start: Option<u64> },
    /// No more growth for this download.
    Done,
}

/// One download's autopilot.
#[derive(Debug)]
pub struct Autopilot {
    /// Most connections it may use: auto's maximum, the host's cap, what the server tolerated.
    ceiling: usize,
    /// Connections wanted now.
    target: usize,
    phase: Phase,
    /// The total rate measured at the previous count, and that count.
    last: Option<(usize, f64)>,
    /// Growth stopped because a step did not help (not at a ceiling or a refusal): a slow
    /// connection may have spoiled that measurement, so replacing one starts growth again.
    held: bool,
    /// Recent (time, received) per open connection, for spotting slow ones.
    history: BTreeMap<usize, VecDeque<(Duration, u64)>>,
    /// Connections opened as replacements (never replaced again) and how many more may be.
    replacements: BTreeSet<usize>,
    replace_budget: usize,
    reason: Reason,
    /// The reason changed since `take_change`.
    changed: bool,
}

impl Autopilot {
    /// An autopilot that starts with one connection and may go up to `ceiling`.
    pub fn auto(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1);
        Self::with(1, ceiling, Phase::Settling { began: Duration::ZERO }, Reason::Starting)
    }

    /// Auto after a single stream showed that more connections may pay (`start`): measures
    /// the ceiling against it when one stream would take long, else two.
    pub fn after_one_stream(ceiling: usize, one: OneStream) -> Self {
        let ceiling = ceiling.max(1);
        let first = if one.long { ceiling } else { 2.min(ceiling) };
        let mut pilot =
            Self::with(first, ceiling, Phase::Settling { began: Duration::ZERO }, Reason::Starting);
        if ceiling > 1 {
            pilot.last = Some((1, one.rate));
            pilot.reason = Reason::Trying { count: first };
        }
        pilot
    }

    /// A fixed count given by hand: no growth, but slow connections are still replaced and
    /// refusals still lower the count.
    pub fn manual(count: usize) -> Self {
        let count = count.max(1);
        Self::with(count, count, Phase::Done, Reason::Manual { count })
    }

    fn with(target: usize, ceiling: usize, phase: Phase, reason: Reason) -> Self {
        Self {
            ceiling,
            target,
            phase,
            last: None,
            held: false,
            history: BTreeMap::new(),
            replacements: BTreeSet::new(),
            replace_budget: ceiling,
            reason,
            changed: true,
        }
    }

    /// Connections the download should have open now.
    pub fn target(&self) -> usize {
        self.target
    }

    /// The most it may use now.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    #[cfg(test)]
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The reason, if it changed since the last call.
    pub fn take_change(&mut self) -> Option<&Reason> {
        std::mem::take(&mut self.changed).then_some(&self.reason)
    }

    fn explain(&mut self, reason: Reason) {
        self.changed |= self.reason != reason;
        self.reason = reason;
    }

    /// Connection `id` was opened to replace a slow one: it is not replaced in turn.
    pub fn opened_replacement(&mut self, id: usize) {
        self.replacements.insert(id);
    }

    /// The server refused a connection while `working` others kept receiving: it tolerates no
    /// more than those, for the rest of this download (`what` names the refusal).
    pub fn refused(&mut self, working: usize, what: &str) {
        let limit = working.max(1);
        if limit >= self.ceiling && self.target <= limit {
            return;
        }
        self.ceiling = self.ceiling.min(limit);
        self.target = self.target.min(limit);
        self.phase = Phase::Done;
        self.explain(Reason::HostLimit { limit, refused: limit + 1, what: what.to_string() });
    }

    /// One tick: `total` bytes received by the download so far, `remaining` still to fetch,
    /// `conns` the open connections.
    pub fn observe(&mut self, now: Duration, total: u64, remaining: u64, conns: &[ConnSample]) -> Decision {
        self.record(now, conns);
        if let Some(decision) = self.find_slow(now, conns) {
            return decision;
        }
        self.grow(now, total, remaining, conns);
        Decision::Keep
    }

    fn record(&mut self, now: Duration, conns: &[ConnSample]) {
        self.history.retain(|id, _| conns.iter().any(|c| c.id == *id));
        // Watched from its first byte: a connection still connecting or waiting for its answer
        // (a loaded server, a redirect) is not crawling, and one that never answers is the
        // stall timeout's to end.
        for c in conns.iter().filter(|c| c.received > 0) {
            let samples = self.history.entry(c.id).or_default();
            samples.push_back((now, c.received));
            // Keep one sample at or before the window's start, for a rate over the whole window.
            while samples.len() > 2 && samples[1].0 + SLOW_WINDOW <= now {
                samples.pop_front();
            }
        }
    }

    /// A connection far below the others for a whole window, worth replacing.
    fn find_slow(&mut self, now: Duration, conns: &[ConnSample]) -> Option<Decision> {
        if self.replace_budget == 0 || conns.len() < 2 {
            return None;
        }
        // Rates over the last window of connections watched that long.
        let rates: Vec<(ConnSample, f64)> = conns
            .iter()
            .filter_map(|c| {
                let samples = self.history.get(&c.id)?;
                let &(t0, b0) = samples.front()?;
                let span = now.checked_sub(t0)?;
                (span >= SLOW_WINDOW).then(|| (*c, (c.received - b0) as f64 / span.as_secs_f64()))
            })
            .collect();
        let (slow, rate, median) = rates
            .iter()
            .filter(|(c, _)| !self.replacements.contains(&c.id) && c.left >= REPLACE_MIN_LEFT)
            .filter_map(|(c, rate)| {
                let others: Vec<f64> = rates.iter().filter(|(o, _)| o.id != c.id).map(|(_, r)| *r).collect();
                let median = median(others)?;
                (*rate < median * SLOW_FRACTION).then_some((c.id, *rate, median))
            })
            .min_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)))?;
        self.replace_budget -= 1;
        self.history.remove(&slow);
        if std::mem::take(&mut self.held) {
            self.last = None;
            self.phase = Phase::Settling { began: now };
        } else if matches!(self.phase, Phase::Measuring { .. }) {
            // The window so far counted the crawler: measure the step again without it.
            self.phase = Phase::Settling { began: now };
        }
        self.explain(Reason::Replaced { conn: slow, ratio: rate / median });
        Some(Decision::Replace { id: slow })
    }

    fn grow(&mut self, now: Duration, total: u64, remaining: u64, conns: &[ConnSample]) {
        match self.phase {
            Phase::Done => {}
            Phase::Settling { began } => {
                let receiving = conns.iter().filter(|c| c.received > 0).count();
                let timed_out = now.saturating_sub(began) >= SETTLE_MAX;
                if receiving >= self.target || (timed_out && receiving > 0) {
                    // Fewer than asked could open (host cap, no work left): measure those.
                    self.target = self.target.min(receiving);
                    self.phase = Phase::Measuring { at: now + WARMUP, start: None };
                }
            }
            Phase::Measuring { at, start } => {
                if now < at {
                    return;
                }
                let Some(start) = start else {
                    self.phase = Phase::Measuring { at: now, start: Some(total) };
                    return;
                };
                let span = now - at;
                if span < WINDOW {
                    return;
                }
                let rate = total.saturating_sub(start) as f64 / span.as_secs_f64();
                self.measured(now, rate, remaining);
            }
        }
    }

    /// A window at the current count gave `rate`: go on adding, or hold.
    fn measured(&mut self, now: Duration, rate: f64, remaining: u64) {
        let count = self.target;
        let mut next = count * 2;
        let gained = match self.last {
            // No more could open than before (the host's cap): that is the ceiling.
            Some((before, _)) if count <= before => {
                self.phase = Phase::Done;
                self.explain(Reason::AtCeiling { count, gained: None });
                return;
            }
            Some((before, old)) => {
                let (added, percent) = (count - before, percent(rate, old));
                // What the step would give if every connection ran as fast as the others.
                let linear = 100.0 * added as f64 / before as f64;
                if (percent as f64) < (MIN_GAIN * 100.0).max(linear * WORTH_LINEAR) {
                    self.phase = Phase::Done;
                    self.held = true;
                    // A jump (more than doubling: a long download tried the ceiling, or a
                    // near-linear step was followed by it) keeps what the rate it got is
                    // worth, in connections at the pace they ran before, rounded up: a link
                    // that carries three connections' worth keeps three, not sixteen. A
                    // doubling step keeps its connections: closing one of two is churn.
                    let worth = (rate / (old / before as f64)).ceil();
                    let keep = if count > 2 * before && worth.is_finite() {
                        (worth as usize).clamp(before, count)
                    } else {
                        count
                    };
                    if keep < count {
                        self.target = keep;
                        self.explain(Reason::GaveBack { count: keep, tried: count, percent });
                    } else {
                        self.explain(Reason::Held { count, added, percent });
                    }
                    return;
                }
                if percent as f64 >= linear * NEAR_LINEAR {
                    next = self.ceiling;
                }
                Some((added, percent))
            }
            None => None,
        };
        self.last = Some((count, rate));
        if count >= self.ceiling {
            self.phase = Phase::Done;
            self.explain(Reason::AtCeiling { count, gained: gained.map(|(_, p)| p) });
            return;
        }
        if !worth_more(rate, remaining) {
            self.phase = Phase::Done;
            self.explain(match gained {
                Some((added, percent)) => Reason::Gained { count, added, percent },
                None => Reason::FastEnough { count },
            });
            return;
        }
        if let Some((added, percent)) = gained {
            self.explain(Reason::Gained { count, added, percent });
        }
        self.target = next.min(self.ceiling);
        self.phase = Phase::Settling { began: now };
    }
}

/// How much `new` is above `old`, in whole percent.
fn percent(new: f64, old: f64) -> i64 {
    if old <= 0.0 {
        return if new > 0.0 { 100 } else { 0 };
    }
    ((new / old - 1.0) * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1_000_000.0;
    const TICK: Duration = Duration::from_millis(100);

    /// A fake download: connection `i` receives `rate(i, open)` bytes a second, where `open`
    /// is how many are open; new connections open as soon as the autopilot's target asks.
    struct Sim {
        pilot: Autopilot,
        now: Duration,
        size: u64,
        total: u64,
        conns: Vec<ConnSample>,
        next_id: usize,
        most: usize,
        replaced: Vec<usize>,
        replaced_at: Vec<Duration>,
    }

    impl Sim {
        fn new(pilot: Autopilot, size: u64) -> Self {
            let conns = vec![ConnSample { id: 0, received: 0, left: size }];
            Self {
                pilot,
                now: Duration::ZERO,
                size,
                total: 0,
                conns,
                next_id: 1,
                most: 1,
                replaced: Vec::new(),
                replaced_at: Vec::new(),
            }
        }

        /// Runs until the file is done or `limit` passed.
        fn run(&mut self, limit: Duration, rate: impl Fn(usize, usize) -> f64) -> &mut Self {
            while self.total < self.size && self.now < limit {
                self.now += TICK;
                let open = self.conns.len();
                for c in &mut self.conns {
                    let got = (rate(c.id, open) * TICK.as_secs_f64()) as u64;
                    let got = got.min(self.size - self.total);
                    c.received += got;
                    self.total += got;
                }
                let remaining = self.size - self.total;
                let per = remaining / self.conns.len().max(1) as u64;
                self.conns.iter_mut().for_each(|c| c.left = per);
                if let Decision::Replace { id } =
                    self.pilot.observe(self.now, self.total, remaining, &self.conns)
                {
                    self.conns.retain(|c| c.id != id);
                    self.replaced.push(id);
                    self.replaced_at.push(self.now);
                    self.pilot.opened_replacement(self.next_id);
                    self.open();
                }
                while self.conns.len() < self.pilot.target() {
                    self.open();
                }
                // Given back: the newest close (as `segmented` does).
                self.conns.truncate(self.pilot.target().max(1));
                self.most = self.most.max(self.conns.len());
            }
            self
        }

        fn open(&mut self) {
            self.conns.push(ConnSample { id: self.next_id, received: 0, left: 0 });
            self.next_id += 1;
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_server_that_limits_each_connection_gets_connections_up_to_the_ceiling() {
        let mut sim = Sim::new(Autopilot::auto(8), 256 << 20);
        sim.run(secs(60), |_, _| 8.0 * MB);
        assert_eq!(sim.most, 8);
        assert!(matches!(sim.pilot.reason(), Reason::AtCeiling { count: 8, .. }), "{}", sim.pilot.reason());
        assert!(sim.now < secs(8), "256 MB at 64 MB/s after a short ramp, took {:?}", sim.now);
    }

    #[test]
    fn a_step_that_gives_little_of_what_its_connections_would_gives_them_back() {
        // The link carries at most 3 connections' worth.
        let mut sim = Sim::new(Autopilot::auto(16), 1 << 30);
        sim.run(secs(60), |_, open| 8.0 * MB * (open.min(3) as f64) / open as f64);
        assert_eq!(sim.most, 16, "1 → 2 (+100 %, linear: the ceiling next) → 16");
        assert_eq!(sim.pilot.target(), 3, "16 gave +50 % over 2 at 8 MB/s each: 3 connections' worth");
        assert_eq!(sim.pilot.reason(), &Reason::GaveBack { count: 3, tried: 16, percent: 50 });
    }

    #[test]
    fn a_jump_keeps_what_its_rate_is_worth_rounded_up() {
        // Each connection past the second adds a tenth of one: 16 give 3.4 connections' worth.
        let mut sim = Sim::new(Autopilot::auto(16), 1 << 30);
        sim.run(secs(60), |_, open| {
            let extra = open.saturating_sub(2) as f64 * 0.1;
            8.0 * MB * (open.min(2) as f64 + extra) / open as f64
        });
        assert_eq!(sim.pilot.reason(), &Reason::GaveBack { count: 4, tried: 16, percent: 70 });
    }

    #[test]
    fn a_doubling_step_that_gave_little_holds_with_its_connections() {
        // The link carries one and a half connections' worth: 1 → 2 gives +50 % (not near
        // linear: doubling next), 2 → 4 gives nothing.
        let mut sim = Sim::new(Autopilot::auto(16), 1 << 30);
        sim.run(secs(60), |_, open| 8.0 * MB * (open as f64).min(1.5) / open as f64);
        assert_eq!(sim.pilot.target(), 4);
        assert_eq!(sim.pilot.reason().to_string(), "held at 4 — +2 gave +0 %");
    }

    #[test]
    fn a_near_linear_step_is_followed_by_the_ceiling() {
        let mut sim = Sim::new(Autopilot::auto(16), 1 << 30);
        let mut counts = Vec::new();
        while sim.total < sim.size && sim.now < secs(60) {
            sim.run(sim.now + TICK, |_, _| 8.0 * MB);
            if counts.last() != Some(&sim.pilot.target()) {
                counts.push(sim.pilot.target());
            }
        }
        assert_eq!(counts, vec![1, 2, 16], "2 gave +100 %: straight to the most allowed");
    }

    #[test]
    fn a_stream_that_would_take_long_tries_the_ceiling_at_once() {
        let one = OneStream { rate: 8.0 * MB, long: true };
        let mut sim = Sim::new(Autopilot::after_one_stream(16, one), 256 << 20);
        assert_eq!(sim.pilot.target(), 16);
        assert_eq!(sim.pilot.reason().to_string(), "trying 16 conns — 1 would take a while");
        sim.run(secs(60), |_, _| 8.0 * MB);
        assert_eq!(sim.most, 16);
        assert!(matches!(sim.pilot.reason(), Reason::AtCeiling { count: 16, .. }), "{}", sim.pilot.reason());
        assert!(sim.now < secs(3), "256 MiB at 128 MB/s from the start, took {:?}", sim.now);
    }

    #[test]
    fn a_long_stream_on_a_shared_link_gives_the_connections_back() {
        // 16 connections share what one got (less a little): the step is undone.
        let one = OneStream { rate: 4.0 * MB, long: true };
        let mut sim = Sim::new(Autopilot::after_one_stream(16, one), 256 << 20);
        sim.run(secs(5), |_, open| 3.8 * MB / open as f64);
        assert_eq!(sim.most, 16);
        assert_eq!(sim.pilot.target(), 1);
        assert_eq!(sim.conns.len(), 1, "the others were closed");
        assert_eq!(sim.pilot.reason().to_string(), "back to 1 — 16 gave -5 %");
    }

    #[test]
    fn one_fast_connection_stays_one() {
        let mut sim = Sim::new(Autopilot::auto(8), 2 << 30);
        sim.run(secs(60), |_, _| 1000.0 * MB);
        assert_eq!(sim.most, 1);
        assert_eq!(sim.pilot.reason(), &Reason::FastEnough { count: 1 });
    }

    #[test]
    fn after_a_single_stream_it_measures_two_against_it() {
        let one = OneStream { rate: 8.0 * MB, long: false };
        let mut sim = Sim::new(Autopilot::after_one_stream(8, one), 256 << 20);
        assert_eq!(sim.pilot.target(), 2);
        assert_eq!(sim.pilot.reason().to_string(), "trying 2 conns — 1 would take a while");
        sim.open();
        sim.run(secs(60), |_, _| 8.0 * MB);
        assert_eq!(sim.most, 8, "2 gave +100 % over the single stream: on to the ceiling");
        assert!(worth_more(8.0 * MB, 256 << 20) && !worth_more(1000.0 * MB, 1 << 30));
    }

    #[test]
    fn a_small_file_never_gets_a_second_connection() {
        let mut sim = Sim::new(Autopilot::auto(8), 4 << 20);
        sim.run(secs(60), |_, _| 8.0 * MB);
        assert_eq!(sim.most, 1, "4 MB at 8 MB/s is done before a probe could pay off");
    }

    #[test]
    fn a_connection_far_below_the_others_is_replaced_once() {
        // Connection 1 crawls at a twentieth of the others; its replacement is fast.
        let mut sim = Sim::new(Autopilot::manual(4), 1 << 30);
        sim.run(secs(30), |id, _| if id == 1 { 0.5 * MB } else { 10.0 * MB });
        assert_eq!(sim.replaced, vec![1]);
        let Reason::Replaced { conn: 1, ratio } = *sim.pilot.reason() else {
            panic!("{}", sim.pilot.reason())
        };
        assert!(ratio < 0.1, "{ratio}");
        // Watched for half a second: a crawler does not hold its range long.
        assert!(sim.replaced_at[0] <= Duration::from_millis(700), "replaced at {:?}", sim.replaced_at[0]);
        assert_eq!(Reason::Replaced { conn: 2, ratio: 0.2 }.to_string(), "replaced conn 2 at 0.2× median");
    }

    #[test]
    fn a_connection_slow_to_answer_is_watched_from_its_first_byte() {
        // Connection 1's answer takes 1.5 s to come, then it runs as fast as connection 0.
        let mut pilot = Autopilot::manual(2);
        let (mut now, mut fast, mut late) = (Duration::ZERO, 0u64, 0u64);
        while now < secs(4) {
            now += TICK;
            fast += 1_000_000;
            if now > Duration::from_millis(1500) {
                late += 1_000_000;
            }
            let conns = [
                ConnSample { id: 0, received: fast, left: 1 << 30 },
                ConnSample { id: 1, received: late, left: 1 << 30 },
            ];
            assert_eq!(pilot.observe(now, fast + late, 1 << 30, &conns), Decision::Keep, "at {now:?}");
        }
    }

    #[test]
    fn a_replacement_that_is_slow_too_is_not_replaced_again() {
        let mut sim = Sim::new(Autopilot::manual(3), 1 << 30);
        // Every connection with an odd id is slow, replacements included.
        sim.run(secs(30), |id, _| if id % 2 == 1 { 0.5 * MB } else { 10.0 * MB });
        assert_eq!(sim.replaced, vec![1], "connection 3 replaced 1 and is left alone");
    }

    #[test]
    fn replacing_a_slow_connection_after_a_hold_measures_again() {
        // One stream ran at 8 MB/s; of the two that followed one crawls, so two looked no
        // better than one and auto held. Once the crawler is replaced, growth resumes.
        let one = OneStream { rate: 8.0 * MB, long: false };
        let mut sim = Sim::new(Autopilot::after_one_stream(8, one), 1 << 30);
        sim.open();
        sim.run(secs(60), |id, _| if id == 1 { 0.5 * MB } else { 8.0 * MB });
        assert_eq!(sim.replaced, vec![1]);
        assert_eq!(sim.most, 8, "grew after the replacement");
    }

    #[test]
    fn evenly_slow_connections_are_left_alone() {
        let mut sim = Sim::new(Autopilot::manual(4), 1 << 30);
        sim.run(secs(30), |id, _| if id == 1 { 4.0 * MB } else { 8.0 * MB });
        assert!(sim.replaced.is_empty(), "half the median is not far below it");
    }

    #[test]
    fn a_refusal_caps_the_count_at_the_connections_that_work() {
        let mut pilot = Autopilot::auto(8);
        let mut sim = Sim::new(Autopilot::auto(8), 1 << 30);
        sim.run(secs(4), |_, _| 8.0 * MB);
        assert!(sim.pilot.target() >= 4, "growing: {}", sim.pilot.target());
        sim.pilot.refused(3, "503");
        assert_eq!((sim.pilot.target(), sim.pilot.ceiling()), (3, 3));
        assert_eq!(sim.pilot.reason().to_string(), "host limit 3 — 503 on the 4th");
        sim.conns.truncate(3);
        sim.run(secs(60), |_, _| 8.0 * MB);
        assert_eq!(sim.conns.len(), 3, "never above 3 again");
        // A refusal at or above the count it has changes nothing.
        pilot.take_change();
        pilot.refused(8, "429");
        assert!(pilot.take_change().is_none());
    }

    #[test]
    fn the_reason_is_reported_once_per_change() {
        let mut pilot = Autopilot::auto(8);
        assert_eq!(pilot.take_change(), Some(&Reason::Starting));
        assert_eq!(pilot.take_change(), None);
        let conns = [ConnSample { id: 0, received: 1, left: 1 << 30 }];
        pilot.observe(TICK, 1, 1 << 30, &conns);
        assert_eq!(pilot.take_change(), None, "measuring is no change");
    }
}
