//! The config file: one struct read from TOML with a default for every field, the lookup order
//! (`--config PATH`, `$DLM_CONFIG`, the platform config folder) and errors that name the file,
//! line and column. Depends on the engine's option types, `format`'s parsers, the hook and
//! notification settings' types, and the key table
//! (`tui::keys`, pure data: which actions exist and how keys are written), never on the
//! terminal or a front end's model; command-line flags are applied on top by
//! `cli::DownloadArgs::apply`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::engine::{ConflictPolicy, EngineOptions, Program};
use crate::hooks::HookConfig;
use crate::notify::{NotifyMode, NotifyOn};
use crate::suggest::closest;
use crate::tui::keys::{KeyMap, KeysError};

pub mod glob;
pub mod rules;
pub mod schedule;
pub(crate) mod values;

pub use rules::{Matched, NetrcChoice, Rule, Rules};
pub use schedule::{Changes, InForce, Schedule, ScheduleEntry, Timetable};

pub use values::parse_connections;
use values::{
    de_connection_count, de_connections, de_duration, de_headers, de_opt_path, de_paths, de_per_host,
    de_proxy, de_rate, de_retries, de_workers,
};

/// Environment variable naming a config file; used when `--config` is not given.
pub const CONFIG_ENV: &str = "DLM_CONFIG";
/// File name inside the platform config folder.
pub const CONFIG_FILE_NAME: &str = "config.toml";
/// Config files larger than this are refused: a config is a few hundred bytes, and reading a
/// mistaken multi-gigabyte path into memory helps nobody.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Everything the config file can set. Missing keys take the defaults, which are
/// `EngineOptions::default()` so there is one source of truth; unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder downloads are saved in; `None` means the current folder. `~/` is expanded.
    #[serde(deserialize_with = "de_opt_path")]
    pub download_dir: Option<PathBuf>,
    /// Downloads running at once (1–64).
    #[serde(deserialize_with = "de_workers")]
    pub workers: usize,
    /// Connections per download: `"auto"` (the default: the autopilot starts with one and adds
    /// while it helps) or a fixed count (1–32), kept as `AUTO_CONNECTIONS` or the count.
    #[serde(deserialize_with = "de_connections")]
    pub connections: usize,
    /// Most connections auto opens for one download (1–32).
    #[serde(deserialize_with = "de_connection_count")]
    pub max_connections_auto: usize,
    /// Attempts after the first one for transient failures (0–1000).
    #[serde(deserialize_with = "de_retries")]
    pub retries: u32,
    /// First retry delay; doubles each attempt up to `retry_max_delay`.
    #[serde(deserialize_with = "de_duration")]
    pub retry_base_delay: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub retry_max_delay: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub connect_timeout: Duration,
    /// Stall timeout: an attempt fails when no byte arrives for this long.
    #[serde(deserialize_with = "de_duration")]
    pub read_timeout: Duration,
    /// Bytes per second for all downloads together; `None` is unlimited.
    #[serde(deserialize_with = "de_rate")]
    pub rate_limit: Option<u64>,
    /// Bytes per second for each download; `None` is unlimited.
    #[serde(deserialize_with = "de_rate")]
    pub item_rate_limit: Option<u64>,
    /// `None` means `dlm/VERSION`.
    pub user_agent: Option<String>,
    /// Extra request headers, name → value, sent with every request.
    #[serde(deserialize_with = "de_headers")]
    pub headers: BTreeMap<String, String>,
    /// Proxy URL for every request; `None` uses the `*_PROXY` environment variables.
    #[serde(deserialize_with = "de_proxy")]
    pub proxy: Option<String>,
    /// Accept any TLS certificate. Unsafe.
    pub insecure: bool,
    /// Extra PEM CA files trusted besides the system's. `~/` is expanded.
    #[serde(deserialize_with = "de_paths")]
    pub ca_files: Vec<PathBuf>,
    /// Connections open at once to one host, across all downloads (1–256).
    #[serde(deserialize_with = "de_per_host")]
    pub max_connections_per_host: usize,
    /// `rename`, `skip` or `overwrite` when the file name is already taken.
    pub on_conflict: ConflictPolicy,
    /// Continue `.part` files left by an earlier run and skip files already complete.
    pub continue_existing: bool,
    /// When no checksum is known for a download, look for one next to it: `URL.sha256`, then
    /// `SHA256SUMS` in the same folder (one or two extra requests per download).
    pub checksum_siblings: bool,
    /// Keep `user:password@` of URLs in the saved queue (owner-only file). Off: a restored
    /// item that needed them gets the server's 401 and is added again by hand.
    pub save_credentials: bool,
    /// A Netscape `cookies.txt` whose cookies go with every download (to their own domains
    /// and paths only). `~/` is expanded.
    #[serde(deserialize_with = "de_opt_path")]
    pub cookies_file: Option<PathBuf>,
    /// `.netrc` logins: `None` (or `true`) reads `$NETRC` or `~/.netrc`; `false` none; a path
    /// that file.
    #[serde(deserialize_with = "rules::de_netrc")]
    pub netrc: Option<NetrcChoice>,
    /// `[[rule]]` entries: settings by host, path and extension, first match wins.
    #[serde(rename = "rule")]
    pub rules: Rules,
    /// `[[schedule]]` entries: global limit, workers or a pause by weekday and time of day.
    #[serde(rename = "schedule")]
    pub schedule: Schedule,
    /// Key binding overrides, action name → key spec (`"ctrl+p"`, `"F5"`, `"x"`). Checked when
    /// the file is read, by the key table's own `KeyMap::with_overrides`.
    pub keys: BTreeMap<String, String>,
    // Expired links, hooks and notifications. Programs are argv arrays (never a shell), checked
    // by `Program`'s own deserializer: not empty, a program name that is not blank.
    /// Prints a fresh URL for an expired link (`DLM_URL` has the old one).
    pub refresh_command: Option<Program>,
    #[serde(deserialize_with = "de_duration")]
    pub refresh_timeout: Duration,
    /// Run when a download is done, when one failed, when the queue finished.
    pub on_complete: Option<Program>,
    pub on_error: Option<Program>,
    pub on_queue_done: Option<Program>,
    #[serde(deserialize_with = "de_duration")]
    pub hook_timeout: Duration,
    /// Terminal notifications: `auto`, `off` or `always`; and for what.
    pub notify: NotifyMode,
    pub notify_on: NotifyOn,
}

