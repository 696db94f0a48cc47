//! Command-line interface: `dlm [URL…]` opens the terminal UI, `dlm get URL…` downloads
//! without a screen. Parsing only; turning flags into engine options is `DownloadArgs::apply`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{NetrcChoice, parse_connections};
use crate::engine::{
    ChecksumSource, CookieJar, EngineOptions, ExpectedChecksum, ItemState, MAX_WORKERS, Netrc,
};
use crate::format::{parse_duration, parse_size};

#[derive(Debug, Parser)]
#[command(
    name = "dlm",
    version,
    about = "A fast terminal download manager",
    long_about = "A fast terminal download manager.\n\n\
        `dlm [URL…]` opens a live table of transfers: paste URLs into it, pause, resume, retry, \
        and change how many run at once with the keyboard (press ? inside for every key).\n\
        `dlm get URL…` downloads without a screen, for scripts.",
    after_help = "Examples:\n  dlm                                  open the terminal UI\n  \
        dlm get https://example.com/file.iso\n  dlm get -j 8 -o ~/Downloads -i urls.txt"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Commands>,
    /// URLs to add when the UI opens.
    pub urls: Vec<String>,
    /// Read settings from this TOML file instead of $DLM_CONFIG or the platform config file
    /// (~/.config/dlm/config.toml). Flags override the file. See config.example.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub download: DownloadArgs,
}

impl Cli {
    /// Refuses download options or URLs given before a command (`dlm -j 2 get URL`): they
    /// would be silently ignored. Only `--config` may come first. (clap's
    /// `args_conflicts_with_subcommands` did this, but it also counted the global `--config`,
    /// so `dlm --config FILE get URL` opened the UI with `get` as a URL.)
    pub fn check(&self) -> Result<(), String> {
        let Some(command) = &self.command else { return Ok(()) };
        if !self.urls.is_empty() || self.download != DownloadArgs::default() {
            let name = match command {
                Commands::Get(_) => "get",
                Commands::Add(_) => "add",
                Commands::Ls(_) => "ls",
                Commands::Completions(_) => "completions",
                Commands::Pause(_) => "pause",
                Commands::Resume(_) => "resume",
                Commands::Remove(_) => "remove",
                Commands::Retry(_) => "retry",
                Commands::Refresh(_) => "refresh",
            };
            return Err(format!("options and URLs go after the command: dlm {name} [OPTIONS] [URL…]"));
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Download URLs without a screen: progress on stderr, exit status 0 only if all succeed.
    #[command(
        after_help = "Exit status: 0 all downloads succeeded, 1 some failed, 2 bad usage, 130 interrupted.\n\n\
            Examples:\n  dlm get https://example.com/a.iso https://example.com/b.iso\n  \
            dlm get -j 8 -o downloads -i urls.txt\n  some-command | dlm get -q -i -"
    )]
    Get(Box<GetArgs>),
    /// Add URLs to the running dlm (they appear at once), or to the saved queue if none runs.
    #[command(
        after_help = "Without -o, a matching [[rule]]'s dir wins over the default folder; -o always wins.\n\n\
            Examples:\n  dlm add https://example.com/a.iso\n  dlm add -o ~/isos -i urls.txt\n  \
            dlm add --checksum sha256=HEX https://example.com/a.iso\n  \
            dlm add --checksum-file https://example.com/SHA256SUMS https://example.com/a.iso\n  \
            xclip -o | dlm add --curl -   (a browser's Copy as cURL; needs a running dlm)"
    )]
    Add(AddArgs),
    /// Print the queue of the running dlm (or the saved queue if none runs).
    #[command(
        after_help = "Examples:\n  dlm ls\n  dlm ls --state failed\n  dlm ls --state queued,paused --json"
    )]
    Ls(LsArgs),
    /// Pause items of the running dlm (or the saved queue) by the ids `dlm ls` prints.
    #[command(after_help = IDS_HELP)]
    Pause(IdsArgs),
    /// Resume paused items by id; they continue from their `.part`.
    #[command(after_help = IDS_HELP)]
    Resume(IdsArgs),
    /// Forget done, failed or cancelled items by id. Files stay on disk: the finished file,
    /// and the `.part` of a failed or cancelled item.
    #[command(after_help = IDS_HELP)]
    Remove(IdsArgs),
    /// Queue failed or cancelled items again by id; bytes already on disk are reused when the
    /// server allows.
    #[command(after_help = IDS_HELP)]
    Retry(IdsArgs),
    /// Give an item a new URL for the same file (a fresh signed link); it continues from its
    /// `.part` when the new URL serves the same version.
    #[command(after_help = "Example:\n  dlm refresh 3 'https://cdn.example.com/a.iso?sig=…'")]
    Refresh(RefreshArgs),
    /// Print a shell completion script to standard output.
    #[command(
        after_help = "Examples:\n  dlm completions bash > ~/.local/share/bash-completion/completions/dlm\n  \
        dlm completions zsh > ~/.zfunc/_dlm\n  dlm completions fish > ~/.config/fish/completions/dlm.fish"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `shell`, made from these very definitions, so it
