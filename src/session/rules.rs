//! Applying the `[[rule]]`s: when an item is added (or restored) the session asks which rule
//! its URL matches and gives the engine that rule's settings with the add request. The files
//! rules name (`cookies_file`, `netrc = "path"`) are read once, when the session starts; a
//! `checksum_file` when the first item that needs it starts (it may be a URL).
//!
//! Decisions, also in the README:
//! - A rule is matched once, when the item is added, on the URL (its last path segment stands
//!   in for the file name). A name the server gives later (Content-Disposition) can only
//!   change the folder, and only when none was given with the item: earlier rules with `ext`
//!   and `dir` whose host and path match go to the engine as a table (`FolderByExt`), which
//!   picks the folder by the name before the `.part` is created. The request's headers and the
//!   connection settings are in use by then, so they stay the matched rule's.
//! - A folder given with the add (`dlm add --dir`, a restored item's) wins over the rule's; a
//!   relative rule `dir` is inside the download folder.
//! - Nothing a rule gives is saved: a restored item matches the rules again at restore time
//!   (so an edited rule applies, and no header or cookie is ever on disk), keeping its saved
//!   folder and its saved limits (the person may have changed them by hand).
//! - Settings already on the request (a pasted curl command's) win over the rule's.
//!
//! Depends on the config's rules and the engine's settings types.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use url::Url;

use crate::config::{NetrcChoice, Rule, Rules};
use crate::engine::{
    AddRequest, ChecksumFile, CookieJar, FolderByExt, ItemLimits, ItemSettings, Netrc, NetrcUse,
};

/// The rules with the files they name already read.
#[derive(Debug, Default)]
pub struct RuleBook {
    rules: Rules,
    /// One per rule, in order: its settings, ready to hand to the engine.
    settings: Vec<Arc<ItemSettings>>,
    download_dir: PathBuf,
    /// Rule folders already made, so a paste of many files asks the disk once.
    made: std::collections::HashSet<PathBuf>,
}

impl RuleBook {
    /// Reads what the rules name. A file that cannot be read is a notice, and that rule then
    /// sends no cookies and, for a netrc, no login (rather than someone else's).
    pub fn new(rules: Rules, download_dir: &Path) -> (RuleBook, Vec<String>) {
        let mut notices = Vec::new();
        let settings = rules
            .0
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let label = crate::config::Matched { index, rule }.label();
                Arc::new(settings_of(rule, label, &mut notices))
            })
            .collect();
        (
            RuleBook { rules, settings, download_dir: download_dir.to_path_buf(), made: Default::default() },
            notices,
        )
    }

    /// Gives a new item its rule's folder and settings (settings already on it win), and
    /// returns its limits when the rule sets one (the rest from `defaults`). The folder is
    /// made, as the download folder is; if that fails the engine says why when the item starts.
    pub fn apply(&mut self, request: &mut AddRequest, defaults: ItemLimits) -> Option<ItemLimits> {
        let folders = if request.dir.is_none() { self.folders_by_ext(&request.url) } else { Vec::new() };
        let matched = self.matching(&request.url).map(|(rule, own)| {
            let limits = (rule.connections.is_some() || rule.rate_limit.is_some()).then(|| ItemLimits {
                rate_limit: rule.rate_limit.unwrap_or(defaults.rate_limit),
                connections: rule.connections.unwrap_or(defaults.connections),
            });
            (rule.dir.clone(), own, limits)
        });
        let mut limits = None;
        if let Some((rule_dir, own, rule_limits)) = matched {
            if request.dir.is_none()
                && let Some(dir) = rule_dir
            {
                let dir = self.download_dir.join(dir);
                if self.made.insert(dir.clone()) {
                    let _ = std::fs::create_dir_all(&dir);
                }
                request.dir = Some(dir);
            }
            request.settings = Some(merged(&own, request.settings.as_deref()));
            limits = rule_limits;
        }
        if !folders.is_empty() {
            // Set once, on the merged settings (the merge does not carry them) or on the
            // item's own when no rule matched.
            let mut settings = request.settings.as_deref().cloned().unwrap_or_default();
            settings.folders_by_ext = folders;
            request.settings = Some(Arc::new(settings));
        }
        limits
    }

    /// The folders that rules before the one `url` matched choose by an extension the URL
    /// could not decide (see `Rules::by_ext_with_dir`): the engine picks one when the server
    /// names the file. Only the folder is decided so late; the matched rule's other settings
    /// stay.
    fn folders_by_ext(&self, url: &str) -> Vec<FolderByExt> {
        let Ok(url) = Url::parse(url.trim()) else { return Vec::new() };
        let before = self.rules.matching(&url, None).map(|m| m.index);
        self.rules
            .by_ext_with_dir(&url, before)
            .into_iter()
            .filter_map(|rule| {
                Some(FolderByExt { exts: rule.ext.clone(), dir: self.download_dir.join(rule.dir.as_ref()?) })
            })
            .collect()
    }

    /// Gives a restored item its rule's settings again, but not its folder or limits, which
    /// the saved queue has.
    pub fn apply_restored(&self, request: &mut AddRequest) {
        if let Some((_, own)) = self.matching(&request.url) {
            request.settings = Some(own);
        }
    }

    fn matching(&self, url: &str) -> Option<(&Rule, Arc<ItemSettings>)> {
        if self.rules.is_empty() {
            return None;
        }
        let url = Url::parse(url.trim()).ok()?;
        let matched = self.rules.matching(&url, None)?;
        Some((matched.rule, Arc::clone(&self.settings[matched.index])))
    }
}

