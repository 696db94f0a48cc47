//! What one download may set for itself besides its folder and limits: request headers,
//! cookies, its `.netrc` choice, a proxy, a refresh command and a per-host connection cap. The
//! session fills it from the `[[rule]]` the download matched or from a pasted "Copy as cURL".
//! Kept in memory only: headers and cookies are secrets, so none of it is ever in an event,
//! a snapshot (the rule's label aside) or the saved queue. Depends on reqwest's header types
//! and the engine's cookie, netrc, program and checksum-file types.

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::cookies::CookieJar;
use super::hosts::HostLimits;
use super::netrc::{Credentials, Netrc};
use super::program::Program;
use super::sums::ChecksumFile;

/// One download's own settings; `None` or empty fields leave the engine's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemSettings {
    /// Sent with every request of this download, on top of the engine's headers; a name
    /// given in both takes this value.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Cookies sent besides the engine's, each to its own domain and path only.
    pub cookies: CookieJar,
    /// Which logins go with this download; `None`: the engine's `.netrc`.
    pub netrc: Option<NetrcUse>,
    /// A login for one host (a pasted `curl -u`), used before any `.netrc` for that host
    /// only, as Basic auth; never sent to another host, a redirect's included.
    pub login: Option<(String, Credentials)>,
    /// A proxy for this download only (its clients are made once per proxy and shared).
    pub proxy: Option<String>,
    /// The refresh command of this download; `None`: the engine's.
    pub refresh_command: Option<Arc<Program>>,
    /// The cap on connections to this download's host. The first download of a host in a
    /// session sets its cap; later ones share it (a cap is per host, not per download).
    pub max_connections_per_host: Option<usize>,
    /// The name of the `[[rule]]` these came from, shown in the item's snapshot.
    pub rule: Option<String>,
    /// Folders by the file's extension, decided when the server names the file (see
    /// `rule_folders`); empty when the folder was given or no rule needs the name.
    pub folders_by_ext: Vec<super::rule_folders::FolderByExt>,
    /// This download's own checksum file (`dlm add --checksum-file`, a rule's
    /// `checksum_file`), matched like the engine's: by the item's file name, then the URL's
    /// last segment. It wins over the engine's checksum files; a checksum given with the item
    /// wins over both. One that cannot be read or fetched fails the item, saying why.
    pub checksum_file: Option<Arc<ChecksumFile>>,
}

/// A download's `.netrc` choice when it is not the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetrcUse {
    /// No login from any `.netrc`.
    Off,
    /// Logins from this (already read) file instead.
    File(Netrc),
}

impl ItemSettings {
    /// Adds a header, checked now so that a bad one is refused with words at add time
    /// rather than failing every request.
    pub fn header(&mut self, name: &str, value: &str) -> Result<(), String> {
        let shown = || format!("header `{}`", name.trim());
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| format!("{}: {e}", shown()))?;
        let mut value = HeaderValue::from_str(value.trim()).map_err(|e| format!("{}: {e}", shown()))?;
        // A download's own headers are often logins (`Authorization`, tokens): `Debug` and
        // HTTP/2's header tables then leave the value out.
        value.set_sensitive(true);
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        Ok(())
    }

    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The `.netrc` to look logins up in for this download, given the engine's.
    pub fn netrc<'a>(&'a self, engine: Option<&'a Netrc>) -> Option<&'a Netrc> {
        match &self.netrc {
            None => engine,
            Some(NetrcUse::Off) => None,
            Some(NetrcUse::File(netrc)) => Some(netrc),
        }
    }

    /// The login given for `host` itself, if any.
    pub fn login_for(&self, host: &str) -> Option<&Credentials> {
        self.login.as_ref().filter(|(h, _)| h.eq_ignore_ascii_case(host)).map(|(_, c)| c)
    }

    /// Takes these settings into a new item of `url`: its refresh command, its host's cap and
    /// the rule's name for its snapshot. Returns them, for the item to keep.
    pub fn admit(
        self: Arc<Self>,
        hosts: &HostLimits,
        url: &Url,
        refresh: &mut Option<Arc<Program>>,
        rule: &mut Option<String>,
    ) -> Arc<Self> {
        if let Some(program) = &self.refresh_command {
            *refresh = Some(Arc::clone(program));
        }
        if let Some(cap) = self.max_connections_per_host {
            hosts.set_cap(url, cap);
        }
        rule.clone_from(&self.rule);
        self
    }

    /// This download's own cookies for `url`, if any.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        self.cookies.header_for(url)
    }
}

/// Both `Cookie` header values as one (the engine's first); `None` when neither has any.
pub fn join_cookies(engine: Option<String>, own: Option<String>) -> Option<String> {
    match (engine, own) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_given_twice_keeps_the_last_and_a_bad_one_is_refused() {
        let mut s = ItemSettings::default();
        s.header("X-Token", "a").unwrap();
        s.header("x-token", "b").unwrap();
        assert_eq!(s.headers().len(), 1);
        assert_eq!(s.headers()[0].1, "b");
        assert!(s.header("Bad Name", "v").unwrap_err().contains("header `Bad Name`"));
        assert!(s.header("X", "line\nbreak").is_err());
    }

    #[test]
    fn netrc_off_hides_the_engines_logins() {
        let engine = Netrc::default();
        let off = ItemSettings { netrc: Some(NetrcUse::Off), ..ItemSettings::default() };
        assert!(off.netrc(Some(&engine)).is_none());
        assert!(ItemSettings::default().netrc(Some(&engine)).is_some());
    }
}
