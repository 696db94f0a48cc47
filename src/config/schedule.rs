//! `[[schedule]]` entries: by weekday and time of day, a global speed limit, a worker count or
//! a pause of everything, and what is in force at an instant and until when. Evaluated in
//! local time with the zone passed in (the session passes the system's; tests a fixed one),
//! so daylight-saving changes are handled by `jiff`'s zone rules, not by adding hours.
//! Pure; depends on `jiff`, the config's value parsers and `format`.
//!
//! A window is read as a person reads a clock: it starts the first time that day's clock
//! reaches `from` and ends the first time it then reaches `to`. On the spring-forward night a
//! time in the skipped hour is reached when the clocks jump (a window "01:00–02:30" ends at
//! 03:00 summer time); in the repeated autumn hour the first pass counts (a window
//! "02:00–02:30" runs once, in summer time). `to` at or before `from` ends the next day;
//! `days` names the day a window starts on.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::values::{de_some_rate, de_some_workers};

/// The `[[schedule]]` entries, in file order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Schedule(pub Vec<ScheduleEntry>);

/// One `[[schedule]]`: a weekly window and what holds inside it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawEntry")]
pub struct ScheduleEntry {
    /// Shown in the TUI header; else "schedule".
    pub name: Option<String>,
    pub days: Days,
    pub from: Clock,
    pub to: Clock,
    /// The global limit inside the window; `Some(None)` is an explicit "unlimited".
    pub rate_limit: Option<Option<u64>>,
    pub workers: Option<usize>,
    /// Every download is paused inside the window and resumed at its end.
    pub pause_all: bool,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawEntry {
    name: Option<String>,
    #[serde(deserialize_with = "de_days")]
    days: Days,
    #[serde(deserialize_with = "de_from")]
    from: Clock,
    #[serde(deserialize_with = "de_to")]
    to: Clock,
    #[serde(deserialize_with = "de_some_rate")]
    rate_limit: Option<Option<u64>>,
    #[serde(deserialize_with = "de_some_workers")]
    workers: Option<usize>,
    pause_all: bool,
}

impl Default for RawEntry {
    fn default() -> Self {
        RawEntry {
            name: None,
            days: Days::ALL,
            from: Clock(0),
            to: Clock(Clock::END_OF_DAY),
            rate_limit: None,
            workers: None,
            pause_all: false,
        }
    }
}

impl TryFrom<RawEntry> for ScheduleEntry {
    type Error = String;

    fn try_from(raw: RawEntry) -> Result<Self, String> {
        if raw.from == raw.to {
            return Err(format!(
                "a schedule from {} to {} is empty: leave out `from` and `to` for the whole day",
                raw.from, raw.to
            ));
        }
        if raw.rate_limit.is_none() && raw.workers.is_none() && !raw.pause_all {
            return Err("this schedule sets nothing: give it rate_limit, workers or pause_all = true".into());
        }
        Ok(ScheduleEntry {
            name: raw.name,
            days: raw.days,
            from: raw.from,
            to: raw.to,
            rate_limit: raw.rate_limit,
            workers: raw.workers,
            pause_all: raw.pause_all,
        })
    }
}

/// A time of day in minutes, `00:00` to `24:00` (the end of the day, for `to` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock(u16);

impl Clock {
    const END_OF_DAY: u16 = 24 * 60;

    /// `"HH:MM"` (or `"H:MM"`); `24:00` only when `end_of_day` may be meant.
    pub fn parse(text: &str, allow_end: bool) -> Result<Clock, String> {
        let bad = || format!("expected a time of day such as \"09:00\" or \"17:30\", found \"{text}\"");
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let digits =
            |s: &str, max: usize| s.len() <= max && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        match (h, m) {
            (24, 0) if allow_end => Ok(Clock(Self::END_OF_DAY)),
            (24, 0) => Err("24:00 is the end of a day: use it for `to`, and 00:00 for `from`".into()),
            (0..24, 0..60) => Ok(Clock(h * 60 + m)),
            _ => Err(bad()),
        }
    }