/// A rule's settings for the engine, its files read.
fn settings_of(rule: &Rule, label: String, notices: &mut Vec<String>) -> ItemSettings {
    let mut s = ItemSettings::default();
    s.proxy.clone_from(&rule.proxy);
    s.refresh_command = rule.refresh_command.clone().map(Arc::new);
    s.max_connections_per_host = rule.max_connections_per_host;
    s.rule = Some(label.clone());
    // Read or fetched when the first matching item starts (one per rule, so once a session);
    // one that cannot be had fails those items with the reason, never lets them go unchecked.
    s.checksum_file = rule.checksum_file.as_deref().map(|source| Arc::new(ChecksumFile::new(source)));
    for (name, value) in &rule.headers {
        if let Err(e) = s.header(name, value) {
            notices.push(format!("{label}: {e}; left out"));
        }
    }
    if let Some(path) = &rule.cookies_file {
        match CookieJar::read(path) {
            Ok(jar) => s.cookies = jar,
            Err(e) => notices.push(format!("{label}: {e}; its downloads go without these cookies")),
        }
    }
    s.netrc = match &rule.netrc {
        None | Some(NetrcChoice::Default) => None,
        Some(NetrcChoice::Off) => Some(NetrcUse::Off),
        Some(NetrcChoice::File(path)) => match Netrc::read(path) {
            Ok(netrc) => Some(NetrcUse::File(netrc)),
            Err(e) => {
                notices.push(format!("{label}: {e}; its downloads go without a netrc login"));
                Some(NetrcUse::Off)
            }
        },
    };
    s
}

