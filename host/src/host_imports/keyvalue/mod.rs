//! The `wasmplug:dapr/keyvalue-*` imports over [`crate::kv`] buckets.
//!
//! Every import is `async`: a backend awaits its I/O (a Redis round trip, a redb fsync on
//! the blocking pool) instead of blocking an executor thread, and the guest's fiber is
//! suspended meanwhile. A local read is a ready future, so it costs next to nothing.
//!
//! While the host awaits a backend, the guest runs no code, so its epoch deadline cannot
//! fire: every await here is bounded by the time left before the call's deadline instead,
//! and an error names the component and the bucket.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Resource;

use super::resource::BucketResource;
use crate::bindings::{
    keyvalue_atomics as atomics, keyvalue_batch as batch, keyvalue_store as store,
};
use crate::kv::bucket::{
    Bucket, CommitError, KvError, LIST_PAGE, MAX_COMMIT_WRITES, Precondition, Versioned, Write,
    validate_key,
};
use crate::runtime::sandbox::InstanceState;

/// Most keys in one batch call.
const MAX_BATCH: usize = MAX_COMMIT_WRITES;

/// How often `increment` retries a commit that lost a race with another writer before it
/// gives up with an error (each retry means another writer made progress).
pub const MAX_INCREMENT_ATTEMPTS: usize = 100;

fn check_batch(n: usize) -> Result<(), store::Error> {
    if n > MAX_BATCH {
        return Err(store::Error::Other(format!(
            "a batch may hold at most {MAX_BATCH} keys, got {n}"
        )));
    }
    Ok(())
}

/// A granted bucket as one import call sees it: the backend, where errors come from, and
/// how long the call may still wait on it.
struct Open {
    bucket: Arc<dyn Bucket>,
    component: Arc<str>,
    name: String,
    time_left: Duration,
}

impl Open {
    /// A backend error as the guest sees it: naming the component and the bucket.
    fn err(&self, e: KvError) -> store::Error {
        store::Error::Other(format!(
            "component {:?}, bucket {:?}: {e}",
            self.component, self.name
        ))
    }

