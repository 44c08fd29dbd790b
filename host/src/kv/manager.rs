//! Opening buckets: which backend, where its data lives, and one shared handle per bucket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::bucket::{Bucket, KvError};
use super::redis::{RedisBucket, RedisConfig, RedisStore, StoreError};
use super::{durable, memory};

/// Where a granted bucket keeps its data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// Embedded, file-backed, survives restarts (the default).
    #[default]
    Durable,
    /// In process memory; gone when the host exits.
    Memory,
    /// The Redis store of this name (a `keyValueStores` entry), shared across processes.
    Redis(String),
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Durable => f.write_str("durable"),
            Self::Memory => f.write_str("memory"),
            Self::Redis(name) => write!(f, "{name}"),
        }
    }
}

/// Opens and shares buckets. Durable bucket files can be opened only once per process, so
/// every open goes through here and is shared while anyone holds it.
#[derive(Debug)]
pub struct KvManager {
    data_dir: PathBuf,
    stores: HashMap<String, Arc<RedisStore>>,
    open: Mutex<HashMap<(Backend, String), Arc<dyn Bucket>>>,
}

impl KvManager {
    /// Buckets with the durable backend live under `data_dir`; no Redis stores.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            stores: HashMap::new(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Also opens buckets in these Redis stores (nothing connects until first use).
    pub fn with_redis(data_dir: PathBuf, stores: &[RedisConfig]) -> Result<Self, StoreError> {
        let mut manager = Self::new(data_dir);
        for config in stores {
            let store = RedisStore::new(config.clone()).map_err(|message| StoreError {
                store: config.name.clone(),
                urls: config.redacted_urls(),
                message,
            })?;
            manager.stores.insert(config.name.clone(), Arc::new(store));
        }
        Ok(manager)
    }

    /// The directory durable buckets are stored in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Opens the bucket `bucket` of `component`'s instance `instance`.
    pub fn open(
        &self,
        backend: &Backend,
        component: &str,
        instance: &str,
        bucket: &str,
    ) -> Result<Arc<dyn Bucket>, KvError> {
        let namespace = format!(
            "{}/{}/{}",
            path_segment(component),
            path_segment(instance),
            path_segment(bucket)
        );
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = open.get(&(backend.clone(), namespace.clone())) {
            return Ok(b.clone());
        }
        let bucket: Arc<dyn Bucket> = match backend {
            Backend::Memory => Arc::new(memory::MemoryBucket::default()),
            Backend::Durable => {
                let path = self.data_dir.join(format!("{namespace}.redb"));
                Arc::new(durable::DurableBucket::open(&path)?)
            }
            Backend::Redis(name) => {
                let store = self.stores.get(name).ok_or_else(|| {
                    KvError::Invalid(format!("no key-value store named {name:?} is configured"))
                })?;
                Arc::new(RedisBucket::new(store.clone(), &namespace))
            }
        };
        open.insert((backend.clone(), namespace), bucket.clone());
        Ok(bucket)
    }
}

/// Encodes a name so it is one safe path segment (no separators, no `..`), and distinct
/// names stay distinct.
fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("../etc"), "%2E%2E%2Fetc");
        assert_eq!(path_segment("a.b"), "a%2Eb");
        assert_eq!(path_segment(""), "%00");
        assert_ne!(path_segment("a/b"), path_segment("a_b"));
    }
}
