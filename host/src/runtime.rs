//! The wasmtime side: engine, compiled-component cache, sandboxed stores, and the
//! supervisor that owns one guest instance and rebuilds it after a fault.
//!
//! # Instance lifecycle
//! A [`Guest`] owns at most one live instance of a component for one Dapr instance name.
//! Calls into it are serialised (one `tokio` mutex). The first call after [`Guest::init`]
//! uses the instance `init` built; a trap, a blown deadline or memory exhaustion fails that
//! call with a [`ComponentError`], drops the instance (its memory may be inconsistent), and
//! immediately builds a fresh one from the `InstancePre` and re-runs `init` with the same
//! metadata, so the next call finds a ready instance. Other guests are never affected: each
//! has its own store, memory and deadline.
//!
//! # Deadlines
//! Every store runs with epoch interruption. A process-wide ticker thread bumps the engine
//! epoch every [`TICK`]; at each tick a running guest yields to the async executor (so a
//! busy guest never starves other tasks) and is interrupted once its call's deadline has
//! passed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, types::ComponentItem};
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::config::{BlockKind, ComponentConfig, Grants, Limits, Service};
use crate::kv::Bucket;

/// Epoch tick: the granularity of deadlines and of cooperative yields.
pub const TICK: Duration = Duration::from_millis(10);

/// What went wrong inside a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The guest trapped (panic, unreachable, out-of-bounds, ...).
    Trap,
    /// The call ran past its deadline and was interrupted.
    Deadline,
    /// The guest tried to grow memory past its limit.
    MemoryLimit,
    /// A fresh instance could not be built or initialised.
    Instantiate,
    /// A call arrived before `init`.
    NotInitialized,
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultKind::Trap => "trapped",
            FaultKind::Deadline => "deadline exceeded",
            FaultKind::MemoryLimit => "memory limit exceeded",
            FaultKind::Instantiate => "instantiation failed",
            FaultKind::NotInitialized => "not initialised",
        })
    }
}

/// A failure of the component itself, as opposed to an error the component reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("component {component:?} (instance {instance:?}) {kind} during {operation}: {message}")]
pub struct ComponentError {
    /// Configured component name.
    pub component: String,
    /// Dapr instance name.
    pub instance: String,
    /// The call that failed.
    pub operation: String,
    /// What happened.
    pub kind: FaultKind,
    /// Details.
    pub message: String,
}

/// An error loading or validating a component.
#[derive(Debug, thiserror::Error)]
#[error("component {component:?} ({}): {message}", path.display())]
pub struct LoadError {
    /// Component name (or the file name for `wasmplug check`).
    pub component: String,
    /// The `.wasm` file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

// ---- engine and compile cache --------------------------------------------------------------

/// The wasmtime engine shared by every component in the process, plus compiled components
/// already loaded (keyed by content hash), so each component is compiled at most once per
/// process and, with a cache directory, at most once per machine.
#[derive(Debug)]
pub struct Runtime {
    engine: Engine,
    compiled: Mutex<HashMap<[u8; 32], Component>>,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// The process-wide runtime (created on first use, with its epoch ticker).
    pub fn shared() -> Arc<Runtime> {
        static SHARED: OnceLock<Arc<Runtime>> = OnceLock::new();
        SHARED
            .get_or_init(|| Runtime::new().expect("the default wasmtime configuration is valid"))
            .clone()
    }

