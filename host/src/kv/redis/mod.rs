//! The Redis backend: buckets shared by every wasmplug process pointed at one Redis (or one
//! Redis Cluster), so an app's replicas see one store.
//!
//! A [`RedisStore`] is one `keyValueStores` entry of the config: its connections, opened
//! lazily on first use and re-established by the client when Redis comes back. A
//! [`RedisBucket`] is one bucket of one component instance inside it, with every key under
//! one hash tag, so a bucket lives in one Cluster slot and a commit is one server-side
//! script there. The key layout is documented in `docs/redis.md`.

mod bucket;
mod conn;

use std::time::Duration;

pub use bucket::RedisBucket;
pub use conn::RedisStore;

/// A store that cannot be set up from its config (a certificate that does not parse, ...).
#[derive(Debug, thiserror::Error)]
#[error("key-value store {store:?} ({urls}): {message}")]
pub struct StoreError {
    /// The store's name.
    pub store: String,
    /// Its URLs, passwords redacted.
    pub urls: String,
    /// What is wrong.
    pub message: String,
}

/// One configured Redis store, resolved. `Debug` never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The store's name in the config.
    pub name: String,
    /// The server's URL, or the Cluster's seed nodes (`redis://` or `rediss://`).
    pub urls: Vec<String>,
    /// Whether `urls` are the seed nodes of a Redis Cluster.
    pub cluster: bool,
    /// Connect timeout, and the longest one operation may wait for its answer.
    pub timeout: Duration,
    /// Multiplexed connections to a single server, used round robin.
    pub connections: usize,
    /// After every commit, `WAIT` until this many replicas acknowledged it.
    pub min_replicas: u32,
    /// PEM certificates for `rediss://`, beyond the system's roots.
    pub tls: Option<TlsFiles>,
}

/// PEM material read from the files the config names.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// Root certificate(s) to trust instead of the system's.
    pub ca: Option<Vec<u8>>,
    /// Client certificate and key, for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl RedisConfig {
    /// Defaults for what the config leaves out: 2 s timeout, one connection, no `WAIT`.
    pub fn new(name: impl Into<String>, urls: Vec<String>) -> Self {
        Self {
            name: name.into(),
            urls,
            cluster: false,
            timeout: Duration::from_secs(2),
            connections: 1,
            min_replicas: 0,
            tls: None,
        }
    }

    /// The URLs with any password replaced by `***`, for logs and errors.
    pub fn redacted_urls(&self) -> String {
        self.urls
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("name", &self.name)
            .field("urls", &self.redacted_urls())
            .field("cluster", &self.cluster)
            .field("timeout", &self.timeout)
            .field("connections", &self.connections)
            .field("min_replicas", &self.min_replicas)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca.is_some())
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// `url` with the password of its user info (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL at all: it could be anything, so show none of it.
        return "<not a URL>".to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("redis://:s3cret@db:6379/0"),
            "redis://:***@db:6379/0"
        );
        assert_eq!(
            redact("rediss://app:p@ss:w0rd@db/1"),
            "rediss://app:***@db/1"
        );
        assert_eq!(redact("redis://db:6379"), "redis://db:6379");
        assert_eq!(redact("s3cret"), "<not a URL>");
        let c = RedisConfig::new("shared", vec!["redis://u:hunter2@h/0".into()]);
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redis://u:***@h/0"), "{shown}");
    }
}
