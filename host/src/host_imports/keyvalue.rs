//! The `wasmplug:dapr/keyvalue-*` imports over [`crate::kv`] buckets.
//!
//! Reads are synchronous (short, in memory or page cache). Every write is an `async` import:
//! a backend whose commit blocks on I/O ([`Bucket::commit_blocks`], e.g. the durable
//! backend's fsync) runs on tokio's blocking pool, so it never stalls an executor thread;
//! the guest's fiber is suspended meanwhile and other tasks keep running.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::resource::BucketResource;
use crate::bindings::{
    keyvalue_atomics as atomics, keyvalue_batch as batch, keyvalue_store as store,
};
use crate::kv::bucket::{
    Bucket, CommitError, KvError, LIST_PAGE, MAX_COMMIT_WRITES, Precondition, Write, validate_key,
};
use crate::runtime::sandbox::InstanceState;

/// Most keys in one batch call.
const MAX_BATCH: usize = MAX_COMMIT_WRITES;

/// How often `increment` retries a commit that lost a race with another writer before it
/// gives up with an error (each retry means another writer made progress).
pub const MAX_INCREMENT_ATTEMPTS: usize = 100;

fn store_err(e: KvError) -> store::Error {
    store::Error::Other(e.to_string())
}

fn check_batch(n: usize) -> Result<(), store::Error> {
    if n > MAX_BATCH {
        return Err(store::Error::Other(format!(
            "a batch may hold at most {MAX_BATCH} keys, got {n}"
        )));
    }
    Ok(())
}

/// Runs one commit, off the executor when the backend blocks.
async fn commit(bucket: &Arc<dyn Bucket>, writes: Vec<Write>) -> Result<Vec<u64>, CommitError> {
    if !bucket.commit_blocks() {
        return bucket.commit(&writes);
    }
    let bucket = bucket.clone();
    tokio::task::spawn_blocking(move || bucket.commit(&writes))
        .await
        .unwrap_or_else(|e| {
            Err(CommitError::Kv(KvError::Backend(format!(
                "the commit task failed: {e}"
            ))))
        })
}

