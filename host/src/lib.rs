//! # wasmplug
//!
//! Host Dapr building-block components (state stores, pub/sub brokers, input and output
//! bindings, secret stores) as sandboxed WebAssembly components, in-process, with wasmtime.
//!
//! A component implements a WIT world from this repository's `wit/` folder in any language
//! that compiles to a WebAssembly component. The host loads components from a YAML config,
//! runs each in its own sandbox (no files, network or environment unless granted; memory and
//! per-call time limits always on; a trap fails one call and the instance is rebuilt) and
//! hands out typed handles such as [`StateStore`].
//!
//! ## Embedding
//!
//! ```
//! use wasmplug::{Host, blocks::state::{GetRequest, SetRequest, StateStore}};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/state-store.wasm");
//! // A config with one state store, backed by a durable host key-value bucket.
//! let yaml = format!(r#"
//! apiVersion: wasmplug.dev/v1alpha1
//! kind: Components
//! components:
//!   - name: orders
//!     type: state
//!     wasm: {wasm:?}
//!     grants:
//!       keyValue:
//!         - bucket: state
//! "#);
//! let config_path = dir.path().join("wasmplug.yaml");
//! std::fs::write(&config_path, yaml)?;
//!
//! let host = Host::load(&config_path)?;
//! let orders = host.state_store("orders").await?;
//!
//! orders.set(SetRequest::new("order-1", r#"{"qty":2}"#)).await?;
//! let item = orders.get(GetRequest::new("order-1")).await?.expect("just written");
//! assert_eq!(item.data, br#"{"qty":2}"#);
//!
//! // Optimistic concurrency: a stale etag is refused.
//! let stale = SetRequest::new("order-1", "{}").with_etag("12345");
//! assert!(orders.set(stale).await.is_err());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod bindings;
pub mod blocks;
pub mod bridge;
pub mod config;
pub mod embed;
pub mod grpc;
pub mod host_imports;
pub mod kind;
pub mod kv;
pub mod proto;
pub mod runtime;

pub use blocks::bindings::output::{MemoryOutputBinding, OutputBinding, WasmOutputBinding};
pub use blocks::secrets::{MemorySecretStore, SecretStore, WasmSecretStore};
pub use blocks::state::{MemoryStateStore, StateError, StateStore, WasmStateStore};
pub use config::{BlockKind, Config, ConfigError};
pub use embed::{DEFAULT_INSTANCE, Error, Host};
pub use runtime::{
    ComponentError, ComponentInfo, InstanceError, LoadError, LoadedComponent, Runtime,
};
