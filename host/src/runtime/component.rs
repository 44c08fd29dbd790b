//! A loaded component: read, compiled (or taken from the cache), validated against its
//! config and linked against WASI and the wasmplug host imports, ready to instantiate.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{InstancePre, Linker};
use wasmtime::{Engine, Store};

use super::cache::CacheOutcome;
use super::engine::Runtime;
use super::error::{LoadError, LoadProblem};
use super::inspect::ComponentInfo;
use super::sandbox::{InstanceState, new_store};
use crate::config::ComponentConfig;
use crate::kv::bucket::Bucket;

/// A validated, compiled component with its linker-resolved `InstancePre`, ready to
/// instantiate sandboxes for any number of Dapr instance names.
pub struct LoadedComponent {
    /// Its config.
    pub config: ComponentConfig,
    /// What it exports and imports.
    pub info: ComponentInfo,
    /// Where the compiled code came from.
    pub cache: CacheOutcome,
    pub(crate) pre: InstancePre<InstanceState>,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("config", &self.config)
            .field("info", &self.info)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl LoadedComponent {
    /// Reads, compiles (or loads from cache), validates and links the component.
    pub fn load(
        runtime: Arc<Runtime>,
        config: ComponentConfig,
        cache_dir: Option<&Path>,
    ) -> Result<Self, LoadError> {
        let bytes =
            std::fs::read(&config.wasm).map_err(|e| load_error(&config, LoadProblem::Read(e)))?;
        let (component, cache) = runtime.compile(&config.name, &config.wasm, &bytes, cache_dir)?;
        let info = ComponentInfo::of(runtime.engine(), &component);
        info.validate(config.block, &config.grants)
            .map_err(|e| load_error(&config, LoadProblem::Unsupported(e)))?;
        let linker = linker(runtime.engine())
            .map_err(|e| load_error(&config, LoadProblem::Linker(e.into())))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| load_error(&config, LoadProblem::Link(e.into())))?;
        Ok(Self {
            config,
            info,
            cache,
            pre,
            runtime,
        })
    }

    /// The component's configured name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The runtime it was compiled in.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// A load error about this component (e.g. its exports do not fit a world).
    pub(crate) fn error(&self, problem: LoadProblem) -> LoadError {
        load_error(&self.config, problem)
    }

    /// A fresh, sandboxed store for one instance, with `buckets` granted.
    pub(crate) fn new_store(
        &self,
        buckets: &HashMap<String, Arc<dyn Bucket>>,
    ) -> wasmtime::Result<Store<InstanceState>> {
        new_store(self.runtime.engine(), &self.config, buckets)
    }
}

fn load_error(config: &ComponentConfig, problem: LoadProblem) -> LoadError {
    LoadError {
        component: config.name.clone(),
        path: config.wasm.clone(),
        problem,
    }
}

/// The linker every component is instantiated with: WASI p2 plus the wasmplug host imports.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    super::network::add_to_linker(&mut linker)?;
    crate::bindings::HostImports::add_to_linker::<
        InstanceState,
        wasmtime::component::HasSelf<InstanceState>,
    >(&mut linker, |s| s)?;
    Ok(linker)
}