/// completes every subcommand and option of this dlm.
pub fn completions(shell: clap_complete::Shell, out: &mut impl std::io::Write) {
    clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "dlm", out);
}

const IDS_HELP: &str = "Each id gets a line saying what became of it; the exit status is 1 if any \
    failed (no such item, or not in a state the command applies to). With no dlm running, the \
    saved queue is changed and the next dlm to open sees it.\n\nExample:\n  dlm pause 3 7";

#[derive(Debug, Args)]
pub struct IdsArgs {
    /// Item ids, as the ID column of `dlm ls` shows them.
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    pub ids: Vec<u64>,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The item's id, as `dlm ls` shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: u64,
    /// The new URL.
    pub url: String,
}

/// An item id: `3`, or `#3` as the TUI shows it.
fn parse_id(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix('#').unwrap_or(text);
    match digits.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!("{text:?} is not an item id (the ID column of dlm ls, e.g. 3)")),
    }
}

/// One of the seven state names, as `dlm ls` prints them.
pub fn parse_state(text: &str) -> Result<ItemState, String> {
    const ALL: [ItemState; 7] = [
        ItemState::Queued,
        ItemState::Connecting,
        ItemState::Downloading,
        ItemState::Paused,
        ItemState::Done,
        ItemState::Failed,
        ItemState::Cancelled,
    ];
    let text = text.trim();
    ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown state {text:?}; the states are {}", names.join(", "))
    })
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// URLs to add.
    pub urls: Vec<String>,
    /// Read URLs from FILE, one per line (`-` for standard input); a line may carry the file's
    /// checksum after the URL: `URL sha256=HEX`.
    #[arg(short = 'i', long = "input-file", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Folder to save into [default: a matching rule's dir, else the config's download_dir,
    /// else this shell's folder].
    #[arg(short = 'o', long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The checksum the file must have, e.g. `sha256=HEX` (sha256, sha512, sha1, md5), for a
    /// single URL. A file that does not match keeps its .part name and the download fails.
    #[arg(long, value_name = "ALGO=HEX", value_parser = parse_checksum)]
    pub checksum: Option<Box<ExpectedChecksum>>,
    /// A sha256sum-style file, local or an http(s) URL, read now: each download is checked
    /// against the line for its file name (a running dlm matches the name the server gives;
    /// the saved queue, the URL's last segment).
    #[arg(long, value_name = "FILE|URL")]
    pub checksum_file: Option<String>,
    /// A browser's "Copy as cURL" command (`-` reads it from standard input): one download
    /// with its headers, cookies and login. Needs a running dlm: secrets are never saved.
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["urls", "input", "checksum", "checksum_file"])]
    pub curl: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON (an array of items) for scripts.
    #[arg(long)]
    pub json: bool,
    /// Only items in this state: queued, connecting, downloading, paused, done, failed or
    /// cancelled (comma-separated or repeated).
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    pub states: Vec<ItemState>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// URLs to download.
    pub urls: Vec<String>,
    /// Read URLs from FILE, one per line (`-` for standard input); blank lines and `#` comments
    /// are skipped.
    #[arg(short = 'i', long = "input-file", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print one JSON object per event on standard output (added, started, progress,
    /// retrying, done, failed, then a summary) instead of the progress display; errors still
    /// go to standard error.
    #[arg(long)]
    pub json: bool,
    /// Save the file as NAME inside the download folder (one URL only), as curl -o and wget -O
    /// do. A plain file name: a path (`/`, `..`) is refused.
    #[arg(short = 'O', long = "output", value_name = "NAME", value_parser = output_name)]
    pub output: Option<String>,
    #[command(flatten)]
    pub download: DownloadArgs,
}

