//! Helpers shared by the benchmark binaries (each uses a subset).

#![allow(dead_code)]

pub mod measure;