    /// A runtime of its own (its own engine, ticker and in-memory component cache). Most
    /// programs want [`Runtime::shared`].
    pub fn new() -> wasmtime::Result<Arc<Self>> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let ticker = engine.clone();
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let stop = stop_ticker.clone();
        std::thread::Builder::new()
            .name("wasmplug-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| wasmtime::Error::msg(format!("cannot start epoch ticker: {e}")))?;
        Ok(Arc::new(Self {
            engine,
            compiled: Mutex::new(HashMap::new()),
            stop_ticker,
        }))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles `bytes` (or loads it from memory or the on-disk cache) after checking it is a
    /// component. `name` and `path` only label errors.
    pub fn compile(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        cache_dir: Option<&Path>,
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let err = |message: String| LoadError {
            component: name.to_owned(),
            path: path.to_owned(),
            message,
        };
        check_is_component(bytes).map_err(err)?;
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        let digest: [u8; 32] = hasher.finalize().into();
        if let Some(c) = self
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return Ok((c.clone(), CacheOutcome::Memory));
        }
        let cache_file = cache_dir.map(|d| {
            d.join(format!(
                "{}-{:016x}.cwasm",
                hex::encode(digest),
                self.engine_fingerprint()
            ))
        });
        let mut outcome = CacheOutcome::Compiled;
        let mut component = None;
        if let Some(file) = cache_file.as_deref().filter(|f| f.is_file()) {
            // Read into memory rather than mmap: another process truncating or rewriting the
            // file must not be able to crash this one (SIGBUS on a shrunk mapping).
            let loaded = std::fs::read(file)
                .map_err(wasmtime::Error::from)
                .and_then(|bytes| {
                    // SAFETY: the cache directory is ours: its files are written only by
                    // `Component::serialize` below (atomically, via rename), and the file name
                    // binds the wasm's hash and this engine's compatibility fingerprint. wasmtime
                    // also checks the header and refuses artifacts of another engine configuration.
                    unsafe { Component::deserialize(&self.engine, &bytes) }
                });
            match loaded {
                Ok(c) => {
                    component = Some(c);
                    outcome = CacheOutcome::Disk;
                }
                Err(e) => {
                    tracing::warn!(component = name, file = %file.display(), "ignoring unusable compile cache entry: {e}")
                }
            }
        }
        let component = match component {
            Some(c) => c,
            None => {
                let c = Component::from_binary(&self.engine, bytes)
                    .map_err(|e| err(format!("invalid component: {e:#}")))?;
                if let Some(file) = &cache_file
                    && let Err(e) = write_cache(file, &c)
                {
                    tracing::warn!(component = name, file = %file.display(), "cannot write compile cache: {e}");
                }
                c
            }
        };
        self.compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest, component.clone());
        Ok((component, outcome))
    }

    fn engine_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        h.finish()
    }
}

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now by Cranelift.
    Compiled,
    /// Loaded from the on-disk cache.
    Disk,
    /// Already loaded in this process.
    Memory,
}

fn write_cache(file: &Path, component: &Component) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}

/// Rejects anything that is not a binary component, with a message that says what it is.
fn check_is_component(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8; 4] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err("not a WebAssembly file (missing the \\0asm header)".into());
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(
            "this is a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
                .into(),
        ),
        _ => Err("unsupported WebAssembly binary version/layer".into()),
    }
}

// ---- what a component exports and imports --------------------------------------------------

/// Who provides an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// WASI preview 2, sandboxed by the component's grants.
    Wasi,
    /// Host key-value buckets; needs a `grants.keyValue` entry.
    KeyValue,
    /// Host config (the component's metadata).
    Config,
    /// Host logging into `tracing`.
    Logging,
    /// The shared `wasmplug:dapr/types` (types only, nothing to grant).
    Types,
    /// Nothing: the component cannot be instantiated here.
    Unknown,
}

/// An import and who provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInfo {
    /// Interface name, e.g. `wasi:filesystem/types@0.2.6`.
    pub name: String,
    /// Provider.
    pub provider: Provider,
}

/// What a component offers and needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// The block interfaces it exports.
    pub services: Vec<Service>,
    /// Everything it exports.
    pub exports: Vec<String>,
    /// Everything it imports.
    pub imports: Vec<ImportInfo>,
}

impl ComponentInfo {
    /// Reads exports and imports of a compiled component.
    pub fn of(engine: &Engine, component: &Component) -> Self {
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        let services = Service::ALL
            .iter()
            .copied()
            .filter(|s| exports.iter().any(|e| e == s.wit_export()))
            .collect();
        let imports = ty
            .imports(engine)
            .map(|(name, item)| {
                let provider = match name {
                    n if n.starts_with("wasi:")
                        && matches!(item.ty, ComponentItem::ComponentInstance(_)) =>
                    {
                        Provider::Wasi
                    }
                    n if n.starts_with("wasmplug:dapr/keyvalue-") => Provider::KeyValue,
                    n if n.starts_with("wasmplug:dapr/config@") => Provider::Config,
                    n if n.starts_with("wasmplug:dapr/logging@") => Provider::Logging,
                    n if n.starts_with("wasmplug:dapr/types@") => Provider::Types,
                    _ => Provider::Unknown,
                };
                ImportInfo {
                    name: name.to_owned(),
                    provider,
                }
            })
            .collect();
        ComponentInfo {
            services,
            exports,
            imports,
        }
    }

