//! `.netrc` files: logins by host, read as curl reads them (`machine`, `default`, `login`,
//! `password`, `account` ignored, `macdef` bodies skipped, `"quoted tokens"` with `\` escapes,
//! `#` comments), and where the file is (`$NETRC`, else `~/.netrc`). Pure but for reading the
//! file (`textfile`); depends on std only.
//!
//! The file holds passwords: no error, `Debug` output or log line ever shows a token from it,
//! only the file and line.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::textfile::read_small_text;

/// Environment variable naming the netrc file, as curl and wget read it.
pub const NETRC_ENV: &str = "NETRC";
/// Files larger than this are refused: a netrc is a few lines, and reading a mistaken
/// multi-gigabyte path into memory helps nobody.
const MAX_NETRC_BYTES: u64 = 1 << 20;

/// A login from a netrc file. `Debug` shows the login, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub login: String,
    /// `None` when the entry names a login and no password.
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = self.password.as_ref().map(|_| "***");
        f.debug_struct("Credentials").field("login", &self.login).field("password", &password).finish()
    }
}

/// One `machine` (or `default`) entry.
#[derive(Clone, PartialEq, Eq, Default)]
struct Entry {
    /// Lowercased host; `None` for `default`.
    machine: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

/// The entries of a netrc file, in file order. `Debug` shows the hosts only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Netrc {
    entries: Vec<Entry>,
}

impl fmt::Debug for Netrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<&str> =
            self.entries.iter().map(|e| e.machine.as_deref().unwrap_or("default")).collect();
        f.debug_struct("Netrc").field("machines", &hosts).finish()
    }
}

/// Why a netrc file could not be used. Names the file and line, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetrcError {
    #[error("cannot read netrc file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("netrc file {}:{line}: {problem}", path.display())]
    Invalid { path: PathBuf, line: usize, problem: String },
}

impl Netrc {
    /// Parses netrc text; `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Netrc, NetrcError> {
        let invalid = |line, problem: &str| NetrcError::Invalid {
            path: path.to_path_buf(),
            line,
            problem: problem.into(),
        };
        let mut tokens = Tokens { text, at: 0, line: 1 };
        let mut entries: Vec<Entry> = Vec::new();
        while let Some((line, token)) = tokens.next().map_err(|line| invalid(line, UNCLOSED))? {
            let mut value = |keyword: &str| match tokens.next() {
                Ok(Some((_, v))) => Ok(v),
                Ok(None) => Err(invalid(line, &format!("`{keyword}` is missing its value"))),
                Err(at) => Err(invalid(at, UNCLOSED)),
            };
            match token.as_str() {
                "machine" => {
                    let host = value("machine")?;
                    entries.push(Entry { machine: Some(host.to_ascii_lowercase()), ..Entry::default() });
                }
                "default" => entries.push(Entry::default()),
                "login" | "password" | "account" => {
                    let v = value(&token)?;
                    let Some(entry) = entries.last_mut() else {
                        return Err(invalid(line, &format!("`{token}` before any `machine` or `default`")));
                    };
                    // The first value counts, as in curl; `account` is for FTP and unused here.
                    match token.as_str() {
                        "login" => entry.login = entry.login.take().or(Some(v)),
                        "password" => entry.password = entry.password.take().or(Some(v)),
                        _ => {}
                    }
                }
                "macdef" => {
                    value("macdef")?;
                    tokens.skip_macro();
                }
                // The word itself may be a password whose keyword was lost: never shown.
                _ => {
                    return Err(invalid(
                        line,
                        "unexpected word (expected machine, default, login, password, account or macdef)",
                    ));
                }
            }
        }
        Ok(Netrc { entries })
    }

    /// Reads and parses a netrc file.
    pub fn read(path: &Path) -> Result<Netrc, NetrcError> {
        let text = read_small_text(path, MAX_NETRC_BYTES, "a netrc file")
            .map_err(|reason| NetrcError::Read { path: path.to_path_buf(), reason })?;
        Netrc::parse(&text, path)
    }

    /// Reads the file `Netrc::default_path` names. No `~/.netrc` is no netrc at all (most people
    /// have none); a file `$NETRC` names must exist, as a config file `$DLM_CONFIG` names
    /// must; a file that exists and is broken is an error either way.
    pub fn read_default(env: Option<OsString>, home: Option<&Path>) -> Result<Option<Netrc>, NetrcError> {
        let named = env.as_ref().is_some_and(|e| !e.is_empty());
        let Some(path) = Netrc::default_path(env, home) else { return Ok(None) };
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => Ok(None),
            _ => Netrc::read(&path).map(Some).map_err(|e| match e {
                NetrcError::Read { path, reason } if named => {
                    NetrcError::Read { path, reason: format!("{reason} (named by ${NETRC_ENV})") }
                }
                e => e,
            }),
        }
    }

    /// The login for `host`: the first `machine` entry for it (matched without regard to
    /// case) whose login is `user` when the URL names one, else the `default` entry. The
    /// port plays no part, as in curl. An entry with neither login nor password gives
    /// nothing.
    pub fn credentials_for(&self, host: &str, user: Option<&str>) -> Option<Credentials> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let fits = |e: &&Entry| user.is_none_or(|u| e.login.as_deref() == Some(u));
        let entry = self
            .entries
            .iter()
            .filter(|e| e.machine.as_deref() == Some(host.as_str()))
            .find(fits)
            .or_else(|| self.entries.iter().filter(|e| e.machine.is_none()).find(fits))?;
        let login = entry.login.clone().or_else(|| user.map(str::to_string));
        match (login, &entry.password) {
            (None, None) => None,
            (login, password) => {
                Some(Credentials { login: login.unwrap_or_default(), password: password.clone() })
            }
        }
    }

    /// `$NETRC` when set and not empty, else `~/.netrc`. `env` and `home` are passed in so tests
    /// do not depend on the real environment.
    pub fn default_path(env: Option<OsString>, home: Option<&Path>) -> Option<PathBuf> {
        match env.filter(|p| !p.is_empty()) {
            Some(path) => Some(PathBuf::from(path)),
            None => home.map(|h| h.join(".netrc")),
        }
    }

    /// How many `machine` and `default` entries the file has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

