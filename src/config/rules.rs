//! `[[rule]]` entries: per-site settings chosen by the download's host (glob), URL path (glob)
//! and file extension, first match wins. A rule says what it sets and nothing else; what it
//! leaves out keeps the config's (or the command line's) value. Pure: the session asks
//! `Rules::matching` when an item is added and applies the answer, and hands the engine the
//! folders of earlier rules whose `ext` only the server's name for the file can decide
//! (`Rules::by_ext_with_dir`). Depends on the config's value parsers and `glob`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use url::Url;

use super::glob::{HostGlob, PathGlob};
use super::values::{de_headers, de_opt_path, de_proxy, de_some_connections, de_some_per_host, de_some_rate};

/// The `[[rule]]` entries, in file order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Rules(pub Vec<Rule>);

/// One `[[rule]]`: when it applies, and what it sets.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// Shown where a rule is reported (details pane, `dlm ls --json`); else "rule N".
    pub name: Option<String>,
    // ---- When: every key given must match; a rule with none matches every download.
    /// Host patterns, any of which may match (`"*.example.com"` or a list).
    #[serde(deserialize_with = "de_hosts")]
    pub host: Vec<HostGlob>,
    /// URL path patterns, any of which may match (`"/files/**"` or a list).
    #[serde(deserialize_with = "de_paths_globs")]
    pub path: Vec<PathGlob>,
    /// File extensions without the dot, lowercased (`"iso"`, `"tar.gz"`, or a list).
    #[serde(deserialize_with = "de_exts")]
    pub ext: Vec<String>,
    // ---- What: `None` (or empty) leaves the setting as it is.
    /// Folder to save in; a relative one is inside the download folder. `~/` is expanded.
    #[serde(deserialize_with = "de_opt_path")]
    pub dir: Option<PathBuf>,
    #[serde(deserialize_with = "de_some_connections")]
    pub connections: Option<usize>,
    #[serde(deserialize_with = "de_some_per_host")]
    pub max_connections_per_host: Option<usize>,
    /// The download's own speed limit; `Some(None)` is an explicit "unlimited".
    #[serde(deserialize_with = "de_some_rate")]
    pub rate_limit: Option<Option<u64>>,
    /// Added to the config's headers; a name given in both takes the rule's value.
    #[serde(deserialize_with = "de_headers")]
    pub headers: BTreeMap<String, String>,
    /// A Netscape cookies file whose cookies go with these downloads (to their own domains
    /// only, like every cookie). `~/` is expanded.
    #[serde(deserialize_with = "de_opt_path")]
    pub cookies_file: Option<PathBuf>,
    /// `false`: no `.netrc` login for these downloads; a path: that netrc file instead.
    #[serde(deserialize_with = "de_netrc")]
    pub netrc: Option<NetrcChoice>,
    #[serde(deserialize_with = "de_proxy")]
    pub proxy: Option<String>,
    /// Prints a fresh URL for these downloads' expired links, instead of the config's
    /// `refresh_command` (an argv array, as there).
    pub refresh_command: Option<crate::engine::Program>,
    /// A `sha256sum`-style file (a path, `~/` expanded, or an http(s) URL) these downloads are
    /// checked against, by the name each gets. Read or fetched when the first of them starts.
    #[serde(deserialize_with = "de_checksum_file")]
    pub checksum_file: Option<String>,
}

/// What a rule says about `.netrc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetrcChoice {
    /// `netrc = true`: the usual file (`$NETRC`, `~/.netrc`), as if the rule said nothing.
    Default,
    /// `netrc = false`: none.
    Off,
    /// `netrc = "path"`: that file.
    File(PathBuf),
}

/// The rule a download matched: its place in the file (0-based) and the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matched<'a> {
    pub index: usize,
    pub rule: &'a Rule,
}

impl Matched<'_> {
    /// How to name the rule to a person: its `name`, else `rule N` (1-based, file order).
    pub fn label(&self) -> String {
        self.rule.name.clone().unwrap_or_else(|| format!("rule {}", self.index + 1))
    }
}

