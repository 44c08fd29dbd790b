//! The supervisor of one guest instance, and the one generic path every block's wasm
//! adapter calls through.
//!
//! # Instance lifecycle
//! A [`Guest`] serves one Dapr instance name with a pool of `concurrency` instances of its
//! component (default one; see [`super::pool`]), each running one call at a time. The
//! first call after [`Guest::init`] uses the instance `init` built; a trap, a blown deadline
//! or memory exhaustion fails that call with a [`ComponentError`], drops the instance (its
//! memory may be inconsistent), and immediately builds a fresh one from the `InstancePre`,
//! re-running `init` with the same metadata, so the next call finds a ready instance. An
//! instance dropped for any other reason (its call was cancelled, it sat idle, it outgrew
//! its memory) is rebuilt the same way by the next call. Other guests are never affected:
//! each has its own store, memory and deadline.
//!
//! A guest's own error (the WIT `result` of a call) is the `Ok` value of [`Guest::call`];
//! only host-side faults are its `Err`, so the two can never be confused.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::component::LoadedComponent;
use super::error::{ComponentError, FaultKind, LoadError, LoadProblem};
use super::pool::{Idle, Live, Pool, recycle_at};
use super::sandbox::{InstanceState, arm, arm_until};
use crate::bindings::types;
use crate::kv::bucket::Bucket;

/// A boxed, sendable future (what the world hooks and guest calls return).
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The typed bindings of one block world, as the supervisor needs them (implemented with
/// [`impl_world!`] for each block's generated bindings).
pub(crate) trait World: Sized + Send + Sync + 'static {
    /// Resolves the world's exports once per component.
    type Pre: Send + Sync + 'static;
    /// The exported block interface (its `call_*` methods).
    type Export;
    fn pre(pre: InstancePre<InstanceState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<InstanceState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self>>;
    /// The exported block interface.
    fn export(&self) -> &Self::Export;
    /// Calls the world's `init` export.
    fn init<'a>(
        &'a self,
        store: &'a mut Store<InstanceState>,
        metadata: &'a [(String, String)],
    ) -> BoxFuture<'a, wasmtime::Result<Result<(), types::Error>>>;
}

/// Implements [`World`] for a block's generated bindings: `$world` and `$pre` are the
/// generated world and pre-instance types, `$export` the accessor of the exported interface
/// and `$iface` its type (whose `init` takes the metadata).
macro_rules! impl_world {
    ($world:ty, $pre:ident, $export:ident, $iface:ty) => {
        impl $crate::runtime::guest::World for $world {
            type Pre = $pre<$crate::runtime::sandbox::InstanceState>;
            type Export = $iface;

            fn pre(
                pre: wasmtime::component::InstancePre<$crate::runtime::sandbox::InstanceState>,
            ) -> wasmtime::Result<Self::Pre> {
                $pre::new(pre)
            }

            fn instantiate<'a>(
                pre: &'a Self::Pre,
                store: &'a mut wasmtime::Store<$crate::runtime::sandbox::InstanceState>,
            ) -> $crate::runtime::guest::BoxFuture<'a, wasmtime::Result<Self>> {
                Box::pin(pre.instantiate_async(store))
            }

            fn export(&self) -> &Self::Export {
                self.$export()
            }

            fn init<'a>(
                &'a self,
                store: &'a mut wasmtime::Store<$crate::runtime::sandbox::InstanceState>,
                metadata: &'a [(String, String)],
            ) -> $crate::runtime::guest::BoxFuture<
                'a,
                wasmtime::Result<Result<(), $crate::bindings::types::Error>>,
            > {
                Box::pin(async move { self.$export().call_init(store, &metadata.to_vec()).await })
            }
        }
    };
}
pub(crate) use impl_world;

/// Calls one export of a supervised guest: `guest_call!(guest, "get", call_get(&req))`
/// runs `call_get(store, &req)` on the live instance under the call deadline. Evaluates to
/// the guest's own result; a fault returns early with [`ComponentError`] (converted by `?`).
macro_rules! guest_call {
    ($guest:expr, $op:literal, $call:ident ( $($arg:expr),* )) => {
        $guest
            .call($op, move |b, store| {
                Box::pin(async move {
                    $crate::runtime::guest::World::export(b).$call(store, $($arg),*).await
                })
            })
            .await?
    };
}
pub(crate) use guest_call;