const UNCLOSED: &str = "a quoted value is not closed";

/// Whitespace-separated tokens with their line numbers; `"…"` quotes a token with spaces.
struct Tokens<'a> {
    text: &'a str,
    at: usize,
    line: usize,
}

impl Tokens<'_> {
    /// The next token, `Ok(None)` at the end, `Err(line)` for a quote never closed.
    fn next(&mut self) -> Result<Option<(usize, String)>, usize> {
        loop {
            let rest = &self.text[self.at..];
            let Some(c) = rest.chars().next() else { return Ok(None) };
            if c == '\n' {
                self.line += 1;
            }
            if c.is_whitespace() {
                self.at += c.len_utf8();
            } else if c == '#' {
                // A comment runs to the end of the line (the newline is read as whitespace).
                self.at += rest.find('\n').unwrap_or(rest.len());
            } else {
                break;
            }
        }
        let line = self.line;
        let rest = &self.text[self.at..];
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.at += 1 + i + 1;
                        return Ok(Some((line, value)));
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 'r')) => value.push('\r'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, other)) => value.push(other),
                        None => break,
                    },
                    '\n' => {
                        self.line += 1;
                        value.push(c);
                    }
                    c => value.push(c),
                }
            }
            return Err(line);
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.at += end;
        Ok(Some((line, rest[..end].to_string())))
    }

    /// Skips a `macdef` body: the rest of its line and every line up to an empty one.
    fn skip_macro(&mut self) {
        let rest = &self.text[self.at..];
        let end = rest.find("\n\n").map_or(rest.len(), |i| i + 2);
        self.line += rest[..end].matches('\n').count();
        self.at += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Netrc {
        Netrc::parse(text, Path::new("n")).unwrap()
    }

    fn creds(login: &str, password: &str) -> Option<Credentials> {
        Some(Credentials { login: login.into(), password: Some(password.into()) })
    }

    #[test]
    fn machines_on_one_line_or_many() {
        let n = parse(
            "machine a.example login alice password s3cret\nmachine b.example\n  login bob\n  password pw2\n",
        );
        assert_eq!(n.credentials_for("a.example", None), creds("alice", "s3cret"));
        assert_eq!(n.credentials_for("B.Example", None), creds("bob", "pw2"));
        assert_eq!(n.credentials_for("c.example", None), None);
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn default_is_the_fallback_wherever_it_stands() {
        let n = parse("default login anon password guest\nmachine a.example login alice password x\n");
        assert_eq!(n.credentials_for("a.example", None), creds("alice", "x"));
        assert_eq!(n.credentials_for("other.example", None), creds("anon", "guest"));
    }

    #[test]
    fn the_first_entry_for_a_host_wins_unless_the_url_names_a_user() {
        let n = parse("machine h login one password p1\nmachine h login two password p2\n");
        assert_eq!(n.credentials_for("h", None), creds("one", "p1"));
        assert_eq!(n.credentials_for("h", Some("two")), creds("two", "p2"));
        assert_eq!(n.credentials_for("h", Some("three")), None);
    }

    #[test]
    fn quoted_tokens_comments_and_macros() {
        let text = "# my logins\nmachine h login \"a b\" password \"p \\\"q\\\" \\\\ r\" # trailing\n\
                    macdef init\ncd /pub\nmachine fake login x password y\n\nmachine k login kk password pk\n";
        let n = parse(text);
        assert_eq!(n.credentials_for("h", None), creds("a b", "p \"q\" \\ r"));
        assert_eq!(n.credentials_for("fake", None), None, "lines of a macro are not entries");
        assert_eq!(n.credentials_for("k", None), creds("kk", "pk"));
    }

    #[test]
    fn login_without_password_and_account_ignored() {
        let n = parse("machine h login only account acct\nmachine e\n");
        assert_eq!(n.credentials_for("h", None), Some(Credentials { login: "only".into(), password: None }));
        assert_eq!(n.credentials_for("e", None), None);
    }

    #[test]
    fn errors_name_the_line_never_the_token() {
        let err = |t: &str| Netrc::parse(t, Path::new("/home/u/.netrc")).unwrap_err().to_string();
        let m = err("machine h\nlogin u\nhunter2 password x\n");
        assert_eq!(
            m,
            "netrc file /home/u/.netrc:3: unexpected word (expected machine, default, login, password, account or macdef)"
        );
        let m = err("machine h login u password \"sec ret\n");
        assert_eq!(m, "netrc file /home/u/.netrc:1: a quoted value is not closed");
        assert!(err("machine h login").ends_with(":1: `login` is missing its value"));
        assert!(err("login u password topsecret").contains(":1: `login` before any `machine`"));
        for text in ["machine h\nlogin u\nhunter2 password x\n", "machine h password \"topsecret"] {
            let m = err(text);
            assert!(!m.contains("hunter2") && !m.contains("topsecret"), "{m}");
        }
    }

    #[test]
    fn debug_output_hides_passwords() {
        let n = parse("machine h login u password hunter2\n");
        let shown = format!("{n:?} {:?}", n.credentials_for("h", None));
        assert!(!shown.contains("hunter2") && shown.contains("***"), "{shown}");
    }

    #[test]
    fn the_file_is_found_by_env_then_home() {
        let home = Path::new("/home/u");
        assert_eq!(Netrc::default_path(Some("/x/n".into()), Some(home)), Some(PathBuf::from("/x/n")));
        assert_eq!(
            Netrc::default_path(Some(OsString::new()), Some(home)),
            Some(PathBuf::from("/home/u/.netrc"))
        );
        assert_eq!(Netrc::default_path(None, None), None);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Netrc::read_default(None, Some(dir.path())), Ok(None), "no ~/.netrc is no netrc");
        std::fs::write(dir.path().join(".netrc"), "machine h login u password p\n").unwrap();
        let n = Netrc::read_default(None, Some(dir.path())).unwrap().unwrap();
        assert_eq!(n.credentials_for("h", None), creds("u", "p"));
        let named = dir.path().join("missing");
        let m = Netrc::read_default(Some(named.into()), None).unwrap_err().to_string();
        assert!(m.starts_with("cannot read netrc file ") && m.ends_with("(named by $NETRC)"), "{m}");
        assert!(matches!(Netrc::read(&dir.path().join("missing")), Err(NetrcError::Read { .. })));
    }
}
