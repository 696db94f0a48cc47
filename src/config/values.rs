//! The value parsers behind the config file's keys: folders with `~/`, whole numbers in a
//! range, durations, rates, header tables and proxy URLs, each with an error that says what
//! was expected. Shared by the top-level keys (`config`) and the `[[rule]]` and `[[schedule]]`
//! entries (`rules`, `schedule`), so a value means the same everywhere. Depends on `format`'s
//! parsers and the engine's limits, never on a front end.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::engine::{AUTO_CONNECTIONS, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_HOST, MAX_WORKERS};
use crate::format::{parse_duration, parse_rate};

/// `~/x` → `$HOME/x`; other paths unchanged.
pub(crate) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), directories::BaseDirs::new()) {
        (Some(rest), Some(dirs)) => dirs.home_dir().join(rest),
        _ if path == "~" => {
            directories::BaseDirs::new().map_or_else(|| PathBuf::from(path), |d| d.home_dir().into())
        }
        _ => PathBuf::from(path),
    }
}

pub(crate) fn de_opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(de::Error::custom("expected a path, found an empty string"));
    }
    Ok(Some(expand_home(&text)))
}

pub(crate) fn de_paths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    Ok(Vec::<String>::deserialize(d)?.iter().map(|p| expand_home(p)).collect())
}

/// A whole number in `min..=max`, with an error that says the range in words.
pub(crate) fn ranged<'de, D: Deserializer<'de>>(
    d: D,
    min: usize,
    max: usize,
    what: &str,
) -> Result<usize, D::Error> {
    struct V<'a>(usize, usize, &'a str);
    impl Visitor<'_> for V<'_> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} from {} to {} (a whole number)", self.2, self.0, self.1)
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<usize, E> {
            usize::try_from(n).ok().filter(|n| (self.0..=self.1).contains(n)).ok_or_else(|| {
                E::custom(format!("expected {} from {} to {}, found {n}", self.2, self.0, self.1))
            })
        }
    }
    d.deserialize_i64(V(min, max, what))
}

/// Generous bound on retries: beyond this a download is not transient-failing, it is gone.
const MAX_RETRIES: usize = 1000;

pub(crate) fn de_retries<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    ranged(d, 0, MAX_RETRIES, "a number of retries").map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

pub(crate) fn de_workers<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    ranged(d, 1, MAX_WORKERS, "a number of downloads")
}

pub(crate) fn de_connection_count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    ranged(d, 1, MAX_CONNECTIONS, "a number of connections")
}

/// `"auto"` or a count of connections.
pub(crate) fn de_connections<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Word(String),
        Count(i64),
    }
    match Text::deserialize(d)? {
        Text::Word(word) => parse_connections(&word).map_err(de::Error::custom),
        Text::Count(n) => {
            usize::try_from(n).ok().filter(|n| (1..=MAX_CONNECTIONS).contains(n)).ok_or_else(|| {
                de::Error::custom(format!("expected \"auto\" or 1 to {MAX_CONNECTIONS}, found {n}"))
            })
        }
    }
}

/// `auto` (`AUTO_CONNECTIONS`) or a count of connections from 1 to `MAX_CONNECTIONS`: the
/// value of `connections` in the config and of `-x`.
pub fn parse_connections(text: &str) -> Result<usize, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("auto") {
        return Ok(AUTO_CONNECTIONS);
    }
    text.parse::<usize>().ok().filter(|n| (1..=MAX_CONNECTIONS).contains(n)).ok_or_else(|| {
        format!("expected \"auto\" or a number of connections from 1 to {MAX_CONNECTIONS}, found {text:?}")
    })
}

pub(crate) fn de_per_host<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    ranged(d, 1, MAX_CONNECTIONS_PER_HOST, "a number of connections")
}

/// Accepts `"30s"`-style strings or a number of seconds.
pub(crate) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"30s\", \"500ms\" or \"2m\", or a number of seconds")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v).map(Duration::from_secs).map_err(|_| E::custom("a duration cannot be negative"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            Duration::try_from_secs_f64(v).map_err(|_| E::custom(format!("invalid duration {v}")))
        }
    }
    d.deserialize_any(V)
}

/// Accepts sizes per second (`"2M"`, `"512K"`, a number of bytes), or `"unlimited"` / `0`.
pub(crate) fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes per second such as \"2M\" or \"512K\", or \"unlimited\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u64>, E> {
            parse_rate(v).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u64>, E> {
            u64::try_from(v).map(|n| (n > 0).then_some(n)).map_err(|_| E::custom("a rate cannot be negative"))
        }
    }
    d.deserialize_any(V)
}

pub(crate) fn de_headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let headers = BTreeMap::<String, String>::deserialize(d)?;
    for (name, value) in &headers {
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| de::Error::custom(format!("`{name}` is not a valid header name")))?;
        reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| de::Error::custom(format!("the value of header `{name}` has invalid characters")))?;
    }
    Ok(headers)
}

pub(crate) fn de_proxy<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    let ok = url::Url::parse(&text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") && u.has_host());
    if !ok {
        return Err(de::Error::custom(
            "expected a proxy URL starting with http://, https://, socks5:// or socks5h://",
        ));
    }
    Ok(Some(text))
}

// `Option` forms for entries where a key left out means "not set here" (a rule that does not
// change the connections) rather than the default value.

pub(crate) fn de_some_workers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    de_workers(d).map(Some)
}

pub(crate) fn de_some_connections<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    de_connections(d).map(Some)
}

pub(crate) fn de_some_per_host<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    de_per_host(d).map(Some)
}

/// `Some(None)` is an explicit "unlimited", which overrides a limit set elsewhere.
pub(crate) fn de_some_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    de_rate(d).map(Some)
}