/// A file name for `-O`: one name inside the download folder, never a path out of it. What is
/// left is sanitised as a server's name is (control characters, leading dots, length).
pub fn output_name(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Err("the file name is empty".into());
    }
    if raw.contains(['/', '\\']) || raw == "." || raw == ".." {
        return Err(format!(
            "{raw:?} is a path; -O takes a file name, saved inside the download folder (-o DIR sets \
             the folder)"
        ));
    }
    crate::engine::naming::sanitize(raw).ok_or_else(|| format!("{raw:?} cannot be used as a file name"))
}

/// Options shared by the UI and `dlm get`. `None` means "not given": the default applies.
#[derive(Debug, Args, Default, Clone, PartialEq)]
pub struct DownloadArgs {
    /// Folder to save into (created if missing) [default: current folder].
    #[arg(short = 'o', long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Downloads running at once (1–64) [default: 4].
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS as i64))]
    pub jobs: Option<u16>,
    /// Connections per download: `auto` (start with one, add while it helps) or 1–32
    /// [default: auto].
    #[arg(short = 'x', long = "connections", value_name = "N|auto", value_parser = parse_x)]
    pub connections: Option<u16>,
    /// Attempts after the first for transient failures (connection errors, stalls, 408, 429,
    /// 5xx) [default: 5].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Give up connecting after this long, e.g. `10s` [default: 15s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// Fail an attempt when no byte arrives for this long (stall timeout) [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub read_timeout: Option<Duration>,
    /// Extra request header, e.g. `-H 'Authorization: Bearer …'` (repeatable); `-H @FILE`
    /// reads one `Name: value` a line from FILE.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,
    /// Send the cookies of this Netscape cookies.txt (as browsers' extensions and yt-dlp
    /// export it), each to its own domain and path only (repeatable).
    #[arg(long = "load-cookies", value_name = "FILE")]
    pub load_cookies: Vec<PathBuf>,
    /// Logins from this .netrc file [default: $NETRC, else ~/.netrc if it exists].
    #[arg(long = "netrc-file", value_name = "FILE", conflicts_with = "no_netrc")]
    pub netrc_file: Option<PathBuf>,
    /// Read no .netrc file.
    #[arg(long = "no-netrc")]
    pub no_netrc: bool,
    /// User-Agent header [default: dlm/VERSION].
    #[arg(long, value_name = "TEXT")]
    pub user_agent: Option<String>,
    /// Proxy for every request: http://, https://, socks5:// or socks5h:// [default: the
    /// HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY environment variables].
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Accept any TLS certificate (self-signed, expired, wrong host). Unsafe.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Trust the CA certificates in this PEM file besides the system's (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Continue `.part` files left by an earlier run and skip files already complete.
    #[arg(short = 'c', long = "continue")]
    pub continue_existing: bool,
    /// Limit the total download rate, e.g. `2M` (bytes per second; K, M, G are binary).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub limit_rate: Option<u64>,
    /// Limit each download's own rate, e.g. `500K`.
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub limit_rate_per_item: Option<u64>,
    /// Connections open at once to one host, across all downloads [default: 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_per_host: Option<u16>,
    /// The checksum the file must have, e.g. `sha256=HEX` (sha256, sha512, sha1, md5), for a
    /// single URL. A file that does not match keeps its .part name and the download fails.
    /// In a list, put it after the URL on its line: `URL sha256=HEX`.
    #[arg(long, value_name = "ALGO=HEX", value_parser = parse_checksum)]
    pub checksum: Option<Box<ExpectedChecksum>>,
    /// A sha256sum/sha512sum/md5sum-style file (or BSD `SHA256 (NAME) = HEX`), local or an
    /// http(s) URL: each download is checked against the line for its file name.
    #[arg(long, value_name = "FILE|URL")]
    pub checksum_file: Option<String>,
}