impl Default for Config {
    fn default() -> Self {
        let o = EngineOptions::default();
        Self {
            download_dir: None,
            workers: o.workers,
            connections: o.connections,
            max_connections_auto: o.max_connections_auto,
            retries: o.retries,
            retry_base_delay: o.retry_base_delay,
            retry_max_delay: o.retry_max_delay,
            connect_timeout: o.connect_timeout,
            read_timeout: o.read_timeout,
            rate_limit: o.rate_limit,
            item_rate_limit: o.item_rate_limit,
            user_agent: None,
            headers: BTreeMap::new(),
            proxy: o.proxy,
            insecure: o.insecure,
            ca_files: o.ca_files,
            max_connections_per_host: o.max_connections_per_host,
            on_conflict: o.on_conflict,
            continue_existing: o.continue_existing,
            checksum_siblings: o.checksum_siblings,
            save_credentials: false,
            cookies_file: None,
            netrc: None,
            rules: Rules::default(),
            schedule: Schedule::default(),
            keys: BTreeMap::new(),
            refresh_command: None,
            refresh_timeout: o.refresh_timeout,
            on_complete: None,
            on_error: None,
            on_queue_done: None,
            hook_timeout: HookConfig::default().timeout,
            notify: NotifyMode::default(),
            notify_on: NotifyOn::default(),
        }
    }
}

