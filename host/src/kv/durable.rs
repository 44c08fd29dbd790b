//! Durable bucket backend: one embedded redb database file per bucket.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::bucket::{
    Bucket, CommitError, KvError, KvFuture, Versioned, Write, holds, validate_writes,
};

/// key -> 8-byte little-endian version followed by the value.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
/// "last_version" -> the highest version ever assigned in this bucket.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LAST_VERSION: &str = "last_version";

/// A bucket stored in its own redb file. A commit is one redb write transaction committed
/// with immediate durability: when `commit` returns, the data is on disk. Commits run on
/// tokio's blocking pool (the fsync), so they never stall an executor thread.
#[derive(Clone)]
pub struct DurableBucket(Arc<Db>);

struct Db {
    db: Database,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for DurableBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableBucket")
            .field("path", &self.0.path)
            .finish()
    }
}

fn backend(path: &Path, what: &str, err: impl std::fmt::Display) -> KvError {
    KvError::Backend(format!("{what} {}: {err}", path.display()))
}

impl DurableBucket {
    /// Opens (creating if needed) the bucket file at `path`.
    pub fn open(path: &Path) -> Result<Self, KvError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| backend(dir, "creating directory", e))?;
        }
        let db = Database::create(path).map_err(|e| backend(path, "opening", e))?;
        // Create the tables up front so readers never see "table does not exist".
        let txn = db
            .begin_write()
            .map_err(|e| backend(path, "initialising", e))?;
        {
            txn.open_table(ENTRIES)
                .map_err(|e| backend(path, "initialising", e))?;
            txn.open_table(META)
                .map_err(|e| backend(path, "initialising", e))?;
        }
        txn.commit().map_err(|e| backend(path, "initialising", e))?;
        Ok(Self(Arc::new(Db {
            db,
            path: path.to_owned(),
        })))
    }
}

impl Db {
    fn err(&self, what: &str, e: impl std::fmt::Display) -> KvError {
        backend(&self.path, what, e)
    }
}

fn decode(path: &Path, key: &str, raw: &[u8]) -> Result<Versioned, KvError> {
    let (version, value) = raw
        .split_first_chunk::<8>()
        .ok_or_else(|| backend(path, "reading", format!("corrupt entry for key {key:?}")))?;
    Ok(Versioned {
        value: value.to_vec(),
        version: u64::from_le_bytes(*version),
    })
}

fn version_of(raw: &[u8]) -> Option<u64> {
    raw.split_first_chunk::<8>()
        .map(|(v, _)| u64::from_le_bytes(*v))
}

impl Db {
    fn get_now(&self, key: &str) -> Result<Option<Versioned>, KvError> {
        let txn = self.db.begin_read().map_err(|e| self.err("reading", e))?;
        let table = txn
            .open_table(ENTRIES)
            .map_err(|e| self.err("reading", e))?;
        match table.get(key).map_err(|e| self.err("reading", e))? {
            Some(raw) => Ok(Some(decode(&self.path, key, raw.value())?)),
            None => Ok(None),
        }
    }

    fn commit_now(&self, writes: &[Write]) -> Result<Vec<u64>, CommitError> {
        validate_writes(writes)?;
        let txn = self.db.begin_write().map_err(|e| self.err("writing", e))?;
        let mut versions = Vec::with_capacity(writes.len());
        {
            let mut entries = txn
                .open_table(ENTRIES)
                .map_err(|e| self.err("writing", e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.err("writing", e))?;
            let mut next = meta
                .get(LAST_VERSION)
                .map_err(|e| self.err("writing", e))?
                .map(|v| v.value())
                .unwrap_or(0);
            let mut buf = Vec::new();
            for (i, w) in writes.iter().enumerate() {
                // Reads inside the write transaction see its own earlier writes, so the
                // precondition is checked against the in-commit state.
                let current = entries
                    .get(w.key.as_str())
                    .map_err(|e| self.err("writing", e))?
                    .and_then(|raw| version_of(raw.value()));
                if !holds(w.precondition, current) {
                    // Dropping `txn` without commit aborts it: nothing is written.
                    return Err(CommitError::Conflict(u32::try_from(i).unwrap_or(u32::MAX)));
                }
                match &w.value {
                    Some(value) => {
                        next += 1;
                        buf.clear();
                        buf.extend_from_slice(&next.to_le_bytes());
                        buf.extend_from_slice(value);
                        entries
                            .insert(w.key.as_str(), buf.as_slice())
                            .map_err(|e| self.err("writing", e))?;
                        versions.push(next);
                    }
                    None => {
                        entries
                            .remove(w.key.as_str())
                            .map_err(|e| self.err("writing", e))?;
                        versions.push(0);
                    }
                }
            }
            meta.insert(LAST_VERSION, next)
                .map_err(|e| self.err("writing", e))?;
        }
        txn.commit().map_err(|e| self.err("committing", e))?;
        Ok(versions)
    }

    fn keys_after_now(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, KvError> {
        let txn = self.db.begin_read().map_err(|e| self.err("listing", e))?;
        let table = txn
            .open_table(ENTRIES)
            .map_err(|e| self.err("listing", e))?;
        let range = match after {
            Some(a) => {
                table.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
            }
            None => table.range::<&str>(..),
        }
        .map_err(|e| self.err("listing", e))?;
        let mut keys = Vec::new();
        for item in range.take(limit) {
            let (k, _) = item.map_err(|e| self.err("listing", e))?;
            keys.push(k.value().to_owned());
        }
        Ok(keys)
    }
}

impl Bucket for DurableBucket {
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Result<Option<Versioned>, KvError>> {
        // A read transaction on the page cache: short enough to run inline.
        Box::pin(std::future::ready(self.0.get_now(key)))
    }

    fn commit(&self, writes: Vec<Write>) -> KvFuture<'_, Result<Vec<u64>, CommitError>> {
        let db = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || db.commit_now(&writes))
                .await
                .unwrap_or_else(|e| {
                    Err(CommitError::Kv(KvError::Backend(format!(
                        "the commit task failed: {e}"
                    ))))
                })
        })
    }

    fn keys_after<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> KvFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(std::future::ready(self.0.keys_after_now(after, limit)))
    }
}