/// `--checksum ALGO=HEX`.
fn parse_checksum(text: &str) -> Result<Box<ExpectedChecksum>, String> {
    ExpectedChecksum::parse(text, ChecksumSource::User).map(Box::new)
}

impl DownloadArgs {
    /// Applies the flags that were given on top of `options`.
    pub fn apply(&self, options: &mut EngineOptions) -> Result<(), String> {
        if let Some(dir) = &self.dir {
            options.download_dir = dir.clone();
        }
        if let Some(j) = self.jobs {
            options.workers = usize::from(j);
        }
        if let Some(x) = self.connections {
            options.connections = usize::from(x);
        }
        if let Some(r) = self.retries {
            options.retries = r;
        }
        if let Some(t) = self.connect_timeout {
            options.connect_timeout = t;
        }
        if let Some(t) = self.read_timeout {
            options.read_timeout = t;
        }
        for header in &self.headers {
            match header.strip_prefix('@') {
                Some(file) => options
                    .headers
                    .extend(crate::headers::read_file(Path::new(file)).map_err(|e| e.to_string())?),
                None => options.headers.push(parse_header(header)?),
            }
        }
        for file in &self.load_cookies {
            options.cookies.extend(CookieJar::read(file).map_err(|e| e.to_string())?);
        }
        if let Some(ua) = &self.user_agent {
            options.user_agent = ua.clone();
        }
        if let Some(proxy) = &self.proxy {
            options.proxy = Some(proxy.clone());
        }
        options.insecure |= self.insecure;
        options.ca_files.extend(self.ca_file.iter().cloned());
        options.continue_existing |= self.continue_existing;
        if let Some(rate) = self.limit_rate {
            options.rate_limit = Some(rate).filter(|r| *r > 0);
        }
        if let Some(rate) = self.limit_rate_per_item {
            options.item_rate_limit = Some(rate).filter(|r| *r > 0);
        }
        if let Some(n) = self.max_per_host {
            options.max_connections_per_host = usize::from(n);
        }
        Ok(())
    }
}

impl DownloadArgs {
    /// The `.netrc` to use: `--no-netrc`, else `--netrc-file`, else the config's `netrc`, else
    /// `$NETRC` or `~/.netrc` (`env` and `home` passed in so tests do not read the real
    /// ones). Only the file chosen is read, so a broken `~/.netrc` does not stop a run that
    /// says `--no-netrc`.
    pub fn netrc(
        &self,
        config: Option<&NetrcChoice>,
        env: Option<OsString>,
        home: Option<&Path>,
    ) -> Result<Option<Netrc>, String> {
        let read = |path: &Path| Netrc::read(path).map(Some).map_err(|e| e.to_string());
        match (self.no_netrc, &self.netrc_file, config) {
            (true, ..) | (false, None, Some(NetrcChoice::Off)) => Ok(None),
            (false, Some(file), _) | (false, None, Some(NetrcChoice::File(file))) => read(file),
            (false, None, None | Some(NetrcChoice::Default)) => {
                Netrc::read_default(env, home).map_err(|e| e.to_string())
            }
        }
    }
}

