//! The host imports a component may be granted, besides WASI: each file implements one
//! `wasmplug:dapr/*` interface's generated `Host` trait on
//! [`crate::runtime::sandbox::InstanceState`].
//!
//! - [`keyvalue`]: `keyvalue-store`, `keyvalue-atomics`, `keyvalue-batch` over [`crate::kv`];
//! - [`config`]: the component's metadata;
//! - [`logging`]: guest logs into `tracing`;
//! - [`resource`]: the host-side types of guest-held resources.
//!
//! To add a host import: declare its interface in `wit/host.wit`, implement its `Host`
//! trait in a new file here, classify its name in `runtime::inspect::Provider`.

pub mod config;
pub mod keyvalue;
pub mod logging;
pub mod resource;