    /// On `date`, as a civil date and time; `24:00` is the next day's midnight.
    fn on(self, date: Date) -> Option<DateTime> {
        if self.0 == Self::END_OF_DAY {
            return date.tomorrow().ok().map(|d| d.at(0, 0, 0, 0));
        }
        let time = Time::new(i8::try_from(self.0 / 60).ok()?, i8::try_from(self.0 % 60).ok()?, 0, 0).ok()?;
        Some(time.to_datetime(date))
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// The weekdays a window starts on, one bit a day from Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u8);

impl Days {
    pub const ALL: Days = Days(0b111_1111);
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// `"mon-fri"`, `"sat,sun"`, `"fri-mon"` (a range wraps past Sunday), `"daily"`,
    /// `"weekdays"`, `"weekends"`; names as three letters or in full, any case.
    pub fn parse(text: &str) -> Result<Days, String> {
        let day = |word: &str| -> Result<u8, String> {
            let w = word.trim().to_ascii_lowercase();
            let full = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
            (0..7u8)
                .find(|&i| w == Self::NAMES[usize::from(i)] || w == full[usize::from(i)])
                .ok_or_else(|| format!("`{}` is not a day: write days as mon, tue, … sun", word.trim()))
        };
        let mut bits = 0u8;
        for part in text.split(',') {
            let part = part.trim();
            bits |= match part.to_ascii_lowercase().as_str() {
                "daily" | "all" | "every day" => Self::ALL.0,
                "weekdays" => 0b001_1111,
                "weekends" | "weekend" => 0b110_0000,
                "" => {
                    return Err(
                        "expected days such as \"mon-fri\" or \"sat,sun\", found an empty part".into()
                    );
                }
                _ => match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a)?, day(b)?);
                        (0..7u8).filter(|i| (i + 7 - a) % 7 <= (b + 7 - a) % 7).fold(0, |acc, i| acc | 1 << i)
                    }
                    None => 1 << day(part)?,
                },
            };
        }
        Ok(Days(bits))
    }

    pub fn contains(self, date: Date) -> bool {
        let i = date.weekday().to_monday_zero_offset();
        self.0 & (1 << i) != 0
    }
}

/// What the schedule says at one instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InForce {
    /// The global limit to use; `None`: the schedule says nothing (the config's holds).
    pub rate_limit: Option<Option<u64>>,
    /// The worker count to use; `None`: the schedule says nothing.
    pub workers: Option<usize>,
    /// Everything is to be paused (and resumed when this turns false).
    pub paused: bool,
    /// When to ask again: the next start or end of any window. `None` with no entries.
    pub until: Option<Timestamp>,
    /// The names of the entries in force ("schedule" for one without), `None` when none is.
    pub label: Option<String>,
}

