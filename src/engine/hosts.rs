//! Per-host connection caps shared by every item: a download's first connection waits for a
//! place, extra segment connections only take one if it is free, so many workers with many
//! connections each never open more than the cap to one server. Depends on tokio and `url`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

#[derive(Debug)]
pub struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A place in a host's cap, given back when dropped.
pub type HostPermit = OwnedSemaphorePermit;

impl HostLimits {
    pub fn new(per_host: usize) -> Self {
        Self { per_host: per_host.max(1), hosts: Mutex::new(HashMap::new()) }
    }

    fn semaphore(&self, url: &Url) -> Arc<Semaphore> {
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(hosts.entry(key).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))))
    }

    /// Waits for a place for a download's first connection.
    pub async fn acquire(&self, url: &Url) -> HostPermit {
        let semaphore = self.semaphore(url);
        // The semaphore is never closed, so acquiring cannot fail.
        match semaphore.acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("host semaphores are never closed"),
        }
    }

    /// A place for an extra connection, only if one is free now.
    pub fn try_acquire(&self, url: &Url) -> Option<HostPermit> {
        self.semaphore(url).try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_each_host_separately() {
        let limits = HostLimits::new(2);
        let a = Url::parse("http://a.example/x").unwrap();
        let b = Url::parse("http://b.example/y").unwrap();
        let _p1 = limits.acquire(&a).await;
        let p2 = limits.try_acquire(&a).expect("second place");
        assert!(limits.try_acquire(&a).is_none(), "cap of 2 reached");
        assert!(limits.try_acquire(&b).is_some(), "other hosts are not affected");
        drop(p2);
        assert!(limits.try_acquire(&a).is_some(), "a dropped permit frees its place");
    }
}
