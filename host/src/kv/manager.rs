//! Opening buckets: which backend, where its data lives, and one shared handle per bucket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::bucket::{Bucket, KvError};
use super::{durable, memory};

/// Where a granted bucket keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded, file-backed, survives restarts (the default).
    #[default]
    Durable,
    /// In process memory; gone when the host exits.
    Memory,
}

/// Opens and shares buckets. Durable bucket files can be opened only once per process, so
/// every open goes through here and is shared while anyone holds it.
#[derive(Debug)]
pub struct KvManager {
    data_dir: PathBuf,
    open: Mutex<HashMap<(Backend, PathBuf), Arc<dyn Bucket>>>,
}

impl KvManager {
    /// Buckets with the durable backend live under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The directory durable buckets are stored in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Opens the bucket `bucket` of `component`'s instance `instance`.
    pub fn open(
        &self,
        backend: Backend,
        component: &str,
        instance: &str,
        bucket: &str,
    ) -> Result<Arc<dyn Bucket>, KvError> {
        let rel = PathBuf::from(path_segment(component))
            .join(path_segment(instance))
            .join(format!("{}.redb", path_segment(bucket)));
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = open.get(&(backend, rel.clone())) {
            return Ok(b.clone());
        }
        let bucket: Arc<dyn Bucket> = match backend {
            Backend::Memory => Arc::new(memory::MemoryBucket::default()),
            Backend::Durable => Arc::new(durable::DurableBucket::open(&self.data_dir.join(&rel))?),
        };
        open.insert((backend, rel), bucket.clone());
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
