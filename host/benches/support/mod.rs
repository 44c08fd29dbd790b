//! Helpers shared by the benchmark binaries (each uses a subset).

#![allow(
    dead_code,
    reason = "each bench uses a different part of the shared support"
)]

pub mod measure;