impl Schedule {
    /// What is in force at `now`, clocks read in `tz`. Where windows overlap, the first
    /// entry (file order) that sets a value gives it; any window with `pause_all` pauses.
    pub fn in_force(&self, now: Timestamp, tz: &TimeZone) -> InForce {
        let today = tz.to_datetime(now).date();
        let mut out = InForce::default();
        let mut labels: Vec<&str> = Vec::new();
        for entry in &self.0 {
            // Windows last at most a day and a DST hour, so only yesterday's and today's can
            // hold `now`; the next boundary is within the coming week.
            let days = std::iter::successors(today.yesterday().ok(), |d| d.tomorrow().ok()).take(9);
            let windows: Vec<(Timestamp, Timestamp)> = days.filter_map(|d| entry.window(d, tz)).collect();
            for &(start, end) in &windows {
                for boundary in [start, end] {
                    if boundary > now && out.until.is_none_or(|u| boundary < u) {
                        out.until = Some(boundary);
                    }
                }
            }
            if !windows.iter().any(|&(start, end)| start <= now && now < end) {
                continue;
            }
            labels.push(entry.name.as_deref().unwrap_or("schedule"));
            out.rate_limit = out.rate_limit.or(entry.rate_limit);
            out.workers = out.workers.or(entry.workers);
            out.paused |= entry.pause_all;
        }
        labels.dedup();
        out.label = (!labels.is_empty()).then(|| labels.join(", "));
        out
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ScheduleEntry {
    /// The window starting on `date`, as instants; `None` when `days` leaves the day out or
    /// the DST change leaves it empty (a window inside the skipped hour).
    fn window(&self, date: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        if !self.days.contains(date) {
            return None;
        }
        let end_date = if self.to <= self.from { date.tomorrow().ok()? } else { date };
        let start = first_reached(tz, self.from.on(date)?)?;
        let end = first_reached(tz, self.to.on(end_date)?)?;
        (start < end).then_some((start, end))
    }
}

/// The first instant the clocks of `tz` show `at` or later: in a skipped hour the moment of
/// the jump, in a repeated hour the first pass.
fn first_reached(tz: &TimeZone, at: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(at);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => ambiguous.compatible().ok(),
        AmbiguousOffset::Fold { .. } => ambiguous.earlier().ok(),
        AmbiguousOffset::Gap { .. } => {
            let before_jump = ambiguous.earlier().ok()?;
            tz.following(before_jump).next().map(|t| t.timestamp())
        }
    }
}

impl InForce {
    /// The TUI header's words: "limit 512K until 17:00 · schedule", or `None` when nothing is
    /// in force. `until` is a time today, or a weekday and time further off.
    pub fn describe(&self, now: Timestamp, tz: &TimeZone) -> Option<String> {
        let label = self.label.as_ref()?;
        let mut parts = Vec::new();
        if self.paused {
            parts.push("paused".to_string());
        }
        match self.rate_limit {
            Some(Some(rate)) => parts.push(format!("limit {}", crate::format::size_spec(rate))),
            Some(None) => parts.push("no limit".to_string()),
            None => {}
        }
        if let Some(n) = self.workers {
            parts.push(format!("{n} {}", if n == 1 { "worker" } else { "workers" }));
        }
        let mut text = parts.join(", ");
        if let Some(until) = self.until {
            let (then, today) = (tz.to_datetime(until), tz.to_datetime(now).date());
            let clock = format!("{:02}:{:02}", then.hour(), then.minute());
            if then.date() == today {
                text.push_str(&format!(" until {clock}"));
            } else {
                let day = Days::NAMES[usize::try_from(then.weekday().to_monday_zero_offset()).unwrap_or(0)];
                text.push_str(&format!(" until {day} {clock}"));
            }
        }
        Some(format!("{text} · {label}"))
    }
}

/// The session's side of a schedule: which changes to send the engine, and when to ask
/// again. It remembers what it last set, so a tick that changes nothing sends nothing, and
/// where no window says otherwise it goes back to the configured values. A value set by
/// hand holds until the schedule's next boundary, then the schedule takes over again.
#[derive(Debug, Clone, PartialEq)]
pub struct Timetable {
    base_rate: Option<u64>,
    base_workers: usize,
    rate: Option<u64>,
    workers: usize,
    paused: bool,
    rate_held_until: Option<Held>,
    workers_held_until: Option<Held>,
}

/// How long a value set by hand holds: until an instant, or for good when no schedule
/// boundary is coming.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Held {
    Until(Timestamp),
    Forever,
}

/// What to send the engine after a tick; `None` fields: nothing to change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    /// `Command::SetRateLimit` with this value.
    pub rate_limit: Option<Option<u64>>,
    /// `Command::SetWorkers` with this value.
    pub workers: Option<usize>,
    /// A window with `pause_all` began: pause everything.
    pub pause_all: bool,
    /// That window ended: resume what it paused.
    pub resume_all: bool,
    /// Tick again then (and on a coarse timer too, so a suspend or a clock change is noticed).
    pub next: Option<Timestamp>,
}

impl Timetable {
    /// Starts from the configured global limit and worker count, which the engine runs with.
    pub fn new(base_rate: Option<u64>, base_workers: usize) -> Timetable {
        Timetable {
            base_rate,
            base_workers,
            rate: base_rate,
            workers: base_workers,
            paused: false,
            rate_held_until: None,
            workers_held_until: None,
        }
    }