    /// Checks the component implements `block` and imports only what it can be given.
    pub fn validate(&self, block: BlockKind, grants: &Grants) -> Result<(), String> {
        for import in &self.imports {
            match import.provider {
                Provider::Unknown => {
                    return Err(format!(
                        "imports `{}`, which wasmplug does not provide",
                        import.name
                    ));
                }
                Provider::KeyValue if grants.key_value.is_empty() => {
                    return Err(format!(
                        "imports `{}` but is granted no key-value bucket (add `grants.keyValue`)",
                        import.name
                    ));
                }
                _ => {}
            }
        }
        if self.services.is_empty() {
            return Err(format!(
                "exports no known building block (expected one of: {}); it exports: [{}]",
                Service::ALL
                    .iter()
                    .map(|s| s.wit_export())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.exports.join(", ")
            ));
        }
        if !self.services.iter().any(|s| s.block() == block) {
            return Err(format!(
                "is configured as `{block}` but implements [{}]",
                self.services
                    .iter()
                    .map(|s| s.block().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}

// ---- store data ------------------------------------------------------------------------------

/// Per-instance host state: the guest's WASI context, its granted buckets and limits.
pub struct InstanceState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    limiter: MemoryLimiter,
    pub(crate) buckets: HashMap<String, Arc<dyn Bucket>>,
    pub(crate) config: Vec<(String, String)>,
    pub(crate) component: Arc<str>,
    deadline: Instant,
    deadline_hit: bool,
}

impl std::fmt::Debug for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceState")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Enforces the memory limit and remembers that it did, so the fault is reported as such;
/// tracks how much linear memory the instance holds (all its memories together).
#[derive(Debug)]
struct MemoryLimiter {
    max_bytes: usize,
    hit: bool,
    used: usize,
}

/// Most table elements an instance may have.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Err(wasmtime::Error::msg(format!(
                "memory grow to {desired} bytes exceeds the limit of {} bytes",
                self.max_bytes
            )));
        }
        self.used = self.used.saturating_add(desired.saturating_sub(current));
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Guest stderr, forwarded line by line to `tracing` under the component's name.
#[derive(Debug, Clone)]
struct TracingStderr {
    component: Arc<str>,
}

impl IsTerminal for TracingStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TracingStderr {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            component: self.component.clone(),
            buf: Vec::new(),
        })
    }
}

/// Longest line kept before it is flushed as is.
const MAX_LOG_LINE: usize = 8192;

struct LineLogger {
    component: Arc<str>,
    buf: Vec<u8>,
}

impl LineLogger {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.buf.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            tracing::info!(target: "wasmplug::guest", component = %self.component, "{text}");
        }
    }
}

impl tokio::io::AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.buf.extend_from_slice(data);
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            self.emit(pos + 1);
        }
        if self.buf.len() > MAX_LOG_LINE {
            let n = self.buf.len();
            self.emit(n);
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let n = self.buf.len();
        self.emit(n);
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        let n = self.buf.len();
        self.emit(n);
    }
}