impl Rules {
    /// The first rule that matches a download of `url` saved as `file_name`. With no name
    /// yet (the item was just added), the URL path's last segment stands in for it.
    pub fn matching(&self, url: &Url, file_name: Option<&str>) -> Option<Matched<'_>> {
        let host = url.host_str().unwrap_or_default();
        let path = decoded_path(url);
        let name = match file_name {
            Some(name) => name.to_string(),
            None => path.rsplit('/').next().unwrap_or_default().to_string(),
        };
        self.0
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.applies(host, &path, &name))
            .map(|(index, rule)| Matched { index, rule })
    }

    /// The rules before the first `before` (all of them for `None`) that would match a
    /// download of `url` if its file had one of their `ext`, and that choose a folder: the ones
    /// the server's name for the file may still pick (see `engine::FolderByExt`), in order.
    pub fn by_ext_with_dir(&self, url: &Url, before: Option<usize>) -> Vec<&Rule> {
        let (host, path) = (url.host_str().unwrap_or_default(), decoded_path(url));
        let rules = &self.0[..before.unwrap_or(self.0.len()).min(self.0.len())];
        rules
            .iter()
            .filter(|r| !r.ext.is_empty() && r.dir.is_some() && r.applies_where(host, &path))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Rule {
    /// Every condition given holds: the host matches one of `host`, the path one of `path`,
    /// the name ends in `.EXT` for one of `ext`.
    fn applies(&self, host: &str, path: &str, file_name: &str) -> bool {
        self.applies_where(host, path)
            && (self.ext.is_empty() || self.ext.iter().any(|e| crate::engine::has_ext(file_name, e)))
    }

    /// The host and path conditions hold (the extension aside).
    fn applies_where(&self, host: &str, path: &str) -> bool {
        (self.host.is_empty() || self.host.iter().any(|g| g.matches(host)))
            && (self.path.is_empty() || self.path.iter().any(|g| g.matches(path)))
    }
}

/// The URL's path with `%xx` decoded, so patterns are written as people read paths.
fn decoded_path(url: &Url) -> String {
    percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy().into_owned()
}

/// A string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn strings<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<Vec<String>, D::Error> {
    // `untagged` would say "did not match any variant"; say what is expected instead.
    let value = toml::Value::deserialize(d)?;
    match OneOrMany::deserialize(value) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(list)) if !list.is_empty() => Ok(list),
        _ => Err(de::Error::custom(format!("expected {what} or a non-empty list of them"))),
    }
}

fn de_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HostGlob>, D::Error> {
    let list = strings(d, "a host pattern such as \"*.example.com\"")?;
    list.iter().map(|p| HostGlob::new(p).map_err(de::Error::custom)).collect()
}

fn de_paths_globs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathGlob>, D::Error> {
    let list = strings(d, "a path pattern such as \"/files/**\"")?;
    list.iter().map(|p| PathGlob::new(p).map_err(de::Error::custom)).collect()
}

fn de_exts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = strings(d, "an extension such as \"iso\"")?;
    list.iter()
        .map(|e| {
            let e = e.trim().trim_start_matches('.').to_lowercase();
            if e.is_empty() || e.contains(['/', '\\', '*', '?']) {
                Err(de::Error::custom(format!(
                    "`{e}` is not an extension: write it without the dot and without wildcards, as in \"iso\" or \"tar.gz\""
                )))
            } else {
                Ok(e)
            }
        })
        .collect()
}

fn de_checksum_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(de::Error::custom(
            "expected the path or http(s) URL of a checksum file, found an empty string",
        ));
    }
    if crate::engine::is_url(text) {
        crate::engine::parse_download_url(text).map_err(de::Error::custom)?;
        return Ok(Some(text.to_string()));
    }
    Ok(Some(super::values::expand_home(text).to_string_lossy().into_owned()))
}