    /// What to change at `now`. Safe to call at any moment: it only reports differences.
    pub fn tick(&mut self, schedule: &Schedule, now: Timestamp, tz: &TimeZone) -> Changes {
        let f = schedule.in_force(now, tz);
        let mut changes = Changes { next: f.until, ..Changes::default() };
        if !holds(&mut self.rate_held_until, now) {
            let rate = f.rate_limit.unwrap_or(self.base_rate);
            if rate != self.rate {
                self.rate = rate;
                changes.rate_limit = Some(rate);
            }
        }
        if !holds(&mut self.workers_held_until, now) {
            let workers = f.workers.unwrap_or(self.base_workers);
            if workers != self.workers {
                self.workers = workers;
                changes.workers = Some(workers);
            }
        }
        changes.pause_all = f.paused && !self.paused;
        changes.resume_all = !f.paused && self.paused;
        self.paused = f.paused;
        changes
    }

    /// The global limit was set by hand: it holds until the schedule's next boundary.
    pub fn rate_set_by_hand(
        &mut self,
        rate: Option<u64>,
        schedule: &Schedule,
        now: Timestamp,
        tz: &TimeZone,
    ) {
        self.rate = rate;
        self.rate_held_until = Some(schedule.in_force(now, tz).until.map_or(Held::Forever, Held::Until));
    }

    /// The worker count was set by hand: it holds until the schedule's next boundary.
    pub fn workers_set_by_hand(
        &mut self,
        workers: usize,
        schedule: &Schedule,
        now: Timestamp,
        tz: &TimeZone,
    ) {
        self.workers = workers;
        self.workers_held_until = Some(schedule.in_force(now, tz).until.map_or(Held::Forever, Held::Until));
    }
}