// ---- a loaded component ----------------------------------------------------------------------

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
        let err = |message: String| LoadError {
            component: config.name.clone(),
            path: config.wasm.clone(),
            message,
        };
        let bytes = std::fs::read(&config.wasm)
            .map_err(|e| err(format!("cannot read the .wasm file: {e}")))?;
        let (component, cache) = runtime.compile(&config.name, &config.wasm, &bytes, cache_dir)?;
        let info = ComponentInfo::of(runtime.engine(), &component);
        info.validate(config.block, &config.grants).map_err(err)?;
        let linker = linker(runtime.engine()).map_err(|e| err(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| err(format!("cannot be linked: {e:#}")))?;
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

    fn new_store(
        &self,
        buckets: &HashMap<String, Arc<dyn Bucket>>,
    ) -> wasmtime::Result<Store<InstanceState>> {
        let component: Arc<str> = self.config.name.as_str().into();
        let wasi = wasi_ctx(&self.config.grants, component.clone())?;
        let Limits { memory_bytes, .. } = self.config.limits;
        let state = InstanceState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: memory_bytes,
                hit: false,
                used: 0,
            },
            buckets: buckets.clone(),
            config: self.config.metadata.clone(),
            component,
            deadline: Instant::now(),
            deadline_hit: false,
        };
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let s = ctx.data_mut();
            if Instant::now() >= s.deadline {
                s.deadline_hit = true;
                return Err(wasmtime::Error::msg("call deadline exceeded"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(store)
    }
}

/// The linker every component is instantiated with: WASI p2 plus the wasmplug host imports.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    crate::bindings::HostImports::add_to_linker::<
        InstanceState,
        wasmtime::component::HasSelf<InstanceState>,
    >(&mut linker, |s| s)?;
    Ok(linker)
}

/// Builds the WASI context from the grants: nothing is inherited from the host.
fn wasi_ctx(grants: &Grants, component: Arc<str>) -> wasmtime::Result<WasiCtx> {
    let mut b = WasiCtx::builder();
    b.stderr(TracingStderr {
        component: component.clone(),
    });
    b.stdout(TracingStderr { component });
    for (k, v) in &grants.env {
        b.env(k, v);
    }
    for d in &grants.dirs {
        let perms = if d.read_only {
            wasmtime_wasi::FsPerms::ReadOnly
        } else {
            wasmtime_wasi::FsPerms::ReadWrite
        };
        b.preopened_dir(&d.host_path, &d.guest_path, perms)?;
    }
    b.allow_udp(false);
    b.allow_ip_name_lookup(false);
    if grants.tcp.is_empty() {
        b.allow_tcp(false);
    } else {
        let allowed: Arc<Vec<std::net::SocketAddr>> = Arc::new(
            grants
                .tcp
                .iter()
                .flat_map(|t| t.addrs.iter().copied())
                .collect(),
        );
        b.allow_tcp(true);
        b.socket_addr_check(move |addr, use_| {
            use wasmtime_wasi::sockets::SocketAddrUse;
            let ok = match use_ {
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                // `connect` first binds implicitly to the wildcard address and port 0; that
                // is harmless on its own because listening and accepting stay denied.
                SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                _ => false,
            };
            Box::pin(async move { ok })
        });
    }
    Ok(b.build())
}

// ---- the supervisor --------------------------------------------------------------------------

/// The typed bindings of one world, as the supervisor needs them (implemented by the crate
/// for each block's generated bindings; not meant to be implemented elsewhere).
pub(crate) trait World: Sized + Send + Sync + 'static {
    /// Resolves the world's exports once per component.
    type Pre: Send + Sync + 'static;
    fn pre(pre: InstancePre<InstanceState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<InstanceState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self>>;
    /// Calls the world's `init` export.
    fn init<'a>(
        &'a self,
        store: &'a mut Store<InstanceState>,
        metadata: &'a [(String, String)],
    ) -> BoxFuture<'a, wasmtime::Result<Result<(), crate::bindings::types::Error>>>;
}

/// Implements [`World`] for a block's generated bindings: `$world` and `$pre` are the
/// generated world and pre-instance types, `$export` the accessor of the exported interface
/// (whose `init` takes the metadata).
macro_rules! impl_world {
    ($world:ty, $pre:ident, $export:ident) => {
        impl $crate::runtime::World for $world {
            type Pre = $pre<$crate::runtime::InstanceState>;

            fn pre(
                pre: wasmtime::component::InstancePre<$crate::runtime::InstanceState>,
            ) -> wasmtime::Result<Self::Pre> {
                $pre::new(pre)
            }

            fn instantiate<'a>(
                pre: &'a Self::Pre,
                store: &'a mut wasmtime::Store<$crate::runtime::InstanceState>,
            ) -> $crate::runtime::BoxFuture<'a, wasmtime::Result<Self>> {
                Box::pin(pre.instantiate_async(store))
            }

            fn init<'a>(
                &'a self,
                store: &'a mut wasmtime::Store<$crate::runtime::InstanceState>,
                metadata: &'a [(String, String)],
            ) -> $crate::runtime::BoxFuture<
                'a,
                wasmtime::Result<Result<(), $crate::bindings::types::Error>>,
            > {
                Box::pin(async move { self.$export().call_init(store, &metadata.to_vec()).await })
            }
        }
    };
}
pub(crate) use impl_world;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Live<W> {
    store: Store<InstanceState>,
    bindings: W,
    /// Linear memory at which the instance is replaced between calls (see [`recycle_at`]).
    recycle_at: usize,
}

