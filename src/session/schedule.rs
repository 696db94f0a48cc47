//! Driving the `[[schedule]]`: the session ticks a `Timetable` when it starts, at each window
//! boundary and on a coarse timer (a suspended laptop or a changed clock is noticed within
//! it), and turns its changes into engine commands. A pause window pauses what was active and
//! resumes only that at its end, so a download the person paused stays paused. Limits and
//! worker counts the front end sets go through `*_set_by_hand` (they hold until the next
//! boundary). The clock and time zone are given, so tests use a fixed clock. Depends on the
//! config's schedule, the engine's commands and `jiff`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::{Schedule, Timetable};
use crate::engine::{Command, ItemId, ItemSnapshot};

/// How often the schedule is looked at when no boundary comes sooner.
pub const TICK_EVERY: Duration = Duration::from_secs(60);

/// Where the session reads the time: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The clock and zone the schedule is read by, and how often it is looked at anyway.
#[derive(Clone)]
pub struct ScheduleClock {
    pub clock: Clock,
    pub tz: TimeZone,
    pub every: Duration,
}

impl Default for ScheduleClock {
    /// The system's clock and time zone, looked at every minute.
    fn default() -> Self {
        Self { clock: Arc::new(Timestamp::now), tz: TimeZone::system(), every: TICK_EVERY }
    }
}

impl std::fmt::Debug for ScheduleClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleClock")
            .field("tz", &self.tz)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// The schedule, the clock it is read by and what the session last did for it.
pub struct Driver {
    schedule: Schedule,
    table: Timetable,
    tz: TimeZone,
    clock: Clock,
    every: Duration,
    /// Items a pause window paused: resumed when it ends.
    paused: Option<BTreeSet<ItemId>>,
    /// The header's words for what is in force, as last said.
    text: Option<String>,
}

/// What one tick asks of the session.
#[derive(Debug, Default, PartialEq)]
pub struct Tick {
    pub commands: Vec<Command>,
    /// The header's words changed to this.
    pub text: Option<Option<String>>,
    /// When to tick again, however long a time it is.
    pub next: Option<Duration>,
}

impl Driver {
    /// `None` when there is no schedule: nothing to drive.
    pub fn new(
        schedule: Schedule,
        base_rate: Option<u64>,
        base_workers: usize,
        clock: ScheduleClock,
    ) -> Option<Driver> {
        (!schedule.is_empty()).then(|| Driver {
            schedule,
            table: Timetable::new(base_rate, base_workers),
            tz: clock.tz,
            clock: clock.clock,
            every: clock.every,
            paused: None,
            text: None,
        })
    }

    /// What to change now; `items` are the session's, so a pause window knows what it pauses.
    pub fn tick<'a>(&mut self, items: impl Iterator<Item = &'a ItemSnapshot>) -> Tick {
        let now = (self.clock)();
        let changes = self.table.tick(&self.schedule, now, &self.tz);
        let mut commands = Vec::new();
        if let Some(rate) = changes.rate_limit {
            commands.push(Command::SetRateLimit(rate));
        }
        if let Some(workers) = changes.workers {
            commands.push(Command::SetWorkers(workers));
        }
        if changes.pause_all {
            let active: BTreeSet<ItemId> = items
                .filter(|i| !i.state.is_terminal() && i.state != crate::engine::ItemState::Paused)
                .map(|i| i.id)
                .collect();
            commands.extend(active.iter().map(|&id| Command::Pause(id)));
            self.paused = Some(active);
        }
        if changes.resume_all {
            commands.extend(self.paused.take().unwrap_or_default().into_iter().map(Command::Resume));
        }
        let text = self.schedule.in_force(now, &self.tz).describe(now, &self.tz);
        let changed = (text != self.text).then(|| text.clone());
        self.text = text;
        let until_boundary = changes.next.map(|at| duration_between(now, at));
        let next = Some(until_boundary.map_or(self.every, |d| d.min(self.every)));
        Tick { commands, text: changed, next }
    }

    /// A new item while a pause window is in force is paused too, and resumed with the rest.
    pub fn added(&mut self, id: ItemId) -> Option<Command> {
        let paused = self.paused.as_mut()?;
        paused.insert(id);
        Some(Command::Pause(id))
    }

    /// The front end sent `command`: a limit or worker count set by hand holds until the
    /// schedule's next boundary; a resume by hand takes the item out of the pause window's.
    pub fn by_hand(&mut self, command: &Command) {
        let now = (self.clock)();
        match *command {
            Command::SetRateLimit(rate) => {
                self.table.rate_set_by_hand(rate.filter(|r| *r > 0), &self.schedule, now, &self.tz)
            }
            Command::SetWorkers(n) => self.table.workers_set_by_hand(n, &self.schedule, now, &self.tz),
            Command::Pause(id) => {
                // Paused by the person: not the window's to resume.
                if let Some(p) = self.paused.as_mut() {
                    p.remove(&id);
                }
            }
            _ => {}
        }
    }
}