impl Config {
    /// Parses config text. `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        // TOML forbids control characters outside comments too, but the parser's complaint
        // about them ("key with no value") hides that the file is not text at all.
        if let Some(at) = text.find(|c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            let (line, column) = line_col(text.as_bytes(), at);
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message:
                    "this is not a text file: it contains control characters (a config file is TOML text)"
                        .into(),
                source_line: None,
            });
        }
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text, path))?;
        // `[keys]` is checked here, with the rest of the file, so a mistake stops `dlm get` and
        // `dlm ls` too instead of passing silently until the UI opens.
        KeyMap::with_overrides(&config.keys).map_err(|e| ConfigError::from_keys(&e, text, path))?;
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let read_err = |reason: String| ConfigError::Read { path: path.to_path_buf(), reason };
        let meta = std::fs::metadata(path).map_err(|e| read_err(e.to_string()))?;
        if !meta.is_file() {
            return Err(read_err("not a regular file".into()));
        }
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(read_err(format!("{} bytes is too large for a config file", meta.len())));
        }
        let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let (line, column) = line_col(&bytes, e.valid_up_to());
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: "this is not a text file: invalid UTF-8 (a config file is TOML text)".into(),
                source_line: None,
            }
        })?;
        Config::parse(text, path)
    }

    /// The engine settings this config describes; the command-line flags go on top.
    pub fn engine_options(&self) -> EngineOptions {
        let mut o = EngineOptions::default();
        if let Some(dir) = &self.download_dir {
            o.download_dir = dir.clone();
        }
        o.workers = self.workers;
        o.connections = self.connections;
        o.max_connections_auto = self.max_connections_auto;
        o.retries = self.retries;
        o.retry_base_delay = self.retry_base_delay;
        o.retry_max_delay = self.retry_max_delay;
        o.connect_timeout = self.connect_timeout;
        o.read_timeout = self.read_timeout;
        o.rate_limit = self.rate_limit;
        o.item_rate_limit = self.item_rate_limit;
        if let Some(ua) = &self.user_agent {
            o.user_agent = ua.clone();
        }
        o.headers = self.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        o.proxy = self.proxy.clone();
        o.insecure = self.insecure;
        o.ca_files = self.ca_files.clone();
        o.max_connections_per_host = self.max_connections_per_host;
        o.on_conflict = self.on_conflict;
        o.continue_existing = self.continue_existing;
        o.refresh_command = self.refresh_command.clone().map(std::sync::Arc::new);
        o.refresh_timeout = self.refresh_timeout;
        o.checksum_siblings = self.checksum_siblings;
        o
    }

    /// The hooks and notification settings, as a front end takes them.
    pub fn actions_config(&self) -> crate::actions::ActionsConfig {
        crate::actions::ActionsConfig {
            hooks: self.hook_config(),
            notify: self.notify,
            notify_on: self.notify_on,
        }
    }

    /// The hooks this config sets.
    pub fn hook_config(&self) -> HookConfig {
        HookConfig {
            on_complete: self.on_complete.clone(),
            on_error: self.on_error.clone(),
            on_queue_done: self.on_queue_done.clone(),
            timeout: self.hook_timeout,
        }
    }
}

/// Where the config file in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config PATH`.
    Flag(PathBuf),
    /// `$DLM_CONFIG`.
    Env(PathBuf),
    /// The platform config folder (`~/.config/dlm/config.toml` on Linux).
    Platform(PathBuf),
}

impl ConfigSource {
    pub fn path(&self) -> &Path {
        match self {
            Self::Flag(p) | Self::Env(p) | Self::Platform(p) => p,
        }
    }
}

/// The config file to read, by the lookup order. A path the person named (flag or
/// environment) must exist; the platform file is optional. `env` and `platform` are passed
/// in so tests do not depend on the real environment.
pub fn locate(flag: Option<&Path>, env: Option<OsString>, platform: Option<PathBuf>) -> Option<ConfigSource> {
    if let Some(path) = flag {
        return Some(ConfigSource::Flag(path.to_path_buf()));
    }
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        return Some(ConfigSource::Env(PathBuf::from(path)));
    }
    platform.filter(|p| p.exists()).map(ConfigSource::Platform)
}

/// `~/.config/dlm/config.toml` on Linux (XDG), the equivalents elsewhere.
pub fn platform_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "dlm").map(|d| d.config_dir().join(CONFIG_FILE_NAME))
}

/// Finds and reads the config by the lookup order; no file means the defaults.
pub fn load(flag: Option<&Path>) -> Result<(Config, Option<ConfigSource>), ConfigError> {
    match locate(flag, std::env::var_os(CONFIG_ENV), platform_config_path()) {
        None => Ok((Config::default(), None)),
        Some(source) => {
            let config = Config::read(source.path()).map_err(|e| match (e, &source) {
                (ConfigError::Read { path, reason }, ConfigSource::Env(_)) => {
                    ConfigError::Read { path, reason: format!("{reason} (named by ${CONFIG_ENV})") }
                }
                (e, _) => e,
            })?;
            Ok((config, Some(source)))
        }
    }
}