/// When an instance holding `baseline` bytes after `init` is recycled: once it has used three
/// quarters of its headroom under the limit. Linear memory never shrinks, and some guest
/// runtimes never free what the host passes in (componentize-py 0.25 and componentize-js 0.23
/// keep every call's argument buffers), so a long-lived instance would otherwise end in a
/// failed call at the limit; replacing it between calls costs one instantiation and no call.
fn recycle_at(baseline: usize, max: usize) -> usize {
    baseline + max.saturating_sub(baseline) / 4 * 3
}

struct Slot<W> {
    live: Option<Live<W>>,
    init: Option<Vec<(String, String)>>,
}

/// One supervised guest instance (see the module docs).
pub(crate) struct Guest<W: World> {
    component: Arc<LoadedComponent>,
    pre: W::Pre,
    instance: String,
    buckets: HashMap<String, Arc<dyn Bucket>>,
    slot: tokio::sync::Mutex<Slot<W>>,
}

impl<W: World> std::fmt::Debug for Guest<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest")
            .field("component", &self.component.name())
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl<W: World> Guest<W> {
    /// A guest for Dapr instance `instance`; nothing runs until [`Guest::init`].
    pub(crate) fn new(
        component: Arc<LoadedComponent>,
        instance: &str,
        buckets: HashMap<String, Arc<dyn Bucket>>,
    ) -> Result<Self, LoadError> {
        let pre = W::pre(component.pre.clone()).map_err(|e| LoadError {
            component: component.config.name.clone(),
            path: component.config.wasm.clone(),
            message: format!("does not match its world: {e:#}"),
        })?;
        Ok(Self {
            component,
            pre,
            instance: instance.to_owned(),
            buckets,
            slot: tokio::sync::Mutex::new(Slot {
                live: None,
                init: None,
            }),
        })
    }

    fn fault(&self, operation: &str, kind: FaultKind, message: String) -> ComponentError {
        ComponentError {
            component: self.component.config.name.clone(),
            instance: self.instance.clone(),
            operation: operation.to_owned(),
            kind,
            message,
        }
    }

    fn arm(&self, store: &mut Store<InstanceState>) {
        let data = store.data_mut();
        data.deadline = Instant::now() + self.component.config.limits.call_timeout;
        data.deadline_hit = false;
        store.set_epoch_deadline(1);
    }

    /// Classifies a failed call and drops the instance.
    fn classify(
        &self,
        operation: &str,
        err: wasmtime::Error,
        store: &Store<InstanceState>,
    ) -> ComponentError {
        let data = store.data();
        if data.deadline_hit {
            self.fault(
                operation,
                FaultKind::Deadline,
                format!(
                    "the call ran longer than its {:?} limit and was interrupted",
                    self.component.config.limits.call_timeout
                ),
            )
        } else if data.limiter.hit {
            self.fault(
                operation,
                FaultKind::MemoryLimit,
                format!(
                    "the guest tried to use more than its {} MiB memory limit",
                    data.limiter.max_bytes >> 20
                ),
            )
        } else {
            self.fault(operation, FaultKind::Trap, format!("{err:#}"))
        }
    }

    /// Builds an instance and runs the guest's `init`.
    async fn start(
        &self,
        metadata: &[(String, String)],
    ) -> Result<Result<Live<W>, crate::bindings::types::Error>, ComponentError> {
        let mut store = self
            .component
            .new_store(&self.buckets)
            .map_err(|e| self.fault("init", FaultKind::Instantiate, format!("{e:#}")))?;
        self.arm(&mut store);
        let bindings = match W::instantiate(&self.pre, &mut store).await {
            Ok(b) => b,
            Err(e) => {
                let mut f = self.classify("instantiate", e, &store);
                if f.kind == FaultKind::Trap {
                    f.kind = FaultKind::Instantiate;
                }
                return Err(f);
            }
        };
        self.arm(&mut store);
        match bindings.init(&mut store, metadata).await {
            Ok(Ok(())) => {
                let limiter = &store.data().limiter;
                let recycle_at = recycle_at(limiter.used, limiter.max_bytes);
                Ok(Ok(Live {
                    store,
                    bindings,
                    recycle_at,
                }))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(e) => Err(self.classify("init", e, &store)),
        }
    }

    /// (Re)initialises with `metadata` on a fresh instance. The component's config metadata
    /// are the defaults: `metadata` (e.g. daprd's Init properties, from the Dapr component
    /// YAML) overrides them key by key. A guest error leaves the guest uninitialised.
    pub(crate) async fn init(
        &self,
        metadata: Vec<(String, String)>,
    ) -> Result<Result<(), crate::bindings::types::Error>, ComponentError> {
        // Dapr matches metadata keys case-insensitively, so an Init key replaces a config key
        // that differs only in case.
        let mut merged: Vec<(String, String)> = self
            .component
            .config
            .metadata
            .iter()
            .filter(|(k, _)| !metadata.iter().any(|(m, _)| m.eq_ignore_ascii_case(k)))
            .cloned()
            .collect();
        merged.extend(metadata);
        let metadata = merged;
        let mut slot = self.slot.lock().await;
        slot.live = None;
        slot.init = None;
        match self.start(&metadata).await? {
            Ok(live) => {
                slot.live = Some(live);
                slot.init = Some(metadata);
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Runs `f` against the live instance, under the call deadline; on a fault, replaces the
    /// instance and reports the fault.
    pub(crate) async fn call<R: Send>(
        &self,
        operation: &'static str,
        f: impl for<'a> FnOnce(
            &'a W,
            &'a mut Store<InstanceState>,
        ) -> BoxFuture<'a, wasmtime::Result<R>>
        + Send,
    ) -> Result<R, ComponentError> {
        let mut slot = self.slot.lock().await;
        let Some(metadata) = slot.init.clone() else {
            return Err(self.fault(
                operation,
                FaultKind::NotInitialized,
                "init has not been called (or failed)".into(),
            ));
        };
        if slot.live.is_none() {
            match self.start(&metadata).await? {
                Ok(live) => slot.live = Some(live),
                Err(e) => {
                    return Err(self.fault(
                        operation,
                        FaultKind::Instantiate,
                        format!("re-initialising the instance failed: {e:?}"),
                    ));
                }
            }
        }
        let live = slot.live.as_mut().expect("instance was just ensured");
        self.arm(&mut live.store);
        let result = f(&live.bindings, &mut live.store).await;
        match result {
            Ok(r) => {
                let limiter = &live.store.data().limiter;
                if limiter.used >= live.recycle_at {
                    tracing::info!(
                        component = %self.component.name(),
                        instance = %self.instance,
                        "replacing the instance: it holds {} MiB of linear memory (limit {} MiB)",
                        limiter.used >> 20,
                        limiter.max_bytes >> 20
                    );
                    // The next call starts a fresh one, re-initialised with the same metadata.
                    slot.live = None;
                }
                Ok(r)
            }
            Err(e) => {
                let fault = self.classify(operation, e, &live.store);
                tracing::warn!(component = %self.component.name(), instance = %self.instance, "{fault}; replacing the instance");
                slot.live = None;
                // Rebuild now so the next call does not pay for it; if that fails the next
                // call retries and reports why.
                match self.start(&metadata).await {
                    Ok(Ok(live)) => slot.live = Some(live),
                    Ok(Err(e)) => {
                        tracing::warn!(component = %self.component.name(), "re-init after fault failed: {e:?}")
                    }
                    Err(e) => {
                        tracing::warn!(component = %self.component.name(), "rebuild after fault failed: {e}")
                    }
                }
                Err(fault)
            }
        }
    }
}