/// `to - from` as a std duration; zero when `to` is past.
fn duration_between(from: Timestamp, to: Timestamp) -> Duration {
    let nanos = to.as_nanosecond().saturating_sub(from.as_nanosecond()).max(0);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;
    use crate::engine::{ItemLimits, ItemState};

    fn schedule(text: &str) -> Schedule {
        #[derive(serde::Deserialize)]
        struct File {
            schedule: Schedule,
        }
        toml::from_str::<File>(text).unwrap().schedule
    }

    /// A clock the test moves by hand, on Monday 2026-11-23 in UTC.
    fn clock_at(hhmm: &str) -> (ScheduleClock, Arc<Mutex<Timestamp>>) {
        let at = |s: &str| format!("2026-11-23T{s}:00Z").parse::<Timestamp>().unwrap();
        let now = Arc::new(Mutex::new(at(hhmm)));
        let read = Arc::clone(&now);
        let clock: Clock = Arc::new(move || *read.lock().unwrap());
        (ScheduleClock { clock, tz: TimeZone::UTC, every: TICK_EVERY }, now)
    }

    fn item(id: u64, state: ItemState) -> ItemSnapshot {
        let mut s = ItemSnapshot::new(
            ItemId(id),
            "http://h/f",
            PathBuf::from("/d"),
            ItemLimits { rate_limit: None, connections: 1 },
        );
        s.state = state;
        s
    }

    #[test]
    fn a_window_sets_the_limit_then_gives_the_configured_one_back() {
        let (clock, now) = clock_at("09:30");
        let s = schedule("[[schedule]]\nfrom = \"09:00\"\nto = \"17:00\"\nrate_limit = \"512K\"\n");
        let mut d = Driver::new(s, Some(1 << 20), 4, clock).unwrap();
        let t = d.tick(std::iter::empty());
        assert_eq!(t.commands, [Command::SetRateLimit(Some(512 << 10))]);
        assert_eq!(t.text, Some(Some("limit 512K until 17:00 · schedule".into())));
        assert_eq!(t.next, Some(TICK_EVERY), "the boundary is hours away: the coarse timer comes first");
        assert_eq!(
            d.tick(std::iter::empty()),
            Tick { next: Some(TICK_EVERY), ..Tick::default() },
            "nothing changed"
        );
        *now.lock().unwrap() = "2026-11-23T16:59:30Z".parse().unwrap();
        assert_eq!(d.tick(std::iter::empty()).next, Some(Duration::from_secs(30)));
        *now.lock().unwrap() = "2026-11-23T17:00:00Z".parse().unwrap();
        let t = d.tick(std::iter::empty());
        assert_eq!((t.commands, t.text), (vec![Command::SetRateLimit(Some(1 << 20))], Some(None)));
    }

    #[test]
    fn a_pause_window_resumes_only_what_it_paused() {
        let (clock, now) = clock_at("01:30");
        let s = schedule("[[schedule]]\nfrom = \"01:00\"\nto = \"02:00\"\npause_all = true\n");
        let mut d = Driver::new(s, None, 4, clock).unwrap();
        let items = [
            item(1, ItemState::Downloading),
            item(2, ItemState::Paused),
            item(3, ItemState::Queued),
            item(4, ItemState::Done),
        ];
        let t = d.tick(items.iter());
        assert_eq!(t.commands, [Command::Pause(ItemId(1)), Command::Pause(ItemId(3))]);
        assert_eq!(
            d.added(ItemId(5)),
            Some(Command::Pause(ItemId(5))),
            "added during the window: paused too"
        );
        d.by_hand(&Command::Pause(ItemId(3)));
        *now.lock().unwrap() = "2026-11-23T02:00:00Z".parse().unwrap();
        let t = d.tick(items.iter());
        assert_eq!(t.commands, [Command::Resume(ItemId(1)), Command::Resume(ItemId(5))]);
        assert_eq!(d.added(ItemId(6)), None);
    }

    #[test]
    fn a_limit_set_by_hand_holds_until_the_next_boundary() {
        let (clock, now) = clock_at("09:30");
        let s = schedule("[[schedule]]\nfrom = \"09:00\"\nto = \"17:00\"\nworkers = 2\n");
        let mut d = Driver::new(s, None, 4, clock).unwrap();
        assert_eq!(d.tick(std::iter::empty()).commands, [Command::SetWorkers(2)]);
        d.by_hand(&Command::SetWorkers(6));
        *now.lock().unwrap() = "2026-11-23T12:00:00Z".parse().unwrap();
        assert!(d.tick(std::iter::empty()).commands.is_empty(), "the hand's 6 holds inside the window");
        *now.lock().unwrap() = "2026-11-23T17:00:00Z".parse().unwrap();
        assert_eq!(d.tick(std::iter::empty()).commands, [Command::SetWorkers(4)]);
    }

    #[test]
    fn no_schedule_no_driver() {
        assert!(Driver::new(Schedule::default(), None, 4, ScheduleClock::default()).is_none());
    }
}