/// `-H 'Name: value'` → `("Name", "value")`, checked as a header file's lines are. The
/// error never repeats the text: `-H 'Bearer abc'` (the name forgotten) is a token.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    crate::headers::parse_line(text).map_err(|problem| format!("invalid -H header: {problem}"))
}

/// `-x`: `auto` (0, `AUTO_CONNECTIONS`) or a count; kept small so the argument structs stay small.
fn parse_x(text: &str) -> Result<u16, String> {
    parse_connections(text).map(|n| u16::try_from(n).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn get_parses_every_option() {
        let cli = Cli::try_parse_from([
            "dlm",
            "get",
            "-q",
            "-j",
            "8",
            "-x",
            "4",
            "-o",
            "out",
            "-i",
            "list.txt",
            "--retries",
            "2",
            "--connect-timeout",
            "3s",
            "--read-timeout",
            "500ms",
            "-H",
            "X-A: 1",
            "--user-agent",
            "ua",
            "--proxy",
            "socks5://127.0.0.1:1080",
            "--insecure",
            "--limit-rate",
            "2M",
            "--limit-rate-per-item",
            "500K",
            "--max-per-host",
            "4",
            "-c",
            "http://a/b",
        ])
        .unwrap();
        let Some(Commands::Get(get)) = cli.command else { panic!("not get") };
        assert!(get.quiet);
        assert_eq!(get.urls, vec!["http://a/b"]);
        let mut options = EngineOptions::default();
        get.download.apply(&mut options).unwrap();
        assert_eq!(options.workers, 8);
        assert_eq!(options.connections, 4);
        assert_eq!(options.retries, 2);
        assert_eq!(options.connect_timeout, Duration::from_secs(3));
        assert_eq!(options.read_timeout, Duration::from_millis(500));
        assert_eq!(options.headers, vec![("X-A".to_string(), "1".to_string())]);
        assert_eq!(options.user_agent, "ua");
        assert!(options.insecure && options.continue_existing);
        assert_eq!(options.download_dir, PathBuf::from("out"));
        assert_eq!(options.rate_limit, Some(2 << 20));
        assert_eq!(options.item_rate_limit, Some(500 << 10));
        assert_eq!(options.max_connections_per_host, 4);
    }

    #[test]
    fn the_netrc_comes_from_the_flags_then_the_config_then_home() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, host: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("machine {host} login u password p\n")).unwrap();
            path
        };
        let (home_file, flag_file, config_file) =
            (write(".netrc", "home"), write("flag", "flag"), write("cfg", "cfg"));
        assert!(home_file.exists());
        let hosts = |args: &DownloadArgs, config: Option<&NetrcChoice>| {
            let netrc = args.netrc(config, None, Some(dir.path())).unwrap();
            ["home", "flag", "cfg"]
                .into_iter()
                .filter(|h| netrc.as_ref().is_some_and(|n| n.credentials_for(h, None).is_some()))
                .collect::<Vec<_>>()
        };
        let none = DownloadArgs::default();
        let flag = DownloadArgs { netrc_file: Some(flag_file), ..DownloadArgs::default() };
        let off = DownloadArgs { no_netrc: true, ..DownloadArgs::default() };
        let cfg = NetrcChoice::File(config_file);
        assert_eq!(hosts(&none, None), ["home"]);
        assert_eq!(hosts(&none, Some(&NetrcChoice::Default)), ["home"]);
        assert_eq!(hosts(&none, Some(&cfg)), ["cfg"]);
        assert_eq!(hosts(&none, Some(&NetrcChoice::Off)), Vec::<&str>::new());
        assert_eq!(hosts(&flag, Some(&cfg)), ["flag"]);
        assert_eq!(hosts(&off, Some(&cfg)), Vec::<&str>::new());
        let missing = DownloadArgs { netrc_file: Some(dir.path().join("none")), ..DownloadArgs::default() };
        assert!(missing.netrc(None, None, None).unwrap_err().starts_with("cannot read netrc file "));
        assert!(Cli::try_parse_from(["dlm", "get", "--no-netrc", "--netrc-file", "f", "http://a/"]).is_err());
    }

    #[test]
    fn header_files_and_cookie_files_are_read_or_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let headers = dir.path().join("h.txt");
        std::fs::write(&headers, "X-A: 1\nX-B: 2\n").unwrap();
        let cookies = dir.path().join("c.txt");
        std::fs::write(&cookies, "h\tFALSE\t/\tFALSE\t0\ta\t1\n").unwrap();
        let args = DownloadArgs {
            headers: vec![format!("@{}", headers.display()), "X-C: 3".into()],
            load_cookies: vec![cookies],
            ..DownloadArgs::default()
        };
        let mut options = EngineOptions::default();
        args.apply(&mut options).unwrap();
        let names: Vec<&str> = options.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["X-A", "X-B", "X-C"]);
        assert_eq!(options.cookies.len(), 1);
        let bad = DownloadArgs { headers: vec!["@/nonexistent/h.txt".into()], ..DownloadArgs::default() };
        assert!(
            bad.apply(&mut options).unwrap_err().starts_with("cannot read header file /nonexistent/h.txt")
        );
    }

    #[test]
    fn rejects_out_of_range_workers_and_bad_headers() {
        assert!(Cli::try_parse_from(["dlm", "get", "-j", "0", "http://a/"]).is_err());
        assert!(Cli::try_parse_from(["dlm", "get", "-j", "65", "http://a/"]).is_err());
        assert!(Cli::try_parse_from(["dlm", "get", "-x", "0", "http://a/"]).is_err());
        assert!(Cli::try_parse_from(["dlm", "get", "-x", "33", "http://a/"]).is_err());
    }

    #[test]
    fn connections_flag_takes_auto_or_a_count() {
        for (flag, want) in [("auto", crate::engine::AUTO_CONNECTIONS), ("12", 12)] {
            let cli = Cli::try_parse_from(["dlm", "get", "-x", flag, "http://a/"]).unwrap();
            let Some(Commands::Get(get)) = cli.command else { panic!("not get") };
            let mut options = EngineOptions { connections: 3, ..EngineOptions::default() };
            get.download.apply(&mut options).unwrap();
            assert_eq!(options.connections, want, "-x {flag}");
        }
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": empty name").is_err());
        for bad in ["Bearer hunter2", "Bearer hunter2:x", "X-Token: hunter2\u{7f}"] {
            let m = parse_header(bad).unwrap_err();
            assert!(m.starts_with("invalid -H header: ") && !m.contains("hunter2"), "{m}");
        }
    }

    #[test]
    fn config_flag_is_global() {
        let cli = Cli::try_parse_from(["dlm", "get", "--config", "c.toml", "http://a/"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("c.toml")));
        let cli = Cli::try_parse_from(["dlm", "--config", "c.toml", "get", "http://a/"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("c.toml")));
        assert!(matches!(&cli.command, Some(Commands::Get(g)) if g.urls == ["http://a/"]), "{cli:?}");
        assert!(cli.urls.is_empty() && cli.check().is_ok());
        let cli = Cli::try_parse_from(["dlm", "--config", "c.toml"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("c.toml")));
    }

    #[test]
    fn download_options_before_a_command_are_refused() {
        let cli = Cli::try_parse_from(["dlm", "-j", "2", "get", "http://a/"]).unwrap();
        assert!(cli.check().unwrap_err().contains("dlm get [OPTIONS]"));
        let cli = Cli::try_parse_from(["dlm", "ls"]).unwrap();
        assert!(cli.check().is_ok());
    }

    #[test]
    fn bare_urls_open_the_ui() {
        let cli = Cli::try_parse_from(["dlm", "-j", "2", "http://a/1", "http://a/2"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.urls.len(), 2);
        assert_eq!(cli.download.jobs, Some(2));
    }
}