    /// Awaits `op`, but not past the call's deadline.
    async fn bounded<T, E: From<KvError>>(
        &self,
        op: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        match tokio::time::timeout(self.time_left, op).await {
            Ok(r) => r,
            Err(_) => Err(E::from(KvError::Backend(
                "the call's deadline passed while waiting on the key-value store".into(),
            ))),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, store::Error> {
        validate_key(key).map_err(|e| self.err(e))?;
        self.bounded(self.bucket.get(key))
            .await
            .map_err(|e| self.err(e))
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<Vec<u64>, CommitError> {
        self.bounded(self.bucket.commit(writes)).await
    }

    /// A commit of unconditional writes: a conflict cannot happen.
    async fn commit_unconditional(&self, writes: Vec<Write>) -> Result<(), store::Error> {
        self.commit(writes).await.map(drop).map_err(|e| match e {
            CommitError::Kv(e) => self.err(e),
            CommitError::Conflict(_) => store::Error::Other("unexpected write conflict".into()),
        })
    }

    /// Adds `delta` to the counter at `key` atomically: an optimistic read-modify-write
    /// that retries while another writer got in between, but not forever.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, store::Error> {
        for _ in 0..MAX_INCREMENT_ATTEMPTS {
            let current = self.get(key).await?;
            let (new, precondition) = next_count(key, current, delta)?;
            let write = Write {
                key: key.to_owned(),
                precondition,
                value: Some(new.to_le_bytes().to_vec()),
            };
            match self.commit(vec![write]).await {
                Ok(_) => return Ok(new),
                Err(CommitError::Conflict(_)) => continue,
                Err(CommitError::Kv(e)) => return Err(self.err(e)),
            }
        }
        Err(store::Error::Other(format!(
            "counter {key:?} changed under {MAX_INCREMENT_ATTEMPTS} attempts in a row (too many concurrent writers); try again"
        )))
    }
}

fn unconditional(key: String, value: Option<Vec<u8>>) -> Write {
    Write {
        key,
        precondition: Precondition::Any,
        value,
    }
}

/// The counter after adding `delta` to `current` (absent = 0), and the precondition that
/// pins the value it was computed from.
fn next_count(
    key: &str,
    current: Option<Versioned>,
    delta: i64,
) -> Result<(i64, Precondition), store::Error> {
    let (old, precondition) = match current {
        Some(v) => {
            let bytes: [u8; 8] = v.value.as_slice().try_into().map_err(|_| {
                store::Error::Other(format!("key {key:?} does not hold an 8-byte counter"))
            })?;
            (i64::from_le_bytes(bytes), Precondition::Version(v.version))
        }
        None => (0, Precondition::Absent),
    };
    let new = old
        .checked_add(delta)
        .ok_or_else(|| store::Error::Other(format!("counter {key:?} would overflow")))?;
    Ok((new, precondition))
}

impl InstanceState {
    fn bucket(&self, handle: &Resource<BucketResource>) -> Result<Open, store::Error> {
        let r = self
            .table
            .get(handle)
            .map_err(|e| store::Error::Other(format!("invalid bucket handle: {e}")))?;
        Ok(Open {
            bucket: r.bucket.clone(),
            component: self.component.clone(),
            name: r.name.clone(),
            time_left: self.time_left(),
        })
    }
}

impl store::Host for InstanceState {
    fn open(&mut self, identifier: String) -> Result<Resource<BucketResource>, store::Error> {
        let Some(bucket) = self.buckets.get(&identifier) else {
            tracing::debug!(component = %self.component, bucket = %identifier, "bucket not granted");
            return Err(store::Error::NoSuchStore);
        };
        let bucket = bucket.clone();
        self.table
            .push(BucketResource {
                name: identifier,
                bucket,
            })
            .map_err(|e| store::Error::Other(format!("too many open buckets: {e}")))
    }
}

impl store::HostBucket for InstanceState {
    async fn get(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let open = self.bucket(&this)?;
        Ok(open.get(&key).await?.map(|v| v.value))
    }

    async fn set(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let open = self.bucket(&this)?;
        open.commit_unconditional(vec![unconditional(key, Some(value))])
            .await
    }

    async fn delete(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
    ) -> Result<(), store::Error> {
        let open = self.bucket(&this)?;
        open.commit_unconditional(vec![unconditional(key, None)])
            .await
    }

    async fn exists(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
    ) -> Result<bool, store::Error> {
        let open = self.bucket(&this)?;
        Ok(open.get(&key).await?.is_some())
    }

    async fn list_keys(
        &mut self,
        this: Resource<BucketResource>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        let open = self.bucket(&this)?;
        // The cursor is the last key of the previous page: opaque to the guest, and stable
        // under concurrent inserts and deletes.
        let mut keys = open
            .bounded(open.bucket.keys_after(cursor.as_deref(), LIST_PAGE + 1))
            .await
            .map_err(|e| open.err(e))?;
        let cursor = if keys.len() > LIST_PAGE {
            keys.truncate(LIST_PAGE);
            keys.last().cloned()
        } else {
            None
        };
        Ok(store::KeyResponse { keys, cursor })
    }

    fn shared(&mut self, this: Resource<BucketResource>) -> Result<bool, store::Error> {
        Ok(self.bucket(&this)?.bucket.shared())
    }

    fn drop(&mut self, rep: Resource<BucketResource>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl atomics::Host for InstanceState {
    async fn increment(
        &mut self,
        bucket: Resource<BucketResource>,
        key: String,
        delta: i64,
    ) -> Result<i64, store::Error> {
        let open = self.bucket(&bucket)?;
        open.increment(&key, delta).await
    }

    async fn get_versioned(
        &mut self,
        bucket: Resource<BucketResource>,
        key: String,
    ) -> Result<Option<atomics::Entry>, store::Error> {
        let open = self.bucket(&bucket)?;
        Ok(open.get(&key).await?.map(|v| atomics::Entry {
            value: v.value,
            version: v.version,
        }))
    }

    async fn commit(
        &mut self,
        bucket: Resource<BucketResource>,
        writes: Vec<atomics::Write>,
    ) -> Result<Vec<u64>, atomics::CommitError> {
        let open = self.bucket(&bucket).map_err(atomics::CommitError::Store)?;
        let writes: Vec<Write> = writes.into_iter().map(from_wit_write).collect();
        open.commit(writes).await.map_err(|e| match e {
            CommitError::Conflict(i) => atomics::CommitError::Conflict(i),
            CommitError::Kv(e) => atomics::CommitError::Store(open.err(e)),
        })
    }
}

fn from_wit_write(w: atomics::Write) -> Write {
    Write {
        key: w.key,
        precondition: match w.precondition {
            atomics::Precondition::Any => Precondition::Any,
            atomics::Precondition::Absent => Precondition::Absent,
            atomics::Precondition::Version(v) => Precondition::Version(v),
        },
        value: w.value,
    }
}

impl batch::Host for InstanceState {
    async fn get_many(
        &mut self,
        bucket: Resource<BucketResource>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        check_batch(keys.len())?;
        let open = self.bucket(&bucket)?;
        for k in &keys {
            validate_key(k).map_err(|e| open.err(e))?;
        }
        let found = open
            .bounded(open.bucket.get_many(&keys))
            .await
            .map_err(|e| open.err(e))?;
        Ok(keys
            .into_iter()
            .zip(found)
            .map(|(k, v)| v.map(|v| (k, v.value)))
            .collect())
    }

    async fn set_many(
        &mut self,
        bucket: Resource<BucketResource>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        check_batch(key_values.len())?;
        let open = self.bucket(&bucket)?;
        let writes = key_values
            .into_iter()
            .map(|(key, value)| unconditional(key, Some(value)))
            .collect();
        open.commit_unconditional(writes).await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<BucketResource>,
        keys: Vec<String>,
    ) -> Result<(), store::Error> {
        check_batch(keys.len())?;
        let open = self.bucket(&bucket)?;
        let writes = keys.into_iter().map(|k| unconditional(k, None)).collect();
        open.commit_unconditional(writes).await
    }
}

#[cfg(test)]
mod tests;
