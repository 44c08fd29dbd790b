//! The embedding API: [`Host`] loads a config and hands out typed, initialised handles to
//! its components (or fresh instances for the bridge).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::blocks;
use crate::blocks::bindings::input::{InputBinding, WasmInputBinding};
use crate::blocks::bindings::output::{OutputBinding, WasmOutputBinding};
use crate::blocks::pubsub::{PubSub, WasmPubSub};
use crate::blocks::secrets::{SecretStore, WasmSecretStore};
use crate::blocks::state::{StateStore, WasmStateStore};
use crate::config::{Config, ConfigError};
use crate::kind::BlockKind;
use crate::kv::manager::KvManager;
use crate::runtime::component::LoadedComponent;
use crate::runtime::engine::Runtime;
use crate::runtime::error::{InstanceError, LoadError};
use crate::runtime::guest::{Guest, World};

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
    /// A configured key-value store cannot be set up.
    #[error(transparent)]
    Store(#[from] crate::kv::redis::StoreError),
    /// An instance of a component could not be created.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// Initialising a component failed (the guest refused its metadata, or faulted).
    #[error("component {component:?}: init failed: {source}")]
    Init {
        /// Component name.
        component: String,
        /// Why: the block's own error type.
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// Initialised embedding handles, by component name and handle type.
    handles: Mutex<HashMap<(String, std::any::TypeId), Box<dyn std::any::Any + Send + Sync>>>,
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
        let kv = Arc::new(KvManager::with_redis(
            config.data_dir.clone(),
            &config.key_value_stores,
        )?);
        // Components load side by side: from the compile cache a load is mostly reading and
        // copying the artifact, and compiling is spread over threads by Cranelift anyway.
        let loaded: Vec<Result<LoadedComponent, LoadError>> = std::thread::scope(|scope| {
            let loads: Vec<_> = config
                .components
                .iter()
                .map(|c| {
                    let runtime = runtime.clone();
                    let cache_dir = config.cache_dir.as_deref();
                    scope.spawn(move || LoadedComponent::load(runtime, c.clone(), cache_dir))
                })
                .collect();
            loads
                .into_iter()
                .zip(&config.components)
                .map(|(load, c)| {
                    load.join().unwrap_or_else(|_| {
                        Err(LoadError {
                            component: c.name.clone(),
                            path: c.wasm.clone(),
                            problem: crate::runtime::error::LoadProblem::Panicked,
                        })
                    })
                })
                .collect()
        });
        let mut components = BTreeMap::new();
        // The first failing component in file order is the error, as when loading one by one.
        for loaded in loaded {
            let loaded = loaded?;
            tracing::debug!(component = %loaded.name(), cache = ?loaded.cache, "component loaded");
            components.insert(loaded.name().to_owned(), Arc::new(loaded));
        }
        Ok(Self {
            config,
            runtime,
            kv,
            components,
            handles: Mutex::new(HashMap::new()),
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

    fn component(
        &self,
        name: &str,
        block: BlockKind,
    ) -> Result<&Arc<LoadedComponent>, InstanceError> {
        let c = self
            .components
            .get(name)
            .ok_or_else(|| InstanceError::NoSuchComponent(name.to_owned()))?;
        if c.config.block != block {
            return Err(InstanceError::WrongBlock {
                component: name.to_owned(),
                wanted: block,
                actual: c.config.block,
            });
        }
        Ok(c)
    }

    /// A new, uninitialised guest of component `name` for Dapr instance `instance`: its own
    /// sandbox, and its own namespace in every granted key-value bucket.
    pub(crate) fn guest<W: World>(
        &self,
        name: &str,
        instance: &str,
        block: BlockKind,
    ) -> Result<Guest<W>, InstanceError> {
        let component = self.component(name, block)?.clone();
        let mut buckets = HashMap::new();
        for g in &component.config.grants.key_value {
            let b = self
                .kv
                .open(&g.backend, name, instance, &g.bucket)
                .map_err(|source| InstanceError::Bucket {
                    component: name.to_owned(),
                    bucket: g.bucket.clone(),
                    source,
                })?;
            buckets.insert(g.bucket.clone(), b);
        }
        Ok(Guest::new(component, instance, buckets)?)
    }

    fn cached<T: Clone + Send + Sync + 'static>(&self, name: &str) -> Option<T> {
        let map = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(name.to_owned(), std::any::TypeId::of::<T>()))
            .and_then(|h| h.downcast_ref::<T>())
            .cloned()
    }

    fn cache<T: Clone + Send + Sync + 'static>(&self, name: &str, handle: T) -> T {
        let mut map = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .entry((name.to_owned(), std::any::TypeId::of::<T>()))
            .or_insert_with(|| Box::new(handle.clone()));
        entry.downcast_ref::<T>().cloned().unwrap_or(handle)
    }
}

/// Generates the two accessors of one block: an initialised handle for embedding (cached
/// per component) and a fresh, uninitialised instance for a Dapr instance name (the bridge).
macro_rules! block_accessors {
    ($(#[$doc:meta])* $get:ident, $(#[$idoc:meta])* $instance:ident, $block:expr, $ty:ty, $trait:path) => {
        impl Host {
            $(#[$doc])*
            pub async fn $get(&self, name: &str) -> Result<$ty, Error> {
                if let Some(h) = self.cached::<$ty>(name) {
                    return Ok(h);
                }
                let handle = self.$instance(name, DEFAULT_INSTANCE)?;
                <$ty as $trait>::init(&handle, blocks::Metadata::new())
                    .await
                    .map_err(|source| Error::Init { component: name.to_owned(), source: Box::new(source) })?;
                Ok(self.cache(name, handle))
            }

            $(#[$idoc])*
            pub fn $instance(&self, name: &str, instance: &str) -> Result<$ty, InstanceError> {
                Ok(<$ty>::new(self.guest(name, instance, $block)?))
            }
        }
    };
}

block_accessors!(
    /// The state store `name`, initialised with its config metadata. Repeated calls return
    /// handles to the same instance.
    state_store,
    /// A new, *uninitialised* instance of state store `name` for Dapr instance `instance`,
    /// with its own sandbox and key-value namespace. Call [`StateStore::init`] first.
    state_store_instance,
    BlockKind::State,
    WasmStateStore,
    StateStore
);

block_accessors!(
    /// The pub/sub `name`, initialised with its config metadata (cached).
    pubsub,
    /// A new, *uninitialised* instance of pub/sub `name` for Dapr instance `instance`.
    pubsub_instance,
    BlockKind::PubSub,
    WasmPubSub,
    PubSub
);

block_accessors!(
    /// The secret store `name`, initialised with its config metadata. Repeated calls return
    /// handles to the same instance.
    secret_store,
    /// A new, *uninitialised* instance of secret store `name` for Dapr instance `instance`,
    /// with its own sandbox. Call [`SecretStore::init`] first.
    secret_store_instance,
    BlockKind::SecretStores,
    WasmSecretStore,
    SecretStore
);

block_accessors!(
    /// The output binding `name`, initialised with its config metadata. Repeated calls return
    /// handles to the same instance.
    output_binding,
    /// A new, *uninitialised* instance of output binding `name` for Dapr instance `instance`,
    /// with its own sandbox. Call [`OutputBinding::init`] first.
    output_binding_instance,
    BlockKind::Bindings,
    WasmOutputBinding,
    OutputBinding
);

block_accessors!(
    /// The input binding `name`, initialised with its config metadata (cached).
    input_binding,
    /// A new, *uninitialised* instance of the input side of bindings component `name`.
    input_binding_instance,
    BlockKind::Bindings,
    WasmInputBinding,
    InputBinding
);
