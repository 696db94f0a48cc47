//! The words the autopilot gives for a download's connection count: the last change, as the
//! details pane and `dlm ls --json` show it ("4 conns — +1 gave +22 %"). Plain data; no I/O.

use std::fmt;

/// Why the connection count is what it is: the last change, in words a person reads in the
/// details pane and `dlm ls --json`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A fixed count given by hand (`-x N`, `x`/`X`).
    Manual { count: usize },
    /// Auto began with one connection.
    Starting,
    /// One connection would take long enough that `count` are tried.
    Trying { count: usize },
    /// The last step helped: `added` connections gave `percent` more.
    Gained { count: usize, added: usize, percent: i64 },
    /// The last step did not help enough: holds at `count`.
    Held { count: usize, added: usize, percent: i64 },
    /// A step to `tried` connections gave `percent` more, far less than so many connections
    /// would: it went back to `count`, what the rate it got is worth (a link that carries that
    /// many connections' worth, not a server that limits each).
    GaveBack { count: usize, tried: usize, percent: i64 },
    /// One fast connection does it: the rest would take less than a probe could save.
    FastEnough { count: usize },
    /// The ceiling (auto's maximum or the host's cap) is reached.
    AtCeiling { count: usize, gained: Option<i64> },
    /// The server refused connection number `refused` (`what`: "503", "429", "a reset").
    HostLimit { limit: usize, refused: usize, what: String },
    /// A slow connection was stopped and another opened in its place.
    Replaced { conn: usize, ratio: f64 },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conns = |n: usize| if n == 1 { "1 conn".to_string() } else { format!("{n} conns") };
        match self {
            Self::Manual { count } => write!(f, "{} — set by hand", conns(*count)),
            Self::Starting => write!(f, "1 conn — measuring"),
            Self::Trying { count } => write!(f, "trying {count} conns — 1 would take a while"),
            Self::Gained { count, added, percent } => {
                write!(f, "{} — +{added} gave {percent:+} %", conns(*count))
            }
            Self::Held { count, added, percent } => {
                write!(f, "held at {count} — +{added} gave {percent:+} %")
            }
            Self::GaveBack { count, tried, percent } => {
                write!(f, "back to {count} — {tried} gave {percent:+} %")
            }
            Self::FastEnough { count } => write!(f, "{} — fast enough, more would not pay", conns(*count)),
            Self::AtCeiling { count, gained: Some(p) } => {
                write!(f, "{} (the most allowed) — last step gave {p:+} %", conns(*count))
            }
            Self::AtCeiling { count, gained: None } => write!(f, "{} (the most allowed)", conns(*count)),
            Self::HostLimit { limit, refused, what } => {
                write!(f, "host limit {limit} — {what} on the {}", ordinal(*refused))
            }
            Self::Replaced { conn, ratio } => write!(f, "replaced conn {conn} at {ratio:.1}× median"),
        }
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_details_pane_shows_them() {
        let r = |reason: Reason| reason.to_string();
        assert_eq!(r(Reason::Gained { count: 4, added: 1, percent: 22 }), "4 conns — +1 gave +22 %");
        assert_eq!(r(Reason::Held { count: 6, added: 1, percent: 2 }), "held at 6 — +1 gave +2 %");
        assert_eq!(r(Reason::GaveBack { count: 1, tried: 16, percent: 3 }), "back to 1 — 16 gave +3 %");
        assert_eq!(r(Reason::Manual { count: 1 }), "1 conn — set by hand");
        assert_eq!(
            r(Reason::HostLimit { limit: 1, refused: 2, what: "a reset".into() }),
            "host limit 1 — a reset on the 2nd"
        );
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
    }
}
