//! The host side of the `wasmplug:dapr/keyvalue-*` imports.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::{Bucket, CommitError, KvError, LIST_PAGE, Precondition, Write, validate_key};
use crate::bindings::{
    keyvalue_atomics as atomics, keyvalue_batch as batch, keyvalue_store as store,
};
use crate::runtime::InstanceState;

/// A bucket handle held by a guest.
#[derive(Debug)]
pub struct BucketResource {
    bucket: Arc<dyn Bucket>,
}

fn store_err(e: KvError) -> store::Error {
    store::Error::Other(e.to_string())
}

/// Most keys in one batch call.
const MAX_BATCH: usize = super::MAX_COMMIT_WRITES;

fn check_batch(n: usize) -> Result<(), store::Error> {
    if n > MAX_BATCH {
        return Err(store::Error::Other(format!(
            "a batch may hold at most {MAX_BATCH} keys, got {n}"
        )));
    }
    Ok(())
}

impl InstanceState {
    fn bucket(&self, handle: &Resource<BucketResource>) -> Result<Arc<dyn Bucket>, store::Error> {
        self.table
            .get(handle)
            .map(|b| b.bucket.clone())
            .map_err(|e| store::Error::Other(format!("invalid bucket handle: {e}")))
    }

    fn commit_one(&self, bucket: &dyn Bucket, write: Write) -> Result<(), store::Error> {
        bucket
            .commit(std::slice::from_ref(&write))
            .map(drop)
            .map_err(|e| match e {
                CommitError::Kv(e) => store_err(e),
                CommitError::Conflict(_) => store::Error::Other("unexpected write conflict".into()),
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

    fn set(
        &mut self,
        this: Resource<BucketResource>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let bucket = self.bucket(&this)?;
        self.commit_one(
            &*bucket,
            Write {
                key,
                precondition: Precondition::Any,
                value: Some(value),
            },
        )
    }

    fn delete(&mut self, this: Resource<BucketResource>, key: String) -> Result<(), store::Error> {
        let bucket = self.bucket(&this)?;
        self.commit_one(
            &*bucket,
            Write {
                key,
                precondition: Precondition::Any,
                value: None,
            },
        )
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
        let keys = bucket
            .keys_after(cursor.as_deref(), LIST_PAGE + 1)
            .map_err(store_err)?;
        let (keys, cursor) = if keys.len() > LIST_PAGE {
            let mut keys = keys;
            keys.truncate(LIST_PAGE);
            let cursor = keys.last().cloned();
            (keys, cursor)
        } else {
            (keys, None)
        };
        Ok(store::KeyResponse { keys, cursor })
    }

    fn drop(&mut self, rep: Resource<BucketResource>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl atomics::Host for InstanceState {
    fn increment(
        &mut self,
        bucket: Resource<BucketResource>,
        key: String,
        delta: i64,
    ) -> Result<i64, store::Error> {
        let bucket = self.bucket(&bucket)?;
        // Optimistic read-modify-write: retry while another writer got in between.
        loop {
            let current = bucket.get(&key).map_err(store_err)?;
            let (old, precondition) = match &current {
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
            let write = Write {
                key: key.clone(),
                precondition,
                value: Some(new.to_le_bytes().to_vec()),
            };
            match bucket.commit(&[write]) {
                Ok(_) => return Ok(new),
                Err(CommitError::Conflict(_)) => continue,
                Err(CommitError::Kv(e)) => return Err(store_err(e)),
            }
        }
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

    fn commit(
        &mut self,
        bucket: Resource<BucketResource>,
        writes: Vec<atomics::Write>,
    ) -> Result<Vec<u64>, atomics::CommitError> {
        let bucket = self.bucket(&bucket).map_err(atomics::CommitError::Store)?;
        let writes: Vec<Write> = writes
            .into_iter()
            .map(|w| Write {
                key: w.key,
                precondition: match w.precondition {
                    atomics::Precondition::Any => Precondition::Any,
                    atomics::Precondition::Absent => Precondition::Absent,
                    atomics::Precondition::Version(v) => Precondition::Version(v),
                },
                value: w.value,
            })
            .collect();
        bucket.commit(&writes).map_err(|e| match e {
            CommitError::Conflict(i) => atomics::CommitError::Conflict(i),
            CommitError::Kv(e) => atomics::CommitError::Store(store_err(e)),
        })
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

    fn set_many(
        &mut self,
        bucket: Resource<BucketResource>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        check_batch(key_values.len())?;
        let bucket = self.bucket(&bucket)?;
        let writes: Vec<Write> = key_values
            .into_iter()
            .map(|(key, value)| Write {
                key,
                precondition: Precondition::Any,
                value: Some(value),
            })
            .collect();
        bucket.commit(&writes).map(drop).map_err(|e| match e {
            CommitError::Kv(e) => store_err(e),
            CommitError::Conflict(_) => store::Error::Other("unexpected write conflict".into()),
        })
    }

    fn delete_many(
        &mut self,
        bucket: Resource<BucketResource>,
        keys: Vec<String>,
    ) -> Result<(), store::Error> {
        check_batch(keys.len())?;
        let bucket = self.bucket(&bucket)?;
        let writes: Vec<Write> = keys
            .into_iter()
            .map(|key| Write {
                key,
                precondition: Precondition::Any,
                value: None,
            })
            .collect();
        bucket.commit(&writes).map(drop).map_err(|e| match e {
            CommitError::Kv(e) => store_err(e),
            CommitError::Conflict(_) => store::Error::Other("unexpected write conflict".into()),
        })
    }
}
