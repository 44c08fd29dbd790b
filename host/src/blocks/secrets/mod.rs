//! The secret-store building block.
//!
//! [`SecretStore`] is the contract every implementation meets, whatever is behind it:
//! - [`WasmSecretStore`]: a sandboxed wasm component exporting `wasmplug:dapr/secret-store`;
//! - [`MemorySecretStore`]: a native in-memory reference, the baseline for tests;
//! - [`GrpcSecretStore`]: any pluggable secret store over its UNIX socket (the client adapter);
//!
//! and [`grpc`] serves any of them to daprd as Dapr's `SecretStore` service.
//!
//! Semantics (those daprd relies on, see the protocol notes):
//! - a secret is a map of key/value pairs: one pair named like the secret itself, unless the
//!   store advertises [`features::MULTIPLE_KEY_VALUES_PER_SECRET`];
//! - a missing secret **is** an error: [`BlockError::NotFound`] (`NOT_FOUND` on the wire), so
//!   daprd can tell "no such secret" from a broken store;
//! - [`SecretStore::bulk_get`] returns every secret the caller may see, by name;
//! - every call but [`SecretStore::init`] fails until `init` succeeded.

pub mod grpc;
mod memory;
mod wasm;

use std::collections::BTreeMap;

pub use grpc::GrpcSecretStore;
pub use memory::MemorySecretStore;
pub use wasm::WasmSecretStore;

pub use super::{BlockError, Metadata};

/// One secret: its key/value pairs (a single pair unless the store is multi-valued).
pub type Secret = BTreeMap<String, String>;

/// Dapr secret-store feature names.
pub mod features {
    /// A secret may hold several key/value pairs (e.g. a `local.file` store with
    /// `multiValued: "true"`).
    pub const MULTIPLE_KEY_VALUES_PER_SECRET: &str = "MULTIPLE_KEY_VALUES_PER_SECRET";
}

/// The secret-store contract.
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Initialise with component metadata. Must precede every other call.
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError>;
    /// Supported Dapr features (see [`features`]).
    async fn features(&self) -> Result<Vec<String>, BlockError>;
    /// The secret `key`; a missing secret is [`BlockError::NotFound`].
    async fn get(&self, key: &str, metadata: Metadata) -> Result<Secret, BlockError>;
    /// Every secret, by name.
    async fn bulk_get(&self, metadata: Metadata) -> Result<BTreeMap<String, Secret>, BlockError>;
    /// Liveness.
    async fn ping(&self) -> Result<(), BlockError>;
}
