//! Host key-value buckets offered to components through the `wasmplug:dapr/keyvalue-*`
//! imports.
//!
//! Every bucket is a [`Bucket`]: a versioned map with one primitive that Dapr semantics need
//! and `wasi:keyvalue` lacks, [`Bucket::commit`]: an ordered list of writes, each with a
//! precondition, applied atomically. Everything else (`set`, `delete`, `increment`, batches)
//! is built on `get` + `commit`, so both backends share one definition of correct.
//!
//! Two backends:
//! - [`memory::MemoryBucket`]: a `BTreeMap` behind a per-bucket mutex; lost on exit.
//! - [`durable::DurableBucket`]: one embedded [`redb`] database file per bucket; a commit is
//!   one redb write transaction with immediate durability, so an acknowledged write
//!   survives a crash or restart. Writers to *different* buckets never contend.
//!
//! Buckets are namespaced per (component, Dapr instance name, bucket name) by
//! [`KvManager`], so two components or two instances never see each other's keys.

pub mod durable;
pub(crate) mod host;
pub mod memory;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Errors from a bucket backend.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The backend failed (I/O, corruption); the message says how.
    #[error("key-value backend error: {0}")]
    Backend(String),
    /// A request the host refuses (too large, bad cursor, ...).
    #[error("invalid key-value request: {0}")]
    Invalid(String),
}

/// A condition one write in a [`Bucket::commit`] requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No condition.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this version.
    Version(u64),
}

/// One write of a commit; `value: None` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Key to write.
    pub key: String,
    /// What must hold, given the writes before this one in the same commit.
    pub precondition: Precondition,
    /// New value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// Why a commit did not apply.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The precondition of the write at this index failed; nothing was written.
    #[error("precondition of write {0} failed")]
    Conflict(u32),
    /// The backend failed; nothing was written.
    #[error(transparent)]
    Kv(#[from] KvError),
}

/// A value and the version the bucket assigned when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Stored bytes.
    pub value: Vec<u8>,
    /// Unique within the bucket, strictly increasing with every write.
    pub version: u64,
}

/// Limits that keep a hostile guest from using the host store as unbounded memory.
pub const MAX_KEY_LEN: usize = 4096;
/// Largest value a guest may store in one key.
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;
/// Most writes in one commit.
pub const MAX_COMMIT_WRITES: usize = 10_000;
/// Keys returned per `list-keys` page.
pub const LIST_PAGE: usize = 1000;

/// A versioned key-value namespace.
pub trait Bucket: Send + Sync + std::fmt::Debug {
    /// Current value and version of `key`.
    fn get(&self, key: &str) -> Result<Option<Versioned>, KvError>;
    /// Apply `writes` in order, atomically; returns each write's new version (0 for deletes).
    fn commit(&self, writes: &[Write]) -> Result<Vec<u64>, CommitError>;
    /// Up to `limit` keys strictly greater than `after`, ascending.
    fn keys_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, KvError>;
}

/// Checks sizes and counts of a commit before any backend sees it.
pub(crate) fn validate_writes(writes: &[Write]) -> Result<(), KvError> {
    if writes.len() > MAX_COMMIT_WRITES {
        return Err(KvError::Invalid(format!(
            "a commit may hold at most {MAX_COMMIT_WRITES} writes, got {}",
            writes.len()
        )));
    }
    for w in writes {
        validate_key(&w.key)?;
        if let Some(v) = &w.value
            && v.len() > MAX_VALUE_LEN
        {
            return Err(KvError::Invalid(format!(
                "value for key {:?} is {} bytes; the limit is {MAX_VALUE_LEN}",
                w.key,
                v.len()
            )));
        }
    }
    Ok(())
}

pub(crate) fn validate_key(key: &str) -> Result<(), KvError> {
    if key.len() > MAX_KEY_LEN {
        return Err(KvError::Invalid(format!(
            "key is {} bytes; the limit is {MAX_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

/// Checks one precondition against the version currently visible (`None` = absent).
pub(crate) fn holds(pre: Precondition, current: Option<u64>) -> bool {
    match pre {
        Precondition::Any => true,
        Precondition::Absent => current.is_none(),
        Precondition::Version(v) => current == Some(v),
    }
}

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
