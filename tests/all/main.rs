//! wasmplug integration tests: one binary (wasmtime links once, each guest compiles once).
//!
//! Guests are built by `cargo xtask build-guests` (which `cargo xtask test` runs first).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

mod bad_input;
mod bridge;
mod docs;
mod input_binding;
mod output_binding;
mod persistence;
mod polyglot;
mod pool;
mod pubsub;
mod redis_example;
mod redis_pubsub;
mod redis_state;
mod replicas;
mod replicas_pubsub;
mod sandbox;
mod scaffold;
mod secrets;
mod startup;
mod state_contract;
mod support;