/// Why a config file could not be used. Displays as `PATH:LINE:COLUMN: what was expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        reason: String,
    },
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// The offending line, shown under the message.
        source_line: Option<String>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, reason } => write!(f, "cannot read config file {}: {reason}", path.display()),
            Self::Invalid { path, line, column, message, source_line } => {
                write!(f, "config file {}:{line}:{column}: {message}", path.display())?;
                if let Some(text) = source_line {
                    let pad = " ".repeat(column.saturating_sub(1));
                    write!(f, "\n    {text}\n    {pad}^")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error at byte `offset` of `text`, with the line shown under the message.
    fn at(text: &str, path: &Path, offset: usize, message: impl FnOnce(Option<&str>) -> String) -> Self {
        let (line, column) = line_col(text.as_bytes(), offset);
        let source_line = text.lines().nth(line - 1).map(|l| l.chars().take(200).collect::<String>());
        // Tabs would shift the caret; show them as one space.
        let source_line = source_line.map(|l| l.replace('\t', " "));
        let message = message(source_line.as_deref());
        Self::Invalid { path: path.to_path_buf(), line, column, message, source_line }
    }

    fn from_toml(e: &toml::de::Error, text: &str, path: &Path) -> Self {
        let raw = e.message().trim();
        Self::at(text, path, e.span().map_or(0, |s| s.start), |line| match unknown_field(raw) {
            Some((field, expected)) => match closest(field, &expected) {
                Some(best) => format!("unknown key `{field}`; did you mean `{best}`?"),
                None => format!("unknown key `{field}`; valid keys are {}", expected.join(", ")),
            },
            None => match key_at(line) {
                Some(key) => format!("`{key}`: {raw}"),
                None => raw.to_string(),
            },
        })
    }

    /// A `[keys]` mistake, pointing at the value of the entry it is about.
    fn from_keys(e: &KeysError, text: &str, path: &Path) -> Self {
        #[derive(Deserialize)]
        struct Spans {
            #[serde(default)]
            keys: BTreeMap<String, toml::Spanned<toml::Value>>,
        }
        let offset = toml::from_str::<Spans>(text)
            .ok()
            .and_then(|s| s.keys.get(&e.action).map(|v| v.span().start))
            .unwrap_or(0);
        Self::at(text, path, offset, |_| e.to_string())
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// The key of the `key = value` line an error points at, so the message can name it.
fn key_at(line: Option<&str>) -> Option<String> {
    let (key, _) = line?.split_once('=')?;
    let key = key.trim().trim_matches('"');
    let plain = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "_-.\" ".contains(c));
    plain.then(|| key.to_string())
}

/// Picks apart serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((field, expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::AUTO_CONNECTIONS;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(Config::default().engine_options(), EngineOptions::default());
    }

    #[test]
    fn values_reach_the_engine_options() {
        let c = parse(
            "workers = 8\nconnections = 4\nretry_base_delay = \"1s\"\nconnect_timeout = 3\n\
             read_timeout = 0.5\nrate_limit = \"2M\"\nitem_rate_limit = 1000\non_conflict = \"skip\"\n\
             download_dir = \"~/dl\"\n[headers]\nX-Token = \"abc\"\n[keys]\npause = \"ctrl+p\"\n",
        )
        .unwrap();
        let o = c.engine_options();
        assert_eq!(o.workers, 8);
        assert_eq!(o.connections, 4);
        assert_eq!(o.retry_base_delay, Duration::from_secs(1));
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert_eq!(o.read_timeout, Duration::from_millis(500));
        assert_eq!(o.rate_limit, Some(2 << 20));
        assert_eq!(o.item_rate_limit, Some(1000));
        assert_eq!(o.on_conflict, ConflictPolicy::Skip);
        assert_eq!(o.headers, vec![("X-Token".into(), "abc".into())]);
        assert!(o.download_dir.ends_with("dl") && o.download_dir.is_absolute());
        assert_eq!(c.keys.get("pause").map(String::as_str), Some("ctrl+p"));
    }

    #[test]
    fn errors_point_at_line_and_column_and_name_the_key() {
        let m = message("retries = 2\nworkers = \"many\"\n");
        assert!(m.starts_with("config file test.toml:2:11: `workers`:"), "{m}");
        assert!(m.contains("workers = \"many\"\n"), "{m}");
        let m = message("workers = 0\n");
        assert!(m.contains("expected a number of downloads from 1 to 64, found 0"), "{m}");
        let m = message("read_timeout = \"soon\"\n");
        assert!(m.contains("invalid duration"), "{m}");
    }

    #[test]
    fn unknown_keys_suggest_the_closest_name() {
        let m = message("\n  wrokers = 3\n");
        assert!(m.contains("test.toml:2:3: unknown key `wrokers`; did you mean `workers`?"), "{m}");
        assert!(message("conect_timeout = 3").contains("did you mean `connect_timeout`?"));
        assert!(message("rate-limit = \"1M\"").contains("did you mean `rate_limit`?"));
        let m = message("zzz = 1");
        assert!(m.contains("unknown key `zzz`; valid keys are download_dir, workers"), "{m}");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(message("on_conflict = \"ask\"").contains("unknown variant `ask`"));
        assert!(message("proxy = \"ftp://x\"").contains("proxy URL"));
        assert!(message("[headers]\n\"bad name\" = \"x\"").contains("not a valid header name"));
        assert!(message("rate_limit = \"fast\"").contains("invalid size"));
        assert!(message("download_dir = \"\"").contains("empty"));
        assert!(message("workers = 2.5").contains("expected a number of downloads from 1 to 64 (a whole"));
        assert!(message("retries = -1").contains("`retries`: expected a number of retries from 0 to 1000"));
        assert!(message("retries = 1\nretries = 2").contains("2:1: `retries`: duplicate key"));
        assert!(message("connections = \"many\"").contains("expected \"auto\" or a number of connections"));
        assert!(message("connections = 33").contains("expected \"auto\" or 1 to 32, found 33"));
        assert!(message("max_connections_auto = 0").contains("from 1 to 32"));
    }

    #[test]
    fn connections_are_auto_by_default_or_a_fixed_count() {
        assert_eq!(parse("").unwrap().engine_options().connections, AUTO_CONNECTIONS);
        assert_eq!(parse("connections = \"Auto\"").unwrap().connections, AUTO_CONNECTIONS);
        let fixed = parse("connections = 6\nmax_connections_auto = 12").unwrap().engine_options();
        assert_eq!((fixed.connections, fixed.max_connections_auto), (6, 12));
    }

    #[test]
    fn keys_are_checked_with_the_rest_of_the_file() {
        let m = message("workers = 2\n[keys]\npause = \"p spcae\"\n");
        let want = "config file test.toml:3:9: [keys] pause: unknown key \"spcae\"; did you mean `space`?";
        assert!(m.starts_with(want), "{m}");
        let m = message("keys = { pasue = \"x\" }");
        assert!(m.contains("1:18: [keys] pasue: `pasue` is not an action; did you mean `pause`?"), "{m}");
        assert!(
            message("[keys]\nquit = \"x\"\npause = \"x\"")
                .contains("2:8: [keys] quit: x is also given to pause")
        );
        assert!(parse("[keys]\npause = \"ctrl+p F5\"\n").is_ok());
    }

    #[test]
    fn decimal_rate_units_are_refused_naming_what_is_accepted() {
        let m = message("rate_limit = \"2 MB\"");
        assert!(m.contains("1:14: `rate_limit`: size unit \"MB\" in \"2 MB\" is ambiguous"), "{m}");
        assert!(m.contains("K, M or G (1024-based; KiB, MiB, GiB also work)"), "{m}");
        assert_eq!(parse("rate_limit = \"2MiB\"").unwrap().rate_limit, Some(2 << 20));
        assert_eq!(parse("item_rate_limit = \"512K\"").unwrap().item_rate_limit, Some(512 << 10));
    }

    #[test]
    fn lookup_order() {
        let flag = PathBuf::from("/flag.toml");
        let env = Some(OsString::from("/env.toml"));
        let dir = tempfile::tempdir().unwrap();
        let platform = dir.path().join("config.toml");
        assert_eq!(
            locate(Some(&flag), env.clone(), Some(platform.clone())),
            Some(ConfigSource::Flag(flag.clone()))
        );
        assert_eq!(locate(None, env, Some(platform.clone())), Some(ConfigSource::Env("/env.toml".into())));
        assert_eq!(locate(None, Some(OsString::new()), Some(platform.clone())), None);
        std::fs::write(&platform, "").unwrap();
        assert_eq!(locate(None, None, Some(platform.clone())), Some(ConfigSource::Platform(platform)));
    }
}