/// A commit of unconditional writes: a conflict cannot happen.
async fn commit_unconditional(
    bucket: &Arc<dyn Bucket>,
    writes: Vec<Write>,
) -> Result<(), store::Error> {
    commit(bucket, writes).await.map(drop).map_err(|e| match e {
        CommitError::Kv(e) => store_err(e),
        CommitError::Conflict(_) => store::Error::Other("unexpected write conflict".into()),
    })
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
    current: Option<crate::kv::Versioned>,
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

/// Adds `delta` to the counter at `key` atomically: an optimistic read-modify-write that
/// retries while another writer got in between, but not forever.
async fn increment(bucket: &Arc<dyn Bucket>, key: &str, delta: i64) -> Result<i64, store::Error> {
    for _ in 0..MAX_INCREMENT_ATTEMPTS {
        let current = bucket.get(key).map_err(store_err)?;
        let (new, precondition) = next_count(key, current, delta)?;
        let write = Write {
            key: key.to_owned(),
            precondition,
            value: Some(new.to_le_bytes().to_vec()),
        };
        match commit(bucket, vec![write]).await {
            Ok(_) => return Ok(new),
            Err(CommitError::Conflict(_)) => continue,
            Err(CommitError::Kv(e)) => return Err(store_err(e)),
        }
    }
    Err(store::Error::Other(format!(
        "counter {key:?} changed under {MAX_INCREMENT_ATTEMPTS} attempts in a row (too many concurrent writers); try again"
    )))
}

impl InstanceState {
    fn bucket(&self, handle: &Resource<BucketResource>) -> Result<Arc<dyn Bucket>, store::Error> {
        self.table
            .get(handle)
            .map(|b| b.bucket.clone())
            .map_err(|e| store::Error::Other(format!("invalid bucket handle: {e}")))
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
            .push(BucketResource { bucket })
            .map_err(|e| store::Error::Other(format!("too many open buckets: {e}")))
    }
}

impl store::HostBucket for InstanceState {
    fn get(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let bucket = self.bucket(&this)?;
        Ok(bucket.get(&key).map_err(store_err)?.map(|v| v.value))
    }

    async fn set(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let bucket = self.bucket(&this)?;
        commit_unconditional(&bucket, vec![unconditional(key, Some(value))]).await
    }

    async fn delete(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
    ) -> Result<(), store::Error> {
        let bucket = self.bucket(&this)?;
        commit_unconditional(&bucket, vec![unconditional(key, None)]).await
    }

    fn exists(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
    ) -> Result<bool, store::Error> {
        let bucket = self.bucket(&this)?;
        validate_key(&key).map_err(store_err)?;
        Ok(bucket.get(&key).map_err(store_err)?.is_some())
    }

    fn list_keys(
        &mut self,
        this: Resource<BucketResource>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        let bucket = self.bucket(&this)?;
        // The cursor is the last key of the previous page: opaque to the guest, and stable
        // under concurrent inserts and deletes.
        let mut keys = bucket
            .keys_after(cursor.as_deref(), LIST_PAGE + 1)
            .map_err(store_err)?;
        let cursor = if keys.len() > LIST_PAGE {
            keys.truncate(LIST_PAGE);
            keys.last().cloned()
        } else {
            None
        };
        Ok(store::KeyResponse { keys, cursor })
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
        let bucket = self.bucket(&bucket)?;
        increment(&bucket, &key, delta).await
    }

    fn get_versioned(
        &mut self,
        bucket: Resource<BucketResource>,
        key: String,
    ) -> Result<Option<atomics::Entry>, store::Error> {
        let bucket = self.bucket(&bucket)?;
        Ok(bucket
            .get(&key)
            .map_err(store_err)?
            .map(|v| atomics::Entry {
                value: v.value,
                version: v.version,
            }))
    }

    async fn commit(
        &mut self,
        bucket: Resource<BucketResource>,
        writes: Vec<atomics::Write>,
    ) -> Result<Vec<u64>, atomics::CommitError> {
        let bucket = self.bucket(&bucket).map_err(atomics::CommitError::Store)?;
        let writes: Vec<Write> = writes.into_iter().map(from_wit_write).collect();
        commit(&bucket, writes).await.map_err(|e| match e {
            CommitError::Conflict(i) => atomics::CommitError::Conflict(i),
            CommitError::Kv(e) => atomics::CommitError::Store(store_err(e)),
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
    fn get_many(
        &mut self,
        bucket: Resource<BucketResource>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        check_batch(keys.len())?;
        let bucket = self.bucket(&bucket)?;
        keys.into_iter()
            .map(|k| Ok(bucket.get(&k).map_err(store_err)?.map(|v| (k, v.value))))
            .collect()
    }

    async fn set_many(
        &mut self,
        bucket: Resource<BucketResource>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        check_batch(key_values.len())?;
        let bucket = self.bucket(&bucket)?;
        let writes = key_values
            .into_iter()
            .map(|(key, value)| unconditional(key, Some(value)))
            .collect();
        commit_unconditional(&bucket, writes).await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<BucketResource>,
        keys: Vec<String>,
    ) -> Result<(), store::Error> {
        check_batch(keys.len())?;
        let bucket = self.bucket(&bucket)?;
        let writes = keys.into_iter().map(|k| unconditional(k, None)).collect();
        commit_unconditional(&bucket, writes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Versioned;

    #[test]
    fn a_counter_starts_at_zero_and_pins_what_it_read() {
        assert_eq!(next_count("n", None, 5).unwrap(), (5, Precondition::Absent));
        let current = Versioned {
            value: 7i64.to_le_bytes().to_vec(),
            version: 42,
        };
        assert_eq!(
            next_count("n", Some(current), -10).unwrap(),
            (-3, Precondition::Version(42))
        );
    }

    #[test]
    fn a_counter_refuses_overflow_and_non_counters() {
        let max = Versioned {
            value: i64::MAX.to_le_bytes().to_vec(),
            version: 1,
        };
        assert!(next_count("n", Some(max), 1).is_err());
        let text = Versioned {
            value: b"hello".to_vec(),
            version: 1,
        };
        let e = next_count("n", Some(text), 1).unwrap_err();
        assert!(format!("{e:?}").contains("8-byte counter"));
    }

    #[test]
    fn batches_are_bounded() {
        assert!(check_batch(MAX_BATCH).is_ok());
        assert!(check_batch(MAX_BATCH + 1).is_err());
    }

    /// A bucket whose every conditional commit loses a race.
    #[derive(Debug)]
    struct AlwaysContended;

    impl Bucket for AlwaysContended {
        fn get(&self, _key: &str) -> Result<Option<Versioned>, KvError> {
            Ok(None)
        }
        fn commit(&self, _writes: &[Write]) -> Result<Vec<u64>, CommitError> {
            Err(CommitError::Conflict(0))
        }
        fn keys_after(&self, _: Option<&str>, _: usize) -> Result<Vec<String>, KvError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn commits_off_the_executor_report_like_inline_ones() {
        let memory: Arc<dyn Bucket> = Arc::new(crate::kv::memory::MemoryBucket::default());
        let dir = tempfile::tempdir().unwrap();
        let durable: Arc<dyn Bucket> =
            Arc::new(crate::kv::durable::DurableBucket::open(&dir.path().join("b.redb")).unwrap());
        for bucket in [memory, durable] {
            let w = |p| Write {
                key: "k".into(),
                precondition: p,
                value: Some(b"v".to_vec()),
            };
            let v = commit(&bucket, vec![w(Precondition::Absent)])
                .await
                .unwrap();
            assert!(matches!(
                commit(&bucket, vec![w(Precondition::Absent)]).await,
                Err(CommitError::Conflict(0))
            ));
            assert_eq!(bucket.get("k").unwrap().unwrap().version, v[0]);
        }
    }

    #[tokio::test]
    async fn increment_counts_and_gives_up_on_endless_contention() {
        let memory: Arc<dyn Bucket> = Arc::new(crate::kv::memory::MemoryBucket::default());
        assert_eq!(increment(&memory, "n", 2).await.unwrap(), 2);
        assert_eq!(increment(&memory, "n", -5).await.unwrap(), -3);
        let contended: Arc<dyn Bucket> = Arc::new(AlwaysContended);
        let e = increment(&contended, "n", 1).await.unwrap_err();
        assert!(format!("{e:?}").contains("attempts in a row"), "{e:?}");
    }
}
