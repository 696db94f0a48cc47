//! Per-host connection caps shared by every item: a download's first connection waits for a
//! place, extra segment connections only take one if it is free, so many workers with many
//! connections each never open more than the cap to one server. A connection counts against
//! the host it ends up talking to: where a host redirects elsewhere, later first connections
//! to it wait for a place at the redirect's destination. Depends on tokio and `url`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

#[derive(Debug)]
pub struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Caps other than `per_host`, by host key (a `[[rule]]`'s `max_connections_per_host`).
    caps: Mutex<HashMap<String, usize>>,
    /// Where a host's URLs were last seen to redirect to (another host), by host key.
    leads_to: Mutex<HashMap<String, String>>,
    /// Connections per download a host was seen to tolerate (it refused one more with a 503,
    /// 429 or a reset), for the rest of the session: the autopilot never asks it for more.
    tolerated: Mutex<HashMap<String, usize>>,
}

/// A place in one host's cap, given back when dropped.
#[derive(Debug)]
pub struct HostPermit {
    host: String,
    _place: OwnedSemaphorePermit,
}

/// Scheme, host and port: what a connection is made to.
fn host_key(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HostLimits {
    pub fn new(per_host: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            hosts: Mutex::default(),
            caps: Mutex::default(),
            leads_to: Mutex::default(),
            tolerated: Mutex::default(),
        }
    }

    /// The host's cap on connections, as the autopilot sees it: the per-host cap, lowered to
    /// what `url`'s host tolerated earlier in this session.
    pub fn ceiling(&self, url: &Url) -> usize {
        let tolerated = lock(&self.tolerated).get(&host_key(url)).copied();
        tolerated.map_or(self.per_host, |t| t.min(self.per_host))
    }

    /// `url`'s host refused a connection beyond `working` ones.
    pub fn tolerates(&self, url: &Url, working: usize) {
        let mut tolerated = lock(&self.tolerated);
        let entry = tolerated.entry(host_key(url)).or_insert(working);
        *entry = (*entry).min(working.max(1));
    }

    /// Gives `url`'s host its own cap. Only before any connection to it was counted: the
    /// first cap a host gets in a session holds (a cap belongs to the host, not to one
    /// download, and shrinking a semaphore others hold places in would not be honest).
    pub fn set_cap(&self, url: &Url, cap: usize) {
        let host = host_key(url);
        if !lock(&self.hosts).contains_key(&host) {
            lock(&self.caps).entry(host).or_insert(cap.max(1));
        }
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = lock(&self.hosts);
        let entry = hosts.entry(host.to_string());
        Arc::clone(entry.or_insert_with(|| {
            let cap = lock(&self.caps).get(host).copied().unwrap_or(self.per_host);
            Arc::new(Semaphore::new(cap))
        }))
    }

    /// The host a request for `url` is expected to end up at.
    fn destination(&self, url: &Url) -> String {
        let asked = host_key(url);
        lock(&self.leads_to).get(&asked).cloned().unwrap_or(asked)
    }

    /// Waits for a place for a download's first connection, at the host `url` is expected to
    /// end up at.
    pub async fn acquire(&self, url: &Url) -> HostPermit {
        loop {
            let host = self.destination(url);
            // The semaphore is never closed, so acquiring cannot fail.
            let Ok(place) = self.semaphore(&host).acquire_owned().await else {
                unreachable!("host semaphores are never closed")
            };
            // A redirect learned while this one waited changes where it should wait.
            if self.destination(url) == host {
                return HostPermit { host, _place: place };
            }
        }
    }

    /// A place for an extra connection to `url`'s own host, only if one is free now.
    pub fn try_acquire(&self, url: &Url) -> Option<HostPermit> {
        let host = host_key(url);
        let place = self.semaphore(&host).try_acquire_owned().ok()?;
        Some(HostPermit { host, _place: place })
    }

    /// Waits until `url`'s own host has a free place, without keeping it: after `settle` found
    /// none, so that the next attempt does not ask again before one is free.
    pub async fn wait_for_place(&self, url: &Url) {
        let _ = self.semaphore(&host_key(url)).acquire_owned().await;
    }

    /// After an answer for `asked` came from `answered` (redirects followed): remembers where
    /// `asked`'s host leads, and moves `permit` to the host actually answering. `None` when
    /// that host has no free place: the caller drops this connection and waits in `acquire`,
    /// which now waits at the right host.
    pub fn settle(&self, permit: HostPermit, asked: &Url, answered: &Url) -> Option<HostPermit> {
        let (from, to) = (host_key(asked), host_key(answered));
        {
            let mut leads_to = lock(&self.leads_to);
            if from == to {
                leads_to.remove(&from);
            } else {
                leads_to.insert(from, to.clone());
            }
        }
        if permit.host == to {
            return Some(permit);
        }
        let place = self.semaphore(&to).try_acquire_owned().ok()?;
        Some(HostPermit { host: to, _place: place })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn caps_each_host_separately() {
        let limits = HostLimits::new(2);
        let (a, b) = (url("http://a.example/x"), url("http://b.example/y"));
        let _p1 = limits.acquire(&a).await;
        let p2 = limits.try_acquire(&a).expect("second place");
        assert!(limits.try_acquire(&a).is_none(), "cap of 2 reached");
        assert!(limits.try_acquire(&b).is_some(), "other hosts are not affected");
        drop(p2);
        assert!(limits.try_acquire(&a).is_some(), "a dropped permit frees its place");
    }

    #[tokio::test]
    async fn a_redirected_connection_counts_at_its_destination_and_later_ones_wait_there() {
        let limits = HostLimits::new(1);
        let (origin, mirror) = (url("http://origin.example/f"), url("https://mirror.example/f"));
        let first = limits.acquire(&origin).await;
        let first = limits.settle(first, &origin, &mirror).expect("the mirror has a free place");
        assert!(limits.try_acquire(&origin).is_some(), "the origin's place was given back");
        assert!(limits.try_acquire(&mirror).is_none(), "the mirror's one place is taken");
        // A second download from the origin now waits for the mirror.
        let waiting = limits.acquire(&origin);
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(first);
        let second = waiting.await;
        assert!(limits.try_acquire(&mirror).is_none(), "the second holds the mirror's place");
        // An answer straight from the origin forgets the redirect.
        let _second = limits.settle(second, &origin, &origin).expect("the origin has a free place");
        assert!(limits.try_acquire(&mirror).is_some(), "the mirror's place was given back");
        assert!(limits.try_acquire(&origin).is_none());
        assert_eq!(limits.destination(&origin), host_key(&origin));
    }

    #[test]
    fn a_refusal_lowers_the_hosts_ceiling_for_the_session() {
        let limits = HostLimits::new(16);
        let (a, b) = (url("http://a.example/x"), url("http://b.example/y"));
        assert_eq!(limits.ceiling(&a), 16);
        limits.tolerates(&a, 3);
        limits.tolerates(&url("http://a.example/other"), 5);
        assert_eq!(limits.ceiling(&a), 3, "the lowest seen stays");
        assert_eq!(limits.ceiling(&b), 16, "other hosts are not affected");
    }

    #[tokio::test]
    async fn a_redirect_to_a_full_host_gives_no_place() {
        let limits = HostLimits::new(1);
        let (origin, mirror) = (url("http://origin.example/f"), url("http://mirror.example/f"));
        let _busy = limits.try_acquire(&mirror).unwrap();
        let first = limits.acquire(&origin).await;
        assert!(limits.settle(first, &origin, &mirror).is_none());
        assert!(limits.try_acquire(&origin).is_some(), "the origin's place was given back");
    }
}
