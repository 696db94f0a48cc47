//! Per-host connection caps shared by every item: a download's first connection waits for a
//! place, extra segment connections only take one if it is free, so many workers with many
//! connections each never open more than the cap to one server. A connection counts against
//! the host it ends up talking to: where a host redirects elsewhere, later first connections
//! to it wait for a place at the redirect's destination. Until a host has answered once, its
//! first connections go one at a time (the first answer says where the host leads), so
//! several downloads starting together cannot all land on a redirect's destination before
//! anyone knows it is full. Depends on tokio and `url`.

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
    /// Each host's first connections: taking turns until one is answered, then free.
    first: Mutex<HashMap<String, FirstConnections>>,
}

/// How a host's first connections go (see the module's doc).
#[derive(Debug)]
enum FirstConnections {
    /// One at a time, by this semaphore's single permit, until the host answers.
    Turns(Arc<Semaphore>),
    /// The host answered (or a first connection got no answer at all): no turns.
    Free,
}

/// A place in one host's cap, given back when dropped.
#[derive(Debug)]
pub struct HostPermit {
    host: String,
    _place: OwnedSemaphorePermit,
    /// The turn of a host that has not answered yet, held until its answer is settled.
    _first: Option<OwnedSemaphorePermit>,
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

/// A permit of `semaphore`, once one is free.
async fn wait(semaphore: Arc<Semaphore>) -> OwnedSemaphorePermit {
    // The semaphores here are never closed, so acquiring cannot fail.
    let Ok(permit) = semaphore.acquire_owned().await else {
        unreachable!("host semaphores are never closed")
    };
    permit
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
            first: Mutex::default(),
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
        let mut first = match self.unanswered_turn(&host_key(url)) {
            Some(turn) => Some(wait(turn).await),
            None => None,
        };
        loop {
            // The host answered while this one waited for its turn: no turn needed.
            if first.is_some() && self.unanswered_turn(&host_key(url)).is_none() {
                first = None;
            }
            let host = self.destination(url);
            let place = wait(self.semaphore(&host)).await;
            // A redirect learned while this one waited changes where it should wait.
            if self.destination(url) == host {
                return HostPermit { host, _place: place, _first: first };
            }
        }
    }

    /// The turn to take before a first connection to `host`, while it has never answered.
    fn unanswered_turn(&self, host: &str) -> Option<Arc<Semaphore>> {
        let mut first = lock(&self.first);
        match first
            .entry(host.to_string())
            .or_insert_with(|| FirstConnections::Turns(Arc::new(Semaphore::new(1))))
        {
            FirstConnections::Turns(turn) => Some(Arc::clone(turn)),
            FirstConnections::Free => None,
        }
    }

    /// A place for an extra connection to `url`'s own host, only if one is free now.
    pub fn try_acquire(&self, url: &Url) -> Option<HostPermit> {
        let host = host_key(url);
        let place = self.semaphore(&host).try_acquire_owned().ok()?;
        Some(HostPermit { host, _place: place, _first: None })
    }

    /// Waits until `url`'s own host has a free place, without keeping it: after `settle` found
    /// none, so that the next attempt does not ask again before one is free.
    pub async fn wait_for_place(&self, url: &Url) {
        let _ = self.semaphore(&host_key(url)).acquire_owned().await;
    }

    /// The first connection to `asked`'s host failed without an answer (refused, timed out,
    /// not HTTP): the turns end there, or a dead host would fail its downloads one at a time
    /// instead of as many at once as the workers allow. A failed connection learns no
    /// redirect, so nothing can arrive at a destination too many.
    pub fn unanswered(&self, permit: HostPermit, asked: &Url) {
        self.known(&host_key(asked));
        drop(permit);
    }

    /// `host`'s next first connections need no turn.
    fn known(&self, host: &str) {
        lock(&self.first).insert(host.to_string(), FirstConnections::Free);
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
                leads_to.insert(from.clone(), to.clone());
            }
        }
        self.known(&from);
        let HostPermit { host, _place: place, _first: turn } = permit;
        drop(turn);
        if host == to {
            return Some(HostPermit { host, _place: place, _first: None });
        }
        drop(place);
        let place = self.semaphore(&to).try_acquire_owned().ok()?;
        Some(HostPermit { host: to, _place: place, _first: None })
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

    #[tokio::test]
    async fn until_a_host_answers_its_first_connections_go_one_at_a_time() {
        let limits = HostLimits::new(4);
        let (origin, mirror) = (url("http://origin.example/f"), url("http://mirror.example/f"));
        let first = limits.acquire(&origin).await;
        let second = limits.acquire(&origin);
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending(), "the origin has places, but no answer yet");
        // The answer came from the mirror: the second waits there, with no turn to take.
        let _first = limits.settle(first, &origin, &mirror).unwrap();
        let second = second.await;
        assert_eq!(second.host, host_key(&mirror));
        let _third = limits.acquire(&origin).await;
        // A first connection dropped for another reason (stopped) passes its turn on.
        let other = url("http://other.example/f");
        let stopped = limits.acquire(&other).await;
        let next = limits.acquire(&other);
        tokio::pin!(next);
        assert!(futures::poll!(next.as_mut()).is_pending());
        drop(stopped);
        let next = next.await;
        // One that got no answer ends the turns: the rest go at once.
        let third = limits.acquire(&other);
        tokio::pin!(third);
        assert!(futures::poll!(third.as_mut()).is_pending());
        limits.unanswered(next, &other);
        let _third = third.await;
        let _fourth = limits.acquire(&other).await;
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
