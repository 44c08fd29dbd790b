//! Host key-value buckets: pure storage, no wasmtime types. Components reach them through
//! the `wasmplug:dapr/keyvalue-*` imports (`crate::host_imports::keyvalue`).
//!
//! Every bucket is a [`Bucket`]: a versioned map with one primitive that Dapr semantics need
//! and `wasi:keyvalue` lacks, [`Bucket::commit`]: an ordered list of writes, each with a
//! precondition, applied atomically. Everything else (`set`, `delete`, `increment`, batches)
//! is built on `get` + `commit`, so every backend shares one definition of correct.
//!
//! Backends:
//! - [`memory::MemoryBucket`]: a `BTreeMap` behind a per-bucket mutex; lost on exit.
//! - [`durable::DurableBucket`]: one embedded [`redb`] database file per bucket; commits are
//!   redb write transactions with immediate durability, so an acknowledged write survives a
//!   crash or restart. Concurrent commits to one bucket share a transaction and its fsync
//!   (group commit, `group.rs`); writers to *different* buckets never contend.
//! - [`redis::RedisBucket`]: a bucket in a Redis server or Cluster, shared by every
//!   process configured with the same store; a commit is one server-side script.
//!
//! Buckets are namespaced per (component, Dapr instance name, bucket name) by
//! [`KvManager`], so two components or two instances never see each other's keys.
//!
//! To add a backend: implement [`Bucket`] in a new file here (run the shared contract in
//! `tests.rs` against it), add a [`Backend`] variant and open it in [`KvManager::open`].

pub mod bucket;
pub mod durable;
mod group;
pub mod manager;
pub mod memory;
pub mod redis;
#[cfg(test)]
mod tests;

pub use bucket::{
    Bucket, CommitError, KvError, KvFuture, LIST_PAGE, MAX_COMMIT_WRITES, MAX_KEY_LEN,
    MAX_VALUE_LEN, Precondition, Versioned, Write,
};
pub use manager::{Backend, KvManager};
