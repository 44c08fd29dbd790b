//! One bucket in a Redis store. Keys (see `docs/redis.md`), with `NS` the bucket's
//! namespace in braces, the hash tag that keeps the whole bucket in one Cluster slot:
//! - `wasmplug:{NS}:seq`: the last version assigned in the bucket (never reset);
//! - `wasmplug:{NS}:keys`: a sorted set of the bucket's keys, every score 0 (listing);
//! - `wasmplug:{NS}:k:KEY`: a hash, `v` the value and `ver` its version.

use std::sync::{Arc, LazyLock};

use redis::{Script, Value};

use super::conn::RedisStore;
use crate::kv::bucket::{
    Bucket, CommitError, KvError, KvFuture, Precondition, Versioned, Write, validate_writes,
};

/// The commit script: all preconditions checked, then all writes, in one atomic step.
static COMMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("commit.lua")));

/// A bucket whose data lives in Redis, shared by every process that opens the same
/// (component, instance, bucket) in the same store.
#[derive(Debug)]
pub struct RedisBucket {
    store: Arc<RedisStore>,
    seq: String,
    index: String,
    entry_prefix: String,
}

impl RedisBucket {
    /// The bucket whose keys live under `namespace` (already free of `{` and `}`).
    pub fn new(store: Arc<RedisStore>, namespace: &str) -> Self {
        let base = format!("wasmplug:{{{namespace}}}:");
        Self {
            store,
            seq: format!("{base}seq"),
            index: format!("{base}keys"),
            entry_prefix: format!("{base}k:"),
        }
    }

    /// The Redis key holding `key`'s entry.
    pub fn entry_key(&self, key: &str) -> String {
        let mut k = String::with_capacity(self.entry_prefix.len() + key.len());
        k.push_str(&self.entry_prefix);
        k.push_str(key);
        k
    }

    fn decode(&self, key: &str, reply: Vec<Option<Vec<u8>>>) -> Result<Option<Versioned>, KvError> {
        match reply.as_slice() {
            [Some(value), Some(version)] => {
                let version = std::str::from_utf8(version)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| {
                        self.store
                            .error("reading", format!("key {key:?} has a corrupt version"))
                    })?;
                Ok(Some(Versioned {
                    value: value.clone(),
                    version,
                }))
            }
            [None, None] => Ok(None),
            _ => Err(self.store.error(
                "reading",
                format!("key {key:?} is not a wasmplug entry (fields v and ver)"),
            )),
        }
    }

    async fn get_now(&self, key: &str) -> Result<Option<Versioned>, KvError> {
        let mut con = self.store.handle().await?;
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.entry_key(key)).arg("v").arg("ver");
        let reply: Vec<Option<Vec<u8>>> =
            self.store.run("reading", cmd.query_async(&mut con)).await?;
        self.decode(key, reply)
    }

    async fn get_many_now(&self, keys: &[String]) -> Result<Vec<Option<Versioned>>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut con = self.store.handle().await?;
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("HMGET").arg(self.entry_key(k)).arg("v").arg("ver");
        }
        let replies: Vec<Vec<Option<Vec<u8>>>> = self
            .store
            .run("reading", pipe.query_async(&mut con))
            .await?;
        if replies.len() != keys.len() {
            return Err(self.store.error("reading", "a pipelined read lost replies"));
        }
        keys.iter()
            .zip(replies)
            .map(|(k, r)| self.decode(k, r))
            .collect()
    }

    async fn commit_now(&self, writes: Vec<Write>) -> Result<Vec<u64>, CommitError> {
        validate_writes(&writes)?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = COMMIT.prepare_invoke();
        inv.key(&self.seq).key(&self.index);
        for w in &writes {
            inv.key(self.entry_key(&w.key));
        }
        for w in &writes {
            match w.precondition {
                Precondition::Any => inv.arg(""),
                Precondition::Absent => inv.arg("-"),
                Precondition::Version(v) => inv.arg(v.to_string()),
            };
            inv.arg(&w.key);
            match &w.value {
                Some(v) => inv.arg("s").arg(v.as_slice()),
                None => inv.arg("d").arg(""),
            };
        }
        let mut con = self.store.handle().await?;
        let reply: Value = self
            .store
            .run("committing", inv.invoke_async(&mut con))
            .await?;
        let versions = self.commit_reply(reply, writes.len())?;
        let min = self.store.config().min_replicas;
        if min > 0 {
            self.wait_for_replicas(&mut con, min).await?;
        }
        Ok(versions)
    }

    /// Parses what the commit script answered.
    fn commit_reply(&self, reply: Value, writes: usize) -> Result<Vec<u64>, CommitError> {
        let bad = || {
            CommitError::Kv(
                self.store
                    .error("committing", "the commit script gave an unexpected answer"),
            )
        };
        let Value::Array(items) = reply else {
            return Err(bad());
        };
        let mut items = items.into_iter();
        match items.next() {
            Some(Value::Int(1)) => {
                let versions: Vec<u64> = items
                    .map(|v| match v {
                        Value::BulkString(b) => std::str::from_utf8(&b)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(bad),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?;
                if versions.len() == writes {
                    Ok(versions)
                } else {
                    Err(bad())
                }
            }
            Some(Value::Int(0)) => match items.next() {
                Some(Value::Int(i)) => {
                    Err(CommitError::Conflict(u32::try_from(i).map_err(|_| bad())?))
                }
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// `WAIT` until `min` replicas acknowledged everything written so far.
    async fn wait_for_replicas(
        &self,
        con: &mut super::conn::Handle,
        min: u32,
    ) -> Result<(), CommitError> {
        let timeout = self.store.config().timeout;
        // Leave the WAIT a margin under the store's own timeout, so it answers first.
        let wait_ms = u64::try_from(timeout.as_millis().saturating_sub(100).max(1)).unwrap_or(1);
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(min).arg(wait_ms);
        let acked: i64 = self
            .store
            .run("waiting for replicas", cmd.query_async(con))
            .await?;
        if acked < i64::from(min) {
            return Err(CommitError::Kv(self.store.error(
                "waiting for replicas",
                format!(
                    "the commit was applied on the primary, but only {acked} of the {min} replicas required (minReplicas) acknowledged it within {wait_ms} ms"
                ),
            )));
        }
        Ok(())
    }

    async fn keys_after_now(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        let mut con = self.store.handle().await?;
        let min = match after {
            Some(a) => format!("({a}"),
            None => "-".to_owned(),
        };
        let mut cmd = redis::cmd("ZRANGEBYLEX");
        cmd.arg(&self.index)
            .arg(min)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        self.store.run("listing", cmd.query_async(&mut con)).await
    }
}

impl Bucket for RedisBucket {
    fn shared(&self) -> bool {
        true
    }

    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Result<Option<Versioned>, KvError>> {
        Box::pin(self.get_now(key))
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> KvFuture<'a, Result<Vec<Option<Versioned>>, KvError>> {
        Box::pin(self.get_many_now(keys))
    }

    fn commit(&self, writes: Vec<Write>) -> KvFuture<'_, Result<Vec<u64>, CommitError>> {
        Box::pin(self.commit_now(writes))
    }

    fn keys_after<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> KvFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(self.keys_after_now(after, limit))
    }
}
