//! Throwaway Redis servers and clusters for wasmplug's tests.
//!
//! [`RedisServer::start`] runs a real `redis-server` on a free port of 127.0.0.1, in its own
//! temporary directory, and waits until it answers `PING`. [`RedisCluster::start`] runs
//! several of them in cluster mode and joins them into one Redis Cluster. Both are stopped
//! with SIGKILL when dropped, and their directories removed.
//!
//! There is no Redis client library here: the harness talks to the servers with the
//! `redis-cli` binary ([`RedisServer::cli`]) and a few raw RESP commands over TCP (the
//! readiness probe).
//!
//! `redis-server` and `redis-cli` must be on `PATH` (Debian: `apt-get install -y
//! redis-server`). Without them every start panics with that hint: tests never skip.
//!
//! ```no_run
//! use redis_harness::{Options, RedisServer};
//!
//! let mut redis = RedisServer::start_with(Options { appendonly: true, ..Options::default() });
//! assert_eq!(redis.cli(&["SET", "k", "v"]), "OK");
//! redis.kill();
//! redis.restart(); // same port and directory: the append-only file is reloaded
//! assert_eq!(redis.cli(&["GET", "k"]), "v");
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test tooling fails loudly by design"
)]

mod cluster;
mod process;
mod resp;
mod server;
#[cfg(test)]
mod tests;

pub use cluster::RedisCluster;
pub use server::{Options, RedisServer};
