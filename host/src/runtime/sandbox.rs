//! One instance's sandbox: its store data ([`InstanceState`]), the WASI context built from
//! its grants (nothing inherited from the host), its memory limiter and its call deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::network::{HasNetworkPolicy, NetworkPolicy};
use super::stdio::TracingStdio;
use crate::config::{ComponentConfig, Grants};
use crate::kv::bucket::Bucket;

/// Per-instance host state: the guest's WASI context, its granted buckets and limits. The
/// host imports (`crate::host_imports`) are implemented on it.
pub struct InstanceState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) buckets: HashMap<String, Arc<dyn Bucket>>,
    pub(crate) config: Vec<(String, String)>,
    pub(crate) component: Arc<str>,
    deadline: Instant,
    pub(crate) deadline_hit: bool,
    /// The peers and names it may reach (see [`super::network`]).
    pub(crate) network: Arc<NetworkPolicy>,
}

impl std::fmt::Debug for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceState")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl HasNetworkPolicy for InstanceState {
    fn network_policy(&self) -> Arc<NetworkPolicy> {
        self.network.clone()
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

/// A new store for one instance of `config`'s component, with its limits armed: memory
/// through the limiter, time through the epoch deadline callback.
pub(crate) fn new_store(
    engine: &Engine,
    config: &ComponentConfig,
    buckets: &HashMap<String, Arc<dyn Bucket>>,
) -> wasmtime::Result<Store<InstanceState>> {
    let component: Arc<str> = config.name.as_str().into();
    let network = Arc::new(NetworkPolicy::new(&config.grants.tcp));
    let state = InstanceState {
        wasi: wasi_ctx(&config.grants, component.clone(), &network)?,
        network,
        table: ResourceTable::new(),
        limiter: MemoryLimiter::new(config.limits.memory_bytes),
        buckets: buckets.clone(),
        config: config.metadata.clone(),
        component,
        deadline: Instant::now(),
        deadline_hit: false,
    };
    let mut store = Store::new(engine, state);
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

impl InstanceState {
    /// Time left before the running call's deadline (zero once it has passed).
    pub(crate) fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Starts the clock of one call: it is interrupted once `timeout` has passed.
pub(crate) fn arm(store: &mut Store<InstanceState>, timeout: Duration) {
    arm_until(store, Instant::now() + timeout);
}

/// Arms the call deadline at `deadline` (a call's deadline counts from its arrival).
pub(crate) fn arm_until(store: &mut Store<InstanceState>, deadline: Instant) {
    let data = store.data_mut();
    data.deadline = deadline;
    data.deadline_hit = false;
    store.set_epoch_deadline(1);
}

/// Enforces the memory limit and remembers that it did, so the fault is reported as such;
/// tracks how much linear memory the instance holds (all its memories together).
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub(crate) max_bytes: usize,
    pub(crate) hit: bool,
    pub(crate) used: usize,
}

impl MemoryLimiter {
    fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            hit: false,
            used: 0,
        }
    }
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

/// Builds the WASI context from the grants: nothing is inherited from the host.
fn wasi_ctx(
    grants: &Grants,
    component: Arc<str>,
    network: &Arc<NetworkPolicy>,
) -> wasmtime::Result<WasiCtx> {
    let mut b = WasiCtx::builder();
    b.stderr(TracingStdio::new(component.clone()));
    b.stdout(TracingStdio::new(component));
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
    // Lookups are filtered by name in `network::GrantedLookup`; connects by address here.
    b.allow_ip_name_lookup(!network.is_empty());
    if network.is_empty() {
        b.allow_tcp(false);
    } else {
        b.allow_tcp(true);
        let policy = network.clone();
        b.socket_addr_check(move |addr, use_| {
            let policy = policy.clone();
            Box::pin(async move { policy.allows(addr, use_).await })
        });
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_growth_past_its_limit_and_remembers() {
        let mut l = MemoryLimiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 19, None).unwrap());
        assert_eq!(l.used, 1 << 19);
        assert!(l.memory_growing(1 << 19, (1 << 20) + 1, None).is_err());
        assert!(l.hit);
        assert!(l.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(!l.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
    }
}
