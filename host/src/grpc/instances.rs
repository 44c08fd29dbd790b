//! Multiplexing Dapr component instances on one socket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::status::{ERROR_DOMAIN, NOT_INITIALIZED};
use crate::runtime::error::{InstanceError, chain};

/// The gRPC metadata header daprd sets to the YAML `metadata.name` of the component.
pub const INSTANCE_HEADER: &str = "x-component-instance";
/// Instance name used when a caller sends no header.
pub const DEFAULT_INSTANCE: &str = crate::embed::DEFAULT_INSTANCE;
/// Most instances one socket keeps unless its component's `limits.maxInstances` says
/// otherwise, so a client cannot exhaust memory by inventing names.
pub const MAX_INSTANCES: usize = 1024;

type Factory<S> = dyn Fn(&str) -> Result<S, InstanceError> + Send + Sync;

/// The initialised instances of one component, by Dapr instance name.
///
/// `Init` builds a fresh instance with the factory and, once its own init succeeds, makes it
/// the instance for that name (replacing an older one: daprd re-inits on hot reload). Every
/// other call finds the instance by name, or fails with `FAILED_PRECONDITION` /
/// `ErrorInfo{reason: NOT_INITIALIZED}` if there is none.
pub struct Instances<S> {
    component: String,
    factory: Box<Factory<S>>,
    max: usize,
    live: Mutex<HashMap<String, S>>,
}

impl<S> std::fmt::Debug for Instances<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instances")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl<S: Clone> Instances<S> {
    /// Instances of `component`, each built by `factory(instance_name)`, at most
    /// [`MAX_INSTANCES`].
    pub fn new(
        component: &str,
        factory: impl Fn(&str) -> Result<S, InstanceError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::with_max(component, MAX_INSTANCES, factory)
    }

    /// Instances of `component`, at most `max` of them.
    pub fn with_max(
        component: &str,
        max: usize,
        factory: impl Fn(&str) -> Result<S, InstanceError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            component: component.to_owned(),
            factory: Box::new(factory),
            max,
            live: Mutex::new(HashMap::new()),
        })
    }

    /// The instance name a request addresses.
    pub fn name_of<T>(request: &tonic::Request<T>) -> Result<String, Status> {
        Self::name_in(request).map(str::to_owned)
    }

    /// The instance name a request addresses, borrowed from its metadata (no copy on the
    /// hot path).
    fn name_in<T>(request: &tonic::Request<T>) -> Result<&str, Status> {
        match request.metadata().get(INSTANCE_HEADER) {
            None => Ok(DEFAULT_INSTANCE),
            Some(v) => {
                let name = v.to_str().map_err(|_| {
                    Status::invalid_argument(format!("{INSTANCE_HEADER} must be ASCII"))
                })?;
                if name.is_empty() || name.len() > 253 {
                    return Err(Status::invalid_argument(format!(
                        "{INSTANCE_HEADER} must be 1 to 253 characters"
                    )));
                }
                Ok(name)
            }
        }
    }

    /// The initialised instance for `request`.
    pub fn get<T>(&self, request: &tonic::Request<T>) -> Result<S, Status> {
        let name = Self::name_in(request)?;
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(name).cloned().ok_or_else(|| {
            Status::with_error_details(
                Code::FailedPrecondition,
                format!(
                    "component {:?} instance {name:?} is not initialised: call Init first",
                    self.component
                ),
                ErrorDetails::with_error_info(NOT_INITIALIZED, ERROR_DOMAIN, HashMap::new()),
            )
        })
    }

    /// A fresh, not yet registered instance for `request` (for `Init`).
    pub fn create<T>(&self, request: &tonic::Request<T>) -> Result<(String, S), Status> {
        let name = Self::name_of(request)?;
        {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if !live.contains_key(&name) && live.len() >= self.max {
                return Err(Status::resource_exhausted(format!(
                    "component {:?} already has {} instances (its limits.maxInstances)",
                    self.component, self.max
                )));
            }
        }
        let s = (self.factory)(&name).map_err(|e| {
            Status::internal(format!("component {:?}: {}", self.component, chain(&e)))
        })?;
        Ok((name, s))
    }

    /// Makes `instance` the initialised instance for `name`.
    pub fn register(&self, name: String, instance: S) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, instance);
    }
}
