//! In-memory bucket backend.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::bucket::{
    Bucket, CommitError, KvError, KvFuture, Versioned, Write, holds, validate_writes,
};

/// A bucket in process memory. One mutex per bucket: commits on different buckets never
/// contend, and a commit is atomic because it holds this bucket's lock throughout.
#[derive(Debug, Default)]
pub struct MemoryBucket {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<String, Versioned>,
    last_version: u64,
}

impl MemoryBucket {
    fn commit_now(&self, writes: Vec<Write>) -> Result<Vec<u64>, CommitError> {
        validate_writes(&writes)?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Check every precondition against the state the earlier writes would leave,
        // before touching anything, so a failure changes nothing.
        let mut overlay: BTreeMap<&str, Option<u64>> = BTreeMap::new();
        let mut next = inner.last_version;
        let mut versions = Vec::with_capacity(writes.len());
        for (i, w) in writes.iter().enumerate() {
            let current = match overlay.get(w.key.as_str()) {
                Some(v) => *v,
                None => inner.entries.get(&w.key).map(|e| e.version),
            };
            if !holds(w.precondition, current) {
                return Err(CommitError::Conflict(u32::try_from(i).unwrap_or(u32::MAX)));
            }
            let new = match w.value {
                Some(_) => {
                    next += 1;
                    Some(next)
                }
                None => None,
            };
            overlay.insert(&w.key, new);
            versions.push(new.unwrap_or(0));
        }
        drop(overlay);
        for (w, version) in writes.into_iter().zip(&versions) {
            match w.value {
                Some(value) => {
                    let version = *version;
                    inner.entries.insert(w.key, Versioned { value, version });
                }
                None => {
                    inner.entries.remove(&w.key);
                }
            }
        }
        inner.last_version = next;
        Ok(versions)
    }

    fn keys_after_now(&self, after: Option<&str>, limit: usize) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let iter: Box<dyn Iterator<Item = &String>> = match after {
            Some(a) => Box::new(
                inner
                    .entries
                    .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
                    .map(|(k, _)| k),
            ),
            None => Box::new(inner.entries.keys()),
        };
        iter.take(limit).cloned().collect()
    }
}

impl Bucket for MemoryBucket {
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Result<Option<Versioned>, KvError>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let found = inner.entries.get(key).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn commit(&self, writes: Vec<Write>) -> KvFuture<'_, Result<Vec<u64>, CommitError>> {
        Box::pin(std::future::ready(self.commit_now(writes)))
    }

    fn keys_after<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> KvFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(std::future::ready(Ok(self.keys_after_now(after, limit))))
    }
}