/// Whether a value set by hand still holds at `now`; forgets it once it has run out.
fn holds(held: &mut Option<Held>, now: Timestamp) -> bool {
    match *held {
        Some(Held::Forever) => true,
        Some(Held::Until(at)) if now < at => true,
        _ => {
            *held = None;
            false
        }
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

fn de_days<'de, D: Deserializer<'de>>(d: D) -> Result<Days, D::Error> {
    Days::parse(&text(d)?).map_err(de::Error::custom)
}

fn de_from<'de, D: Deserializer<'de>>(d: D) -> Result<Clock, D::Error> {
    Clock::parse(&text(d)?, false).map_err(de::Error::custom)
}

fn de_to<'de, D: Deserializer<'de>>(d: D) -> Result<Clock, D::Error> {
    Clock::parse(&text(d)?, true).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        schedule: Schedule,
    }

    fn schedule(text: &str) -> Schedule {
        toml::from_str::<File>(text).unwrap().schedule
    }

    fn error(text: &str) -> String {
        toml::from_str::<File>(text).err().unwrap().message().to_string()
    }

    /// Europe/Berlin's rules as a POSIX TZ string: the same changes as the tz database
    /// (last Sunday of March 02:00 → 03:00, last Sunday of October 03:00 → 02:00), without
    /// depending on the machine's zoneinfo files.
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn utc(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A local Berlin time that is not ambiguous.
    fn local(text: &str) -> Timestamp {
        berlin().to_timestamp(text.parse::<DateTime>().unwrap()).unwrap()
    }

    const OFFICE: &str =
        "[[schedule]]\ndays = \"mon-fri\"\nfrom = \"09:00\"\nto = \"17:00\"\nrate_limit = \"512K\"\n";

    #[test]
    fn a_weekday_window_and_what_is_in_force_until_when() {
        let s = schedule(OFFICE);
        let tz = berlin();
        // Wednesday 25 November 2026.
        let now = local("2026-11-25T10:00");
        let f = s.in_force(now, &tz);
        assert_eq!((f.rate_limit, f.workers, f.paused), (Some(Some(512 << 10)), None, false));
        assert_eq!(f.until, Some(local("2026-11-25T17:00")));
        assert_eq!(f.describe(now, &tz).as_deref(), Some("limit 512K until 17:00 · schedule"));
        let evening = s.in_force(local("2026-11-25T17:00"), &tz);
        assert_eq!((evening.rate_limit, evening.label.as_deref()), (None, None), "the end is not inside");
        assert_eq!(evening.until, Some(local("2026-11-26T09:00")));
        let saturday = s.in_force(local("2026-11-28T12:00"), &tz);
        assert_eq!((saturday.rate_limit, saturday.until), (None, Some(local("2026-11-30T09:00"))));
        assert_eq!(saturday.describe(local("2026-11-28T12:00"), &tz), None);
        assert_eq!(Schedule::default().in_force(now, &tz), InForce::default());
    }

    #[test]
    fn a_window_past_midnight_belongs_to_the_day_it_starts() {
        let s = schedule(
            "[[schedule]]\nname = \"night\"\ndays = \"fri\"\nfrom = \"23:00\"\nto = \"07:00\"\nworkers = 8\n",
        );
        let tz = berlin();
        // Friday 27 November 2026, then the Saturday morning.
        let f = s.in_force(local("2026-11-28T03:00"), &tz);
        assert_eq!((f.workers, f.label.as_deref()), (Some(8), Some("night")));
        assert_eq!(
            f.describe(local("2026-11-28T03:00"), &tz).as_deref(),
            Some("8 workers until 07:00 · night")
        );
        assert_eq!(s.in_force(local("2026-11-28T23:30"), &tz).workers, None, "Saturday is not in `days`");
        let before = s.in_force(local("2026-11-27T22:00"), &tz);
        assert_eq!((before.workers, before.until), (None, Some(local("2026-11-27T23:00"))));
        let thursday = s.in_force(local("2026-11-26T22:00"), &tz);
        assert_eq!(thursday.describe(local("2026-11-26T22:00"), &tz), None);
        assert_eq!(thursday.until, Some(local("2026-11-27T23:00")));
    }

    #[test]
    fn spring_forward_night_window_lasts_one_real_hour() {
        // 29 March 2026: at 01:00 UTC Berlin's clocks go from 02:00 to 03:00.
        let s = schedule("[[schedule]]\nfrom = \"01:00\"\nto = \"03:00\"\nworkers = 2\n");
        let tz = berlin();
        assert_eq!(s.in_force(utc("2026-03-28T23:59:59Z"), &tz).workers, None);
        let inside = s.in_force(utc("2026-03-29T00:30:00Z"), &tz);
        assert_eq!((inside.workers, inside.until), (Some(2), Some(utc("2026-03-29T01:00:00Z"))));
        assert_eq!(s.in_force(utc("2026-03-29T01:00:00Z"), &tz).workers, None, "03:00 summer time");
    }

    #[test]
    fn a_window_ending_in_the_skipped_hour_ends_at_the_jump() {
        let s = schedule("[[schedule]]\nfrom = \"01:00\"\nto = \"02:30\"\nrate_limit = \"1M\"\n");
        let tz = berlin();
        let inside = s.in_force(utc("2026-03-29T00:59:00Z"), &tz);
        assert_eq!(inside.until, Some(utc("2026-03-29T01:00:00Z")), "02:30 never shows: 03:00 is the end");
        assert_eq!(s.in_force(utc("2026-03-29T01:15:00Z"), &tz).rate_limit, None);
        // On an ordinary night the same window runs its hour and a half.
        assert_eq!(s.in_force(local("2026-03-28T02:29"), &tz).rate_limit, Some(Some(1 << 20)));
        let s = schedule("[[schedule]]\nfrom = \"02:30\"\nto = \"04:00\"\npause_all = true\n");
        let at_jump = s.in_force(utc("2026-03-29T01:00:00Z"), &tz);
        assert!(at_jump.paused, "a start in the skipped hour is reached when the clocks jump");
        assert!(!s.in_force(utc("2026-03-29T00:59:59Z"), &tz).paused);
        assert_eq!(s.in_force(utc("2026-03-29T00:30:00Z"), &tz).until, Some(utc("2026-03-29T01:00:00Z")));
    }

    #[test]
    fn the_repeated_autumn_hour_counts_once() {
        // 25 October 2026: at 01:00 UTC Berlin's clocks go from 03:00 back to 02:00, so
        // 02:00–03:00 is shown twice: 00:00–01:00 UTC (summer) and 01:00–02:00 UTC (winter).
        let s = schedule("[[schedule]]\nfrom = \"02:00\"\nto = \"02:30\"\nworkers = 1\n");
        let tz = berlin();
        let first = s.in_force(utc("2026-10-25T00:10:00Z"), &tz);
        assert_eq!((first.workers, first.until), (Some(1), Some(utc("2026-10-25T00:30:00Z"))));
        assert_eq!(s.in_force(utc("2026-10-25T01:10:00Z"), &tz).workers, None, "the second 02:10");
        // A window across the change runs by the clock: 01:00 summer to 03:00 winter.
        let s = schedule("[[schedule]]\nfrom = \"01:00\"\nto = \"03:00\"\nworkers = 3\n");
        assert_eq!(s.in_force(utc("2026-10-24T23:00:00Z"), &tz).workers, Some(3));
        let late = s.in_force(utc("2026-10-25T01:59:00Z"), &tz);
        assert_eq!((late.workers, late.until), (Some(3), Some(utc("2026-10-25T02:00:00Z"))));
    }

    #[test]
    fn overlapping_windows_first_entry_gives_each_value_and_any_pauses() {
        let s = schedule(
            "[[schedule]]\nname = \"day\"\nfrom = \"08:00\"\nto = \"20:00\"\nrate_limit = \"2M\"\n\
             [[schedule]]\nname = \"backup\"\nfrom = \"12:00\"\nto = \"13:00\"\nrate_limit = \"unlimited\"\nworkers = 1\npause_all = true\n",
        );
        let tz = berlin();
        let f = s.in_force(local("2026-11-25T12:30"), &tz);
        assert_eq!((f.rate_limit, f.workers, f.paused), (Some(Some(2 << 20)), Some(1), true));
        assert_eq!((f.label.as_deref(), f.until), (Some("day, backup"), Some(local("2026-11-25T13:00"))));
        assert_eq!(
            f.describe(local("2026-11-25T12:30"), &tz).as_deref(),
            Some("paused, limit 2M, 1 worker until 13:00 · day, backup")
        );
        let whole_day = schedule("[[schedule]]\ndays = \"sat,sun\"\nrate_limit = \"unlimited\"\n");
        let f = whole_day.in_force(local("2026-11-28T00:00"), &tz);
        assert_eq!((f.rate_limit, f.until), (Some(None), Some(local("2026-11-29T00:00"))));
        assert_eq!(
            f.describe(local("2026-11-28T00:00"), &tz).as_deref(),
            Some("no limit until sun 00:00 · schedule")
        );
    }

    #[test]
    fn days_are_read_in_every_usual_form() {
        let monday_zero = |days: Days| (0..7).filter(|i| days.0 & (1 << i) != 0).collect::<Vec<u8>>();
        assert_eq!(monday_zero(Days::parse("mon-fri").unwrap()), [0, 1, 2, 3, 4]);
        assert_eq!(monday_zero(Days::parse("Fri-Mon").unwrap()), [0, 4, 5, 6], "a range wraps past Sunday");
        assert_eq!(monday_zero(Days::parse("saturday, sun").unwrap()), [5, 6]);
        assert_eq!(Days::parse("weekdays").unwrap(), Days::parse("mon-fri").unwrap());
        assert_eq!(Days::parse("weekends").unwrap(), Days::parse("sat-sun").unwrap());
        assert_eq!(Days::parse("daily").unwrap(), Days::ALL);
        assert_eq!(monday_zero(Days::parse("wed-wed").unwrap()), [2]);
    }

    #[test]
    fn mistakes_are_refused_with_what_was_expected() {
        assert!(
            error("[[schedule]]\nfrom = \"09:00\"\nto = \"09:00\"\nworkers = 2")
                .contains("from 09:00 to 09:00 is empty")
        );
        assert!(
            error("[[schedule]]\nfrom = \"09:00\"")
                .contains("sets nothing: give it rate_limit, workers or pause_all")
        );
        assert!(
            error("[[schedule]]\nfrom = \"25:00\"\nworkers = 2")
                .contains("expected a time of day such as \"09:00\"")
        );
        assert!(error("[[schedule]]\nfrom = \"9am\"\nworkers = 2").contains("found \"9am\""));
        assert!(error("[[schedule]]\nfrom = \"9:0\"\nworkers = 2").contains("expected a time of day"));
        assert!(error("[[schedule]]\nfrom = \"24:00\"\nworkers = 2").contains("24:00 is the end of a day"));
        assert!(error("[[schedule]]\ndays = \"mon-fry\"\nworkers = 2").contains("`fry` is not a day"));
        assert!(error("[[schedule]]\ndays = \"mon,\"\nworkers = 2").contains("empty part"));
        assert!(error("[[schedule]]\nworkers = 0").contains("from 1 to 64"));
        assert!(error("[[schedule]]\nworker = 2").contains("unknown field `worker`"));
        assert_eq!(
            schedule("[[schedule]]\nfrom = \"7:30\"\nto = \"24:00\"\nworkers = 2").0[0].from,
            Clock(450)
        );
    }

    #[test]
    fn the_timetable_sends_changes_at_boundaries_and_goes_back_to_the_config() {
        let s = schedule(&format!(
            "{OFFICE}[[schedule]]\nfrom = \"12:00\"\nto = \"13:00\"\npause_all = true\nworkers = 2\n"
        ));
        let tz = berlin();
        let mut t = Timetable::new(None, 4);
        let early = t.tick(&s, local("2026-11-25T08:00"), &tz);
        assert_eq!(
            early,
            Changes { next: Some(local("2026-11-25T09:00")), ..Changes::default() },
            "nothing to change yet"
        );
        let nine = t.tick(&s, local("2026-11-25T09:00"), &tz);
        assert_eq!(
            (nine.rate_limit, nine.workers, nine.next),
            (Some(Some(512 << 10)), None, Some(local("2026-11-25T12:00")))
        );
        assert_eq!(t.tick(&s, local("2026-11-25T09:30"), &tz).rate_limit, None, "sent once");
        let noon = t.tick(&s, local("2026-11-25T12:00"), &tz);
        assert_eq!((noon.workers, noon.pause_all, noon.resume_all), (Some(2), true, false));
        let one = t.tick(&s, local("2026-11-25T13:00"), &tz);
        assert_eq!(
            (one.workers, one.pause_all, one.resume_all),
            (Some(4), false, true),
            "back to the config's"
        );
        let five = t.tick(&s, local("2026-11-25T17:00"), &tz);
        assert_eq!(five.rate_limit, Some(None), "the configured limit: none");
    }

    #[test]
    fn a_value_set_by_hand_holds_until_the_next_boundary() {
        let s = schedule(OFFICE);
        let tz = berlin();
        let mut t = Timetable::new(Some(4 << 20), 4);
        assert_eq!(t.tick(&s, local("2026-11-25T10:00"), &tz).rate_limit, Some(Some(512 << 10)));
        t.rate_set_by_hand(Some(1 << 20), &s, local("2026-11-25T10:30"), &tz);
        assert_eq!(t.tick(&s, local("2026-11-25T16:59"), &tz).rate_limit, None, "the hand's value holds");
        assert_eq!(
            t.tick(&s, local("2026-11-25T17:00"), &tz).rate_limit,
            Some(Some(4 << 20)),
            "then the schedule"
        );
        assert_eq!(t.tick(&s, local("2026-11-26T09:00"), &tz).rate_limit, Some(Some(512 << 10)));
        // With no schedule at all, a value set by hand is simply the value.
        let none = Schedule::default();
        let mut t = Timetable::new(None, 4);
        t.workers_set_by_hand(9, &none, local("2026-11-25T10:00"), &tz);
        assert_eq!(t.tick(&none, local("2026-12-25T10:00"), &tz), Changes::default());
    }
}
