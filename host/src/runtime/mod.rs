//! The wasmtime side, one job per file:
//! - [`engine`]: the shared engine and its epoch ticker;
//! - [`cache`]: compiling, with the in-process and on-disk compile caches;
//! - [`inspect`]: what a component exports and imports, and whether it fits its config;
//! - [`component`]: a loaded (compiled, validated, linked) component;
//! - `network`: the TCP peers and host names a component may reach;
//! - [`sandbox`]: one instance's store: WASI context from its grants, memory limit, deadline;
//! - `stdio`: guest stdout/stderr into `tracing`;
//! - `guest`: the supervisor that owns a guest's instances and rebuilds them after a fault;
//! - `pool`: those instances, handed out one call at a time, and their idle eviction;
//! - [`error`]: the typed errors of all of the above.
//!
//! Nothing here knows a building block's types: blocks sit above and call through
//! `guest`.

pub mod cache;
pub mod component;
pub mod engine;
pub mod error;
pub(crate) mod guest;
pub mod inspect;
pub(crate) mod network;
pub(crate) mod pool;
pub mod sandbox;
pub(crate) mod stdio;

pub use cache::CacheOutcome;
pub use component::LoadedComponent;
pub use engine::{Runtime, TICK};
pub use error::{
    ComponentError, FaultKind, InstanceError, LoadError, LoadProblem, NotAComponent, Unsupported,
};
pub use inspect::{ComponentInfo, ImportInfo, Provider};
pub use sandbox::InstanceState;
