//! Durable bucket backend: one embedded redb database file per bucket.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};

use super::bucket::{
    Bucket, CommitError, KvError, KvFuture, Precondition, Versioned, Write, holds,
};
use super::group::{GroupCommit, Outcome, Queue};

/// key -> 8-byte little-endian version followed by the value.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
/// "last_version" -> the highest version ever assigned in this bucket.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LAST_VERSION: &str = "last_version";

/// A bucket stored in its own redb file. Commits are group-committed (`group.rs`): those
/// that arrive while an earlier transaction is being made durable share the next redb write
/// transaction, committed with immediate durability, so they share one fsync. When `commit`
/// returns, the data is on disk. Transactions run on tokio's blocking pool (the fsync), so
/// they never stall an executor thread.
#[derive(Clone)]
pub struct DurableBucket(Arc<Db>);

struct Db {
    db: Database,
    path: std::path::PathBuf,
    queue: Arc<Queue>,
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
        Self::on(db, path)
    }

    /// The bucket in `db`, opened from `path` (named in errors).
    fn on(db: Database, path: &Path) -> Result<Self, KvError> {
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
            queue: Arc::default(),
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

type Entries<'txn> = Table<'txn, &'static str, &'static [u8]>;

impl GroupCommit for Db {
    fn commit_group(&self, commits: &[&[Write]]) -> Result<Vec<Outcome>, KvError> {
        let txn = self.db.begin_write().map_err(|e| self.err("writing", e))?;
        let mut outcomes = Vec::with_capacity(commits.len());
        {
            let mut entries = txn
                .open_table(ENTRIES)
                .map_err(|e| self.err("writing", e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.err("writing", e))?;
            let mut last = meta
                .get(LAST_VERSION)
                .map_err(|e| self.err("writing", e))?
                .map(|v| v.value())
                .unwrap_or(0);
            for writes in commits {
                // Reads inside the write transaction see its earlier writes: each commit is
                // checked against the state the commits before it in the group left.
                let outcome = match self.first_conflict(&entries, last, writes)? {
                    Some(i) => Err(CommitError::Conflict(u32::try_from(i).unwrap_or(u32::MAX))),
                    None => Ok(self.apply(&mut entries, &mut last, writes)?),
                };
                outcomes.push(outcome);
            }
            meta.insert(LAST_VERSION, last)
                .map_err(|e| self.err("writing", e))?;
        }
        // An error anywhere above drops `txn` uncommitted, which aborts the whole group.
        txn.commit().map_err(|e| self.err("committing", e))?;
        Ok(outcomes)
    }
}

impl Db {
    /// The index of the first write of `writes` whose precondition fails, or `None`. Checked
    /// before anything is written, so a commit that fails writes nothing while the rest of
    /// its group still applies. A write sees the earlier ones of its own commit through an
    /// overlay of what they would do (key -> version, `None` once deleted), numbered from
    /// `last` exactly as [`Db::apply`] will number them.
    fn first_conflict(
        &self,
        entries: &Entries<'_>,
        mut last: u64,
        writes: &[Write],
    ) -> Result<Option<usize>, KvError> {
        let mut overlay: HashMap<&str, Option<u64>> = HashMap::new();
        for (i, w) in writes.iter().enumerate() {
            if w.precondition != Precondition::Any {
                let current = match overlay.get(w.key.as_str()) {
                    Some(&current) => current,
                    None => entries
                        .get(w.key.as_str())
                        .map_err(|e| self.err("writing", e))?
                        .and_then(|raw| version_of(raw.value())),
                };
                if !holds(w.precondition, current) {
                    return Ok(Some(i));
                }
            }
            let version = w.value.as_ref().map(|_| {
                last += 1;
                last
            });
            overlay.insert(w.key.as_str(), version);
        }
        Ok(None)
    }

    /// Writes `writes`, each new value with the next version after `last`; returns each
    /// write's version (0 for deletes).
    fn apply(
        &self,
        entries: &mut Entries<'_>,
        last: &mut u64,
        writes: &[Write],
    ) -> Result<Vec<u64>, KvError> {
        let mut versions = Vec::with_capacity(writes.len());
        let mut buf = Vec::new();
        for w in writes {
            match &w.value {
                Some(value) => {
                    *last += 1;
                    buf.clear();
                    buf.extend_from_slice(&last.to_le_bytes());
                    buf.extend_from_slice(value);
                    entries
                        .insert(w.key.as_str(), buf.as_slice())
                        .map_err(|e| self.err("writing", e))?;
                    versions.push(*last);
                }
                None => {
                    entries
                        .remove(w.key.as_str())
                        .map_err(|e| self.err("writing", e))?;
                    versions.push(0);
                }
            }
        }
        Ok(versions)
    }
}

impl Bucket for DurableBucket {
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Result<Option<Versioned>, KvError>> {
        // A read transaction on the page cache: short enough to run inline.
        Box::pin(std::future::ready(self.0.get_now(key)))
    }

    fn commit(&self, writes: Vec<Write>) -> KvFuture<'_, Result<Vec<u64>, CommitError>> {
        Box::pin(self.0.queue.clone().commit(self.0.clone(), writes))
    }

    fn keys_after<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> KvFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(std::future::ready(self.0.keys_after_now(after, limit)))
    }
}

#[cfg(test)]
mod tests;
