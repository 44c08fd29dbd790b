//! What each socket serves: the wasm-backed instance factories and the gRPC routes of one
//! component. The bridge depends on the blocks here; no block depends on the bridge.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::service::Routes;

use super::ready::HostCell;
use crate::blocks;
use crate::config::ComponentConfig;
use crate::embed::Host;
use crate::grpc::Instances;
use crate::kind::Service;
use crate::runtime::error::InstanceError;

/// Instances of the wasm component `name` of `host`, each made by `make(host, name,
/// instance)` (one of the host's `*_instance` accessors, boxed as the block's shared type).
pub fn wasm_factory<S: Clone + Send + Sync + 'static>(
    host: Arc<Host>,
    name: &str,
    make: fn(&Host, &str, &str) -> Result<S, InstanceError>,
) -> Arc<Instances<S>> {
    let max = host
        .config()
        .component(name)
        .map_or(crate::grpc::MAX_INSTANCES, |c| c.limits.max_instances);
    lazy_factory(&HostCell::ready(host), name, max, make)
}

/// Like [`wasm_factory`], for a host that may still be loading: the bridge holds calls back
/// until it is (see [`super::ready`]), so an instance is only ever made from a loaded host.
fn lazy_factory<S: Clone + Send + Sync + 'static>(
    cell: &HostCell,
    name: &str,
    max: usize,
    make: fn(&Host, &str, &str) -> Result<S, InstanceError>,
) -> Arc<Instances<S>> {
    let (cell, component) = (cell.clone(), name.to_owned());
    Instances::with_max(name, max, move |instance| {
        let host = cell
            .get()
            .ok_or_else(|| InstanceError::Loading(component.clone()))?;
        make(host, &component, instance)
    })
}

/// State-store instances of `name`.
pub fn state_factory(
    host: Arc<Host>,
    name: &str,
) -> Arc<Instances<blocks::state::grpc::SharedStateStore>> {
    wasm_factory(host, name, |h, c, i| {
        Ok(Arc::new(h.state_store_instance(c, i)?) as blocks::state::grpc::SharedStateStore)
    })
}

/// The gRPC services of one component: every block interface it exports that belongs to its
/// configured block, plus reflection and health. One socket may thus serve several services
/// (an input and an output binding of one component), each discovered by reflection.
pub(super) async fn component_routes(
    cell: &HostCell,
    c: &ComponentConfig,
    services: &[Service],
    shutdown: &watch::Receiver<bool>,
) -> Routes {
    let mut builder = tonic::service::RoutesBuilder::default();
    let mut names = Vec::new();
    let services = services.iter().filter(|s| s.block() == c.block);
    let (name, max) = (c.name.as_str(), c.limits.max_instances);
    for service in services {
        names.extend(match service {
            Service::State => {
                let instances = lazy_factory(cell, name, max, |h, c, i| {
                    Ok(Arc::new(h.state_store_instance(c, i)?)
                        as blocks::state::grpc::SharedStateStore)
                });
                blocks::state::grpc::add_services(&mut builder, instances)
            }
            Service::SecretStore => {
                let instances = lazy_factory(cell, name, max, |h, c, i| {
                    Ok(Arc::new(h.secret_store_instance(c, i)?)
                        as blocks::secrets::grpc::SharedSecretStore)
                });
                blocks::secrets::grpc::add_services(&mut builder, instances)
            }
            Service::OutputBinding => {
                let instances = lazy_factory(cell, name, max, |h, c, i| {
                    Ok(Arc::new(h.output_binding_instance(c, i)?)
                        as blocks::bindings::output::grpc::SharedOutputBinding)
                });
                blocks::bindings::output::grpc::add_services(&mut builder, instances)
            }
            Service::PubSub => {
                let instances = lazy_factory(cell, name, max, |h, c, i| {
                    Ok(Arc::new(h.pubsub_instance(c, i)?) as blocks::pubsub::SharedPubSub)
                });
                blocks::pubsub::add_services(&mut builder, instances, shutdown.clone())
            }
            Service::InputBinding => {
                let instances = lazy_factory(cell, name, max, |h, c, i| {
                    Ok(Arc::new(h.input_binding_instance(c, i)?)
                        as blocks::bindings::input::SharedInputBinding)
                });
                blocks::bindings::input::add_services(&mut builder, instances, shutdown.clone())
            }
        });
    }
    crate::grpc::discovery::with_discovery(builder, &names).await
}