/// The rule's settings with `given` (a pasted curl command's) on top.
fn merged(rule: &Arc<ItemSettings>, given: Option<&ItemSettings>) -> Arc<ItemSettings> {
    let Some(given) = given else { return Arc::clone(rule) };
    let mut s = (**rule).clone();
    for (name, value) in given.headers() {
        // Both were checked when they were made.
        if let Ok(value) = value.to_str() {
            let _ = s.header(name.as_str(), value);
        }
    }
    s.cookies.extend(given.cookies.clone());
    s.netrc = given.netrc.clone().or(s.netrc);
    s.proxy = given.proxy.clone().or(s.proxy);
    s.refresh_command = given.refresh_command.clone().or(s.refresh_command);
    s.max_connections_per_host = given.max_connections_per_host.or(s.max_connections_per_host);
    s.login = given.login.clone().or(s.login);
    s.checksum_file = given.checksum_file.clone().or(s.checksum_file);
    Arc::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book_in(text: &str, dir: &Path) -> RuleBook {
        #[derive(serde::Deserialize)]
        struct File {
            rule: Rules,
        }
        let rules = toml::from_str::<File>(text).unwrap().rule;
        let (book, notices) = RuleBook::new(rules, dir);
        assert!(notices.is_empty(), "{notices:?}");
        book
    }

    const DEFAULTS: ItemLimits = ItemLimits { rate_limit: None, connections: 1 };

    fn book(text: &str) -> RuleBook {
        book_in(text, Path::new("/dl"))
    }

    #[test]
    fn a_relative_dir_is_inside_the_download_folder_and_a_given_dir_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = book_in("[[rule]]\next = \"iso\"\ndir = \"images\"\n", tmp.path());
        let mut r = AddRequest::new("http://h/a.iso");
        b.apply(&mut r, DEFAULTS);
        assert_eq!(r.dir, Some(tmp.path().join("images")));
        assert!(tmp.path().join("images").is_dir(), "the folder is made");
        assert_eq!(r.settings.and_then(|s| s.rule.clone()).as_deref(), Some("rule 1"));
        let mut r = AddRequest { dir: Some("/mine".into()), ..AddRequest::new("http://h/a.iso") };
        b.apply(&mut r, DEFAULTS);
        assert_eq!(r.dir.as_deref(), Some(Path::new("/mine")));
    }

    #[test]
    fn a_rule_sets_the_limits_it_names_and_a_restored_item_keeps_its_folder() {
        let mut b = book("[[rule]]\nconnections = 4\nheaders = { A = \"1\" }\n");
        let mut r = AddRequest::new("http://h/f");
        assert_eq!(b.apply(&mut r, DEFAULTS), Some(ItemLimits { rate_limit: None, connections: 4 }));
        let mut r = AddRequest::new("http://h/f");
        b.apply_restored(&mut r);
        assert_eq!((r.dir, r.settings.unwrap().headers().len()), (None, 1));
    }

    #[test]
    fn a_pasted_header_wins_over_the_rules() {
        let mut b = book("[[rule]]\nheaders = { A = \"rule\", B = \"rule\" }\n");
        let mut given = ItemSettings::default();
        given.header("a", "pasted").unwrap();
        let mut r = AddRequest { settings: Some(Arc::new(given)), ..AddRequest::new("http://h/f") };
        b.apply(&mut r, DEFAULTS);
        let s = r.settings.unwrap();
        let values: Vec<_> = s.headers().iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(values, [("b", "rule"), ("a", "pasted")]);
    }

    /// A pasted curl command's `-u` was once dropped whenever a rule matched.
    #[test]
    fn a_pasted_login_and_checksum_file_survive_a_matching_rule() {
        let mut b = book("[[rule]]\nchecksum_file = \"/rule/SUMS\"\n");
        let mut given = ItemSettings::default();
        given.login = Some((
            "h".into(),
            crate::engine::Credentials { login: "me".into(), password: Some("pw".into()) },
        ));
        let mut r = AddRequest { settings: Some(Arc::new(given)), ..AddRequest::new("http://h/f") };
        b.apply(&mut r, DEFAULTS);
        let s = r.settings.unwrap();
        assert!(s.login_for("h").is_some(), "the login is kept");
        assert_eq!(s.checksum_file.as_ref().map(|f| f.source()), Some("/rule/SUMS"), "and the rule's file");
        let mut given = ItemSettings::default();
        given.checksum_file = Some(Arc::new(ChecksumFile::new("/mine")));
        let mut r = AddRequest { settings: Some(Arc::new(given)), ..AddRequest::new("http://h/f") };
        b.apply(&mut r, DEFAULTS);
        assert_eq!(
            r.settings.unwrap().checksum_file.as_ref().map(|f| f.source()),
            Some("/mine"),
            "given wins"
        );
    }

    #[test]
    fn an_unreadable_netrc_means_no_login_and_a_notice() {
        let rule = Rule { netrc: Some(NetrcChoice::File("/nonexistent/netrc".into())), ..Rule::default() };
        let (b, notices) = RuleBook::new(Rules(vec![rule]), Path::new("/dl"));
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].starts_with("rule 1: "));
        assert_eq!(b.settings[0].netrc, Some(NetrcUse::Off));
    }
}