pub(super) fn de_netrc<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NetrcChoice>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Flag(bool),
        File(String),
    }
    let value = toml::Value::deserialize(d)?;
    match Raw::deserialize(value) {
        Ok(Raw::Flag(true)) => Ok(Some(NetrcChoice::Default)),
        Ok(Raw::Flag(false)) => Ok(Some(NetrcChoice::Off)),
        Ok(Raw::File(path)) if !path.trim().is_empty() => {
            Ok(Some(NetrcChoice::File(super::values::expand_home(&path))))
        }
        _ => Err(de::Error::custom("expected true, false or the path of a netrc file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        rule: Rules,
    }

    fn rules(text: &str) -> Rules {
        toml::from_str::<File>(text).unwrap().rule
    }

    fn error(text: &str) -> String {
        toml::from_str::<File>(text).err().unwrap().message().to_string()
    }

    fn which(rules: &Rules, url: &str, name: Option<&str>) -> Option<String> {
        rules.matching(&Url::parse(url).unwrap(), name).map(|m| m.label())
    }

    const ISSUE_EXAMPLE: &str = r#"
        [[rule]]
        name = "example"
        host = "*.example.com"
        dir = "~/Downloads/example"
        connections = 8
        rate_limit = "2M"
        headers = { Referer = "https://example.com/" }
        [[rule]]
        ext = ["iso", "img"]
        dir = "/srv/images"
    "#;

    #[test]
    fn the_first_matching_rule_wins() {
        let r = rules(ISSUE_EXAMPLE);
        assert_eq!(which(&r, "https://dl.example.com/debian.iso", None).as_deref(), Some("example"));
        assert_eq!(which(&r, "https://example.com/x", None).as_deref(), Some("example"));
        assert_eq!(which(&r, "https://mirror.org/debian.ISO", None).as_deref(), Some("rule 2"));
        assert_eq!(which(&r, "https://mirror.org/debian.iso.sig", None), None);
        assert_eq!(which(&r, "https://mirror.org/", None), None);
    }

    #[test]
    fn what_a_rule_sets_is_read() {
        let r = rules(ISSUE_EXAMPLE);
        let first = &r.0[0];
        assert!(first.dir.as_ref().is_some_and(|d| d.ends_with("Downloads/example") && d.is_absolute()));
        assert_eq!((first.connections, first.rate_limit), (Some(8), Some(Some(2 << 20))));
        assert_eq!(first.headers.get("Referer").map(String::as_str), Some("https://example.com/"));
        assert_eq!((first.max_connections_per_host, &first.proxy, &first.netrc), (None, &None, &None));
        let second = &r.0[1];
        assert_eq!(
            (second.dir.as_deref(), second.connections),
            (Some(std::path::Path::new("/srv/images")), None)
        );
        let r = rules(
            "[[rule]]\nrate_limit = \"unlimited\"\nnetrc = false\n[[rule]]\nnetrc = \"/n\"\nproxy = \"socks5h://127.0.0.1:9050\"\nmax_connections_per_host = 2\ncookies_file = \"/c.txt\"",
        );
        assert_eq!((r.0[0].rate_limit, &r.0[0].netrc), (Some(None), &Some(NetrcChoice::Off)));
        assert_eq!(r.0[1].netrc, Some(NetrcChoice::File("/n".into())));
        assert_eq!(
            (r.0[1].max_connections_per_host, r.0[1].cookies_file.as_deref()),
            (Some(2), Some(std::path::Path::new("/c.txt")))
        );
    }

    #[test]
    fn every_condition_given_must_hold() {
        let r = rules("[[rule]]\nhost = [\"a.org\", \"*.b.org\"]\npath = \"/pub/**\"\next = \".TAR.GZ\"\n");
        assert_eq!(which(&r, "https://a.org/pub/x/y.tar.gz", None).as_deref(), Some("rule 1"));
        assert_eq!(which(&r, "https://cdn.b.org/pub/y.tar.gz", None).as_deref(), Some("rule 1"));
        assert_eq!(which(&r, "https://a.org/priv/y.tar.gz", None), None, "path");
        assert_eq!(which(&r, "https://c.org/pub/y.tar.gz", None), None, "host");
        assert_eq!(which(&r, "https://a.org/pub/y.gz", None), None, "ext");
        assert_eq!(which(&r, "https://a.org/pub/.tar.gz", None), None, "a name is more than its extension");
    }

    #[test]
    fn the_real_file_name_decides_the_extension_once_known() {
        let r = rules("[[rule]]\next = \"zip\"\n");
        let url = "https://h/download.php?id=7";
        assert_eq!(which(&r, url, None), None);
        assert_eq!(which(&r, url, Some("Report.ZIP")).as_deref(), Some("rule 1"));
    }

    #[test]
    fn paths_are_matched_decoded_and_ports_do_not_matter() {
        let r = rules("[[rule]]\nhost = \"localhost\"\npath = \"/my files/*\"\n");
        assert_eq!(which(&r, "http://localhost:8080/my%20files/a.bin", None).as_deref(), Some("rule 1"));
    }

    #[test]
    fn a_rule_without_conditions_matches_everything() {
        let r = rules("[[rule]]\nhost = \"x.org\"\n[[rule]]\nname = \"rest\"\n");
        assert_eq!(which(&r, "https://anything.net/f", None).as_deref(), Some("rest"));
    }

    #[test]
    fn mistakes_are_refused_with_what_was_expected() {
        assert!(error("[[rule]]\ndri = \"x\"").contains("unknown field `dri`"));
        assert!(error("[[rule]]\nhost = \"https://e.com/\"").contains("cannot be in a host pattern"));
        assert!(
            error("[[rule]]\nhost = []")
                .contains("expected a host pattern such as \"*.example.com\" or a non-empty list")
        );
        assert!(error("[[rule]]\nhost = 3").contains("expected a host pattern"));
        assert!(error("[[rule]]\next = \"*.iso\"").contains("`*.iso` is not an extension"));
        assert!(error("[[rule]]\nconnections = 0").contains("1 to 32, found 0"));
        assert!(error("[[rule]]\nnetrc = 1").contains("expected true, false or the path of a netrc file"));
        assert!(error("[[rule]]\nrate_limit = \"fast\"").contains("invalid size"));
    }
}
