//! # wasmplug
//!
//! Host Dapr building-block components (state stores today; pub/sub, bindings and secret
//! stores next) as sandboxed WebAssembly components, in-process, with wasmtime.
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
mod imports;
pub mod kv;
pub mod proto;
pub mod runtime;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use blocks::state::{MemoryStateStore, StateError, StateStore, WasmStateStore};
pub use config::{BlockKind, Config, ConfigError};
pub use runtime::{ComponentError, ComponentInfo, LoadError, LoadedComponent, Runtime};

use kv::KvManager;
use runtime::Guest;

/// The Dapr instance name used by the embedding API.
pub const DEFAULT_INSTANCE: &str = "default";

/// Everything that can go wrong using a [`Host`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A component could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// No component has this name.
    #[error("no component named {0:?} in the config")]
    NoSuchComponent(String),
    /// The component implements another block.
    #[error("component {component:?} is a `{actual}` component, not `{wanted}`")]
    WrongBlock {
        /// Component name.
        component: String,
        /// What the caller wanted.
        wanted: BlockKind,
        /// What it is.
        actual: BlockKind,
    },
    /// A granted key-value bucket could not be opened.
    #[error("component {component:?}: cannot open key-value bucket {bucket:?}: {source}")]
    Bucket {
        /// Component name.
        component: String,
        /// Bucket name.
        bucket: String,
        /// Why.
        source: kv::KvError,
    },
    /// Initialising a state store failed.
    #[error("component {component:?}: init failed: {source}")]
    Init {
        /// Component name.
        component: String,
        /// Why.
        source: Box<StateError>,
    },
}

/// A set of loaded components: the embedding API.
///
/// Loading compiles (or fetches from the compile cache), validates and links every
/// component in the config, so a bad component fails here, not at its first call.
#[derive(Debug)]
pub struct Host {
    config: Config,
    runtime: Arc<Runtime>,
    kv: Arc<KvManager>,
    components: BTreeMap<String, Arc<LoadedComponent>>,
    state_stores: Mutex<HashMap<String, WasmStateStore>>,
}

impl Host {
    /// Loads the config file at `path` and every component in it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_config(Config::load(path)?)
    }

    /// Loads every component of an already parsed config.
    pub fn from_config(config: Config) -> Result<Self, Error> {
        Self::with_runtime(config, Runtime::shared())
    }

    /// Loads every component of `config` into `runtime`.
    pub fn with_runtime(config: Config, runtime: Arc<Runtime>) -> Result<Self, Error> {
        let kv = Arc::new(KvManager::new(config.data_dir.clone()));
        let mut components = BTreeMap::new();
        for c in &config.components {
            let loaded =
                LoadedComponent::load(runtime.clone(), c.clone(), config.cache_dir.as_deref())?;
            tracing::debug!(component = %c.name, cache = ?loaded.cache, "component loaded");
            components.insert(c.name.clone(), Arc::new(loaded));
        }
        Ok(Self {
            config,
            runtime,
            kv,
            components,
            state_stores: Mutex::new(HashMap::new()),
        })
    }

    /// The config this host was loaded from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The shared runtime (engine).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The loaded components, by name.
    pub fn components(&self) -> impl Iterator<Item = &Arc<LoadedComponent>> {
        self.components.values()
    }

    fn component(&self, name: &str, block: BlockKind) -> Result<&Arc<LoadedComponent>, Error> {
        let c = self
            .components
            .get(name)
            .ok_or_else(|| Error::NoSuchComponent(name.to_owned()))?;
        if c.config.block != block {
            return Err(Error::WrongBlock {
                component: name.to_owned(),
                wanted: block,
                actual: c.config.block,
            });
        }
        Ok(c)
    }

    /// The state store `name`, initialised with its config metadata. Repeated calls return
    /// handles to the same instance.
    pub async fn state_store(&self, name: &str) -> Result<WasmStateStore, Error> {
        if let Some(s) = self
            .state_stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(s.clone());
        }
        let store = self.state_store_instance(name, DEFAULT_INSTANCE)?;
        let metadata = self
            .component(name, BlockKind::State)?
            .config
            .metadata
            .iter()
            .cloned()
            .collect();
        store.init(metadata).await.map_err(|source| Error::Init {
            component: name.to_owned(),
            source: Box::new(source),
        })?;
        let mut map = self.state_stores.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.entry(name.to_owned()).or_insert(store).clone())
    }

    /// A new, *uninitialised* instance of state store `name` for Dapr instance `instance`,
    /// with its own sandbox and its own key-value namespace. Call [`StateStore::init`] first.
    pub fn state_store_instance(
        &self,
        name: &str,
        instance: &str,
    ) -> Result<WasmStateStore, Error> {
        let component = self.component(name, BlockKind::State)?.clone();
        let mut buckets = HashMap::new();
        for g in &component.config.grants.key_value {
            let b = self
                .kv
                .open(g.backend, name, instance, &g.bucket)
                .map_err(|source| Error::Bucket {
                    component: name.to_owned(),
                    bucket: g.bucket.clone(),
                    source,
                })?;
            buckets.insert(g.bucket.clone(), b);
        }
        Ok(WasmStateStore::new(Guest::new(
            component, instance, buckets,
        )?))
    }
}
