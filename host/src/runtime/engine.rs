//! The wasmtime engine shared by every component in the process, and its epoch ticker.
//!
//! Every store runs with epoch interruption. A process-wide ticker thread bumps the engine
//! epoch every [`TICK`]; at each tick a running guest yields to the async executor (so a
//! busy guest never starves other tasks) and is interrupted once its call's deadline has
//! passed (see [`super::sandbox`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::pool::IdleList;

/// Epoch tick: the granularity of deadlines and of cooperative yields.
pub const TICK: Duration = Duration::from_millis(10);
/// How often idle instances are looked for.
const SWEEP: Duration = Duration::from_secs(1);

/// The wasmtime engine shared by every component in the process, plus compiled components
/// already loaded (keyed by content hash), so each component is compiled at most once per
/// process and, with a cache directory, at most once per machine (see [`Runtime::compile`]).
#[derive(Debug)]
pub struct Runtime {
    engine: Engine,
    /// Compiled components by the SHA-256 of their bytes.
    pub(super) compiled: Mutex<HashMap<[u8; 32], Component>>,
    stop_ticker: Arc<AtomicBool>,
    /// Instance pools whose idle instances the ticker thread drops about once a second.
    idle: Arc<IdleList>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// The process-wide runtime (created on first use, with its epoch ticker).
    ///
    /// # Panics
    /// If the fixed default engine configuration is refused by wasmtime or the ticker
    /// thread cannot be spawned: both mean the process cannot run any component at all.
    #[allow(
        clippy::expect_used,
        reason = "a process that cannot build the default engine can run nothing; failing loudly at first use is the only useful outcome"
    )]
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
        let idle = Arc::new(IdleList::default());
        let sweep = idle.clone();
        std::thread::Builder::new()
            .name("wasmplug-epoch".into())
            .spawn(move || {
                let mut last_sweep = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker.increment_epoch();
                    if last_sweep.elapsed() >= SWEEP {
                        last_sweep = Instant::now();
                        let evicted = sweep.sweep(last_sweep);
                        if evicted > 0 {
                            tracing::debug!(evicted, "dropped idle instances");
                        }
                    }
                }
            })
            .map_err(|e| wasmtime::Error::msg(format!("cannot start epoch ticker: {e}")))?;
        Ok(Arc::new(Self {
            engine,
            compiled: Mutex::new(HashMap::new()),
            stop_ticker,
            idle,
        }))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The pools the idle sweeper visits.
    pub(crate) fn idle(&self) -> &IdleList {
        &self.idle
    }
}