/// Runs `call` for at most `limit`; `None` when it was still running then (and was dropped).
async fn within<T>(
    limit: std::time::Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Option<wasmtime::Result<T>> {
    tokio::time::timeout(limit, call).await.ok()
}

/// Runs `call` until `deadline` at most, like [`within`].
async fn until<T>(
    deadline: Instant,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Option<wasmtime::Result<T>> {
    tokio::time::timeout_at(deadline.into(), call).await.ok()
}

/// The result of [`within`], with a call that ran out of time turned into a deadline fault
/// (the store is then unusable and the caller replaces the instance, as after any fault).
fn expired<T>(
    done: Option<wasmtime::Result<T>>,
    store: &mut Store<InstanceState>,
) -> wasmtime::Result<T> {
    done.unwrap_or_else(|| {
        store.data_mut().deadline_hit = true;
        Err(wasmtime::Error::msg(
            "call deadline exceeded while waiting on I/O",
        ))
    })
}

/// Config metadata are the defaults, `init` metadata override them key by key; Dapr matches
/// metadata keys case-insensitively, so an init key replaces a config key that differs only
/// in case.
fn merge_metadata(
    defaults: &[(String, String)],
    init: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = defaults
        .iter()
        .filter(|(k, _)| !init.iter().any(|(m, _)| m.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    merged.extend(init);
    merged
}

/// The metadata an instance is initialised with, shared by every instance of a pool.
type InitMetadata = Arc<[(String, String)]>;

/// One supervised guest instance (see the module docs).
pub(crate) struct Guest<W: World> {
    component: Arc<LoadedComponent>,
    pre: W::Pre,
    instance: String,
    buckets: HashMap<String, Arc<dyn Bucket>>,
    /// The metadata `init` succeeded with: every instance built later is initialised with
    /// them (after a fault, an idle eviction or a memory recycle).
    init: std::sync::Mutex<Option<InitMetadata>>,
    pool: Arc<Pool<W>>,
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
        let pre = W::pre(component.pre.clone())
            .map_err(|e| component.error(LoadProblem::World(e.into())))?;
        let limits = &component.config.limits;
        let pool = Arc::new(Pool::new(component.config.concurrency, limits.idle_timeout));
        if limits.idle_timeout.is_some() {
            let idle: Arc<dyn Idle> = pool.clone();
            component.runtime().idle().register(Arc::downgrade(&idle));
        }
        Ok(Self {
            component,
            pre,
            instance: instance.to_owned(),
            buckets,
            init: std::sync::Mutex::new(None),
            pool,
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

    /// How long `init` may take by the wall clock. The epoch deadline interrupts guest code;
    /// this also ends a call that is parked in a host wait (a socket read from a peer that
    /// stopped answering), a little after the epoch deadline would have.
    fn wall_limit(&self) -> std::time::Duration {
        self.component.config.limits.call_timeout + 2 * super::engine::TICK
    }

    fn arm(&self, store: &mut Store<InstanceState>) {
        arm(store, self.component.config.limits.call_timeout);
    }

    fn init_metadata(&self) -> Option<InitMetadata> {
        self.init.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_init_metadata(&self, metadata: Option<InitMetadata>) {
        *self.init.lock().unwrap_or_else(|p| p.into_inner()) = metadata;
    }

    /// Classifies a failed call.
    fn classify(
        &self,
        operation: &str,
        err: wasmtime::Error,
        store: &Store<InstanceState>,
    ) -> ComponentError {
        let data = store.data();
        if data.deadline_hit {
            let limit = self.component.config.limits.call_timeout;
            let message =
                format!("the call ran longer than its {limit:?} limit and was interrupted");
            self.fault(operation, FaultKind::Deadline, message)
        } else if data.limiter.hit {
            let mib = data.limiter.max_bytes >> 20;
            let message = format!("the guest tried to use more than its {mib} MiB memory limit");
            self.fault(operation, FaultKind::MemoryLimit, message)
        } else {
            self.fault(operation, FaultKind::Trap, format!("{err:#}"))
        }
    }

    /// Builds an instance and runs the guest's `init`.
    async fn start(
        &self,
        metadata: &[(String, String)],
    ) -> Result<Result<Live<W>, types::Error>, ComponentError> {
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
        let init = within(self.wall_limit(), bindings.init(&mut store, metadata)).await;
        match expired(init, &mut store) {
            Ok(Ok(())) => {
                let limiter = &store.data().limiter;
                let recycle_at = recycle_at(limiter.used, limiter.max_bytes);
                Ok(Ok(Live {
                    store,
                    bindings,
                    recycle_at,
                    last_used: Instant::now(),
                }))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(e) => Err(self.classify("init", e, &store)),
        }
    }

    /// (Re)initialises with `metadata` on a fresh instance. The component's config metadata
    /// are the defaults: `metadata` (e.g. daprd's Init properties, from the Dapr component
    /// YAML) overrides them key by key. A guest error leaves the guest uninitialised.
    ///
    /// Waits for calls in progress, then drops every pooled instance; one is built and
    /// initialised now (so a bad configuration fails here), the others on first use.
    pub(crate) async fn init(
        &self,
        metadata: Vec<(String, String)>,
    ) -> Result<Result<(), types::Error>, ComponentError> {
        let metadata = merge_metadata(&self.component.config.metadata, metadata);
        let Some((_permit, mut slots)) = self.pool.acquire_all().await else {
            let message = "the instance pool is closed".to_owned();
            return Err(self.fault("init", FaultKind::Instantiate, message));
        };
        self.set_init_metadata(None);
        for slot in &mut slots {
            **slot = None;
        }
        match self.start(&metadata).await? {
            Ok(live) => {
                if let Some(first) = slots.first_mut() {
                    **first = Some(live);
                }
                self.set_init_metadata(Some(metadata.into()));
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Runs `f` against a live instance under the call deadline, which counts from now: the
    /// wait for a free instance is part of it. On a fault, replaces the instance and reports
    /// the fault.
    pub(crate) async fn call<R: Send>(
        &self,
        operation: &'static str,
        f: impl for<'a> FnOnce(
            &'a W,
            &'a mut Store<InstanceState>,
        ) -> BoxFuture<'a, wasmtime::Result<R>>
        + Send,
    ) -> Result<R, ComponentError> {
        let limit = self.component.config.limits.call_timeout;
        let deadline = Instant::now() + limit;
        let Some((_permit, mut slot)) = self.pool.acquire(deadline).await else {
            let message = format!(
                "no instance became free within the {limit:?} call limit ({} calls may run at once)",
                self.component.config.concurrency
            );
            return Err(self.fault(operation, FaultKind::Deadline, message));
        };
        let Some(metadata) = self.init_metadata() else {
            let message = "init has not been called (or failed)".to_owned();
            return Err(self.fault(operation, FaultKind::NotInitialized, message));
        };
        // Taken out for the call: if this future is dropped midway, the instance goes with it
        // and the slot stays empty (see `super::pool`).
        let mut live = match slot.take() {
            Some(live) => live,
            None => match self.start(&metadata).await? {
                Ok(live) => live,
                Err(e) => {
                    let message = format!("re-initialising the instance failed: {e:?}");
                    return Err(self.fault(operation, FaultKind::Instantiate, message));
                }
            },
        };
        arm_until(&mut live.store, deadline);
        let wall = deadline + 2 * super::engine::TICK;
        let done = until(wall, f(&live.bindings, &mut live.store)).await;
        match expired(done, &mut live.store) {
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
                } else {
                    live.last_used = Instant::now();
                    *slot = Some(live);
                }
                Ok(r)
            }
            Err(e) => {
                let fault = self.classify(operation, e, &live.store);
                tracing::warn!(component = %self.component.name(), instance = %self.instance, "{fault}; replacing the instance");
                drop(live);
                *slot = self.rebuild(&metadata).await;
                Err(fault)
            }
        }
    }

    /// A fresh instance after a fault, built now so the next call does not pay for it; if
    /// that fails, the next call retries and reports why.
    async fn rebuild(&self, metadata: &[(String, String)]) -> Option<Live<W>> {
        match self.start(metadata).await {
            Ok(Ok(live)) => Some(live),
            Ok(Err(e)) => {
                tracing::warn!(component = %self.component.name(), "re-init after fault failed: {e:?}");
                None
            }
            Err(e) => {
                tracing::warn!(component = %self.component.name(), "rebuild after fault failed: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn init_metadata_override_config_metadata_case_insensitively() {
        let defaults = pairs(&[("bucket", "state"), ("TTL", "10"), ("keep", "1")]);
        let merged = merge_metadata(&defaults, pairs(&[("ttl", "20"), ("new", "x")]));
        assert_eq!(
            merged,
            pairs(&[
                ("bucket", "state"),
                ("keep", "1"),
                ("ttl", "20"),
                ("new", "x")
            ])
        );
        assert_eq!(merge_metadata(&defaults, Vec::new()), defaults);
    }
}
