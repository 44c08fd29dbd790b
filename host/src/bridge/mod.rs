//! The bridge: serves components to an unmodified daprd over Dapr's pluggable-components
//! gRPC protocol, one UNIX socket per component.
//!
//! daprd discovers pluggable components once, at startup: it lists its sockets folder, dials
//! every socket and asks gRPC reflection (v1alpha) which services each one serves. So:
//! - each configured component gets `<folder>/<name>.sock`; the folder is
//!   `DAPR_COMPONENTS_SOCKETS_FOLDER` (what daprd reads), else `DAPR_COMPONENT_SOCKETS_FOLDER`
//!   (what the Kubernetes injector sets), else `/tmp/dapr-components-sockets`;
//! - a stale socket file (nothing answers on it) is removed before binding, but a socket a live
//!   server answers on is an error, never stolen; a non-socket file is never deleted;
//! - sockets are mode 0666, since daprd may run as another uid (65532 on Kubernetes);
//! - every socket serves reflection v1alpha (what daprd uses) and v1, and `grpc.health.v1`;
//! - one line is logged per socket, then a single readiness line once all of them listen:
//!   start daprd after it;
//! - on shutdown the servers stop accepting, finish in-flight calls, and the socket files
//!   are removed.
//!
//! Each Dapr component instance (the `x-component-instance` header daprd sends on every call)
//! gets its own guest instance and its own key-value namespace; see [`Instances`].

mod client;
mod instances;
pub(crate) mod pump;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::service::Routes;
use tonic_types::{ErrorDetails, StatusExt};

pub(crate) use client::client_adapter;
pub use client::{ConnectError, Connection, connect_socket};
pub use instances::{INSTANCE_HEADER, Instances, MAX_INSTANCES};

use crate::runtime::{ComponentError, FaultKind};
use crate::{Host, blocks};

/// How long shutdown waits for in-flight calls and open streams to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Where daprd looks for sockets when no env var says otherwise.
pub const DEFAULT_SOCKETS_FOLDER: &str = "/tmp/dapr-components-sockets";

/// The sockets folder, resolved as daprd and its Kubernetes injector expect.
pub fn sockets_folder() -> PathBuf {
    [
        "DAPR_COMPONENTS_SOCKETS_FOLDER",
        "DAPR_COMPONENT_SOCKETS_FOLDER",
    ]
    .iter()
    .filter_map(std::env::var_os)
    .find(|v| !v.is_empty())
    .map(PathBuf::from)
    .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKETS_FOLDER))
}

/// Errors starting or running the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A socket path is taken.
    #[error("{}: {message}", path.display())]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// Why it cannot be used.
        message: String,
    },
    /// I/O on the sockets folder.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A gRPC server failed.
    #[error("component {component:?}: gRPC server failed: {message}")]
    Server {
        /// Component name.
        component: String,
        /// Why.
        message: String,
    },
}

/// Makes `path` available for binding: removes a stale socket, refuses a live one or any
/// other kind of file.
pub async fn prepare_socket_path(path: &Path) -> Result<(), BridgeError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BridgeError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_socket() {
        return Err(BridgeError::Socket {
            path: path.to_owned(),
            message: "exists and is not a socket; refusing to replace it".into(),
        });
    }
    match tokio::time::timeout(Duration::from_secs(1), UnixStream::connect(path)).await {
        Ok(Ok(_)) => Err(BridgeError::Socket {
            path: path.to_owned(),
            message: "a live server is listening on this socket (another wasmplug or pluggable component?); refusing to take it over".into(),
        }),
        // Nothing listens (or it hangs): the file is stale.
        Ok(Err(_)) | Err(_) => {
            tracing::info!(socket = %path.display(), "removing stale socket");
            std::fs::remove_file(path).map_err(|source| BridgeError::Io { path: path.to_owned(), source })
        }
    }
}

/// Binds a UNIX socket at `path` (after [`prepare_socket_path`]) with mode 0666.
pub async fn bind(path: &Path) -> Result<UnixListener, BridgeError> {
    prepare_socket_path(path).await?;
    let listener = UnixListener::bind(path).map_err(|source| BridgeError::Io {
        path: path.to_owned(),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(|source| {
        BridgeError::Io {
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(listener)
}

/// Removes socket files when dropped, so every exit path cleans up.
struct SocketFiles(Vec<PathBuf>);

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            if let Err(e) = std::fs::remove_file(p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(socket = %p.display(), "cannot remove socket: {e}");
            }
        }
    }
}

/// Adds reflection (v1alpha and v1, advertising exactly `services`) and health to `routes`.
pub(crate) async fn with_discovery(
    mut routes: tonic::service::RoutesBuilder,
    services: &[&'static str],
) -> Routes {
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let mut reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let (health, health_service) = tonic_health::server::health_reporter();
    for s in services.iter().copied().chain(["grpc.health.v1.Health"]) {
        reflection = reflection.with_service_name(s);
        reflection_v1 = reflection_v1.with_service_name(s);
        health
            .set_service_status(s, tonic_health::ServingStatus::Serving)
            .await;
    }
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    routes.add_service(health_service);
    routes.add_service(
        reflection
            .build_v1alpha()
            .expect("our descriptor sets are valid"),
    );
    routes.add_service(
        reflection_v1
            .build_v1()
            .expect("our descriptor sets are valid"),
    );
    routes.routes()
}

/// Serves `routes` on `listener` until `shutdown` resolves, then finishes in-flight calls.
pub async fn serve_routes(
    listener: UnixListener,
    routes: Routes,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await
}

/// The gRPC services of one component: every block interface it exports that belongs to its
/// configured block, plus reflection and health. One socket may thus serve several services
/// (an input and an output binding of one component), each discovered by reflection.
async fn component_routes(
    host: &Arc<Host>,
    c: &crate::LoadedComponent,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> Routes {
    use crate::config::Service;
    let mut builder = tonic::service::RoutesBuilder::default();
    let mut names = Vec::new();
    for service in c
        .info
        .services
        .iter()
        .filter(|s| s.block() == c.config.block)
    {
        match service {
            Service::State => {
                let instances = blocks::state::grpc::wasm_factory(host.clone(), c.name());
                names.extend(blocks::state::grpc::add_services(&mut builder, instances));
            }
            Service::SecretStore => {
                let instances = blocks::secrets::grpc::wasm_factory(host.clone(), c.name());
                names.extend(blocks::secrets::grpc::add_services(&mut builder, instances));
            }
            Service::OutputBinding => {
                let instances =
                    blocks::bindings::output::grpc::wasm_factory(host.clone(), c.name());
                names.extend(blocks::bindings::output::grpc::add_services(
                    &mut builder,
                    instances,
                ));
            }
            Service::PubSub => {
                let instances = blocks::pubsub::wasm_factory(host.clone(), c.name());
                names.extend(blocks::pubsub::add_services(
                    &mut builder,
                    instances,
                    shutdown.clone(),
                ));
            }
            Service::InputBinding => {
                let instances = blocks::bindings::input::wasm_factory(host.clone(), c.name());
                names.extend(blocks::bindings::input::add_services(
                    &mut builder,
                    instances,
                    shutdown.clone(),
                ));
            }
        }
    }
    with_discovery(builder, &names).await
}

/// Serves every component of `host` on its socket in `folder` until `shutdown` resolves.
///
/// Logs one line per socket and then `wasmplug ready: ...` once every socket listens. On
/// shutdown, stops accepting, waits for in-flight calls, and removes the socket files.
pub async fn serve(
    host: Arc<Host>,
    folder: &Path,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BridgeError> {
    std::fs::create_dir_all(folder).map_err(|source| BridgeError::Io {
        path: folder.to_owned(),
        source,
    })?;
    let mut files = SocketFiles(Vec::new());
    // Turned true on shutdown: servers stop accepting, and long-lived streams (subscriptions,
    // input-binding reads) end so in-flight work can drain.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut bound = Vec::new();
    for c in host.components() {
        let path = folder.join(format!("{}.sock", c.name()));
        let listener = bind(&path).await?;
        files.0.push(path.clone());
        let routes = component_routes(&host, c, &stop_rx).await;
        tracing::info!(
            component = %c.name(),
            block = %c.config.block,
            socket = %path.display(),
            "serving {}.{} on {}",
            c.config.block.dapr_prefix(),
            c.name(),
            path.display()
        );
        bound.push((c.name().to_owned(), listener, routes));
    }
    let mut servers = tokio::task::JoinSet::new();
    for (name, listener, routes) in bound {
        let mut rx = stop_rx.clone();
        servers.spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            (name, serve_routes(listener, routes, stop).await)
        });
    }
    tracing::info!(folder = %folder.display(), sockets = files.0.len(), "wasmplug ready: serving {} component(s) in {}", files.0.len(), folder.display());

    let mut failure = None;
    tokio::select! {
        () = shutdown => tracing::info!("shutting down: finishing in-flight calls"),
        Some(res) = servers.join_next() => {
            // A server ended on its own: that is a failure; stop the rest.
            failure = Some(match res {
                Ok((component, Err(e))) => BridgeError::Server { component, message: e.to_string() },
                Ok((component, Ok(()))) => BridgeError::Server { component, message: "stopped unexpectedly".into() },
                Err(e) => BridgeError::Server { component: String::new(), message: e.to_string() },
            });
        }
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(res) = servers.join_next().await {
            if let Ok((component, Err(e))) = res {
                tracing::warn!(%component, "server ended with an error: {e}");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("in-flight calls did not finish within {DRAIN_TIMEOUT:?}; closing anyway");
        servers.abort_all();
    }
    drop(files);
    tracing::info!("wasmplug stopped; sockets removed");
    failure.map_or(Ok(()), Err)
}

/// The gRPC status for a component fault: which component, what happened.
pub(crate) fn fault_status(e: &ComponentError) -> tonic::Status {
    use tonic::Code;
    let code = match e.kind {
        FaultKind::NotInitialized => {
            return tonic::Status::with_error_details(
                Code::FailedPrecondition,
                e.to_string(),
                ErrorDetails::with_error_info(
                    NOT_INITIALIZED,
                    ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                ),
            );
        }
        FaultKind::Deadline => Code::DeadlineExceeded,
        FaultKind::MemoryLimit => Code::ResourceExhausted,
        FaultKind::Trap | FaultKind::Instantiate => Code::Internal,
    };
    tonic::Status::new(code, e.to_string())
}

/// Maps a pub/sub, binding or secret-store error onto a gRPC status.
pub(crate) fn block_status(e: crate::blocks::BlockError) -> tonic::Status {
    use crate::blocks::BlockError;
    match e {
        BlockError::InvalidArgument(m) => tonic::Status::invalid_argument(m),
        BlockError::NotFound(m) => tonic::Status::not_found(m),
        BlockError::Unimplemented(m) => tonic::Status::unimplemented(m),
        BlockError::Other(m) => tonic::Status::unknown(m),
        BlockError::Component(c) => fault_status(&c),
    }
}

/// Maps a gRPC status from any pluggable component back onto [`crate::blocks::BlockError`].
pub(crate) fn block_error(s: tonic::Status) -> crate::blocks::BlockError {
    use crate::blocks::BlockError;
    use tonic::Code;
    match s.code() {
        Code::InvalidArgument => BlockError::InvalidArgument(s.message().to_owned()),
        Code::NotFound => BlockError::NotFound(s.message().to_owned()),
        Code::Unimplemented => BlockError::Unimplemented(s.message().to_owned()),
        Code::FailedPrecondition
            if s.get_details_error_info()
                .is_some_and(|i| i.reason == NOT_INITIALIZED) =>
        {
            BlockError::Component(not_initialized(s.message()))
        }
        code => BlockError::Other(format!("{code:?}: {}", s.message())),
    }
}

/// A client-side view of a server's "not initialised" answer.
pub(crate) fn not_initialized(message: &str) -> ComponentError {
    ComponentError {
        component: String::new(),
        instance: String::new(),
        operation: String::new(),
        kind: FaultKind::NotInitialized,
        message: message.to_owned(),
    }
}

/// `ErrorInfo.domain` of errors wasmplug itself raises.
pub const ERROR_DOMAIN: &str = "wasmplug.dev";
/// `ErrorInfo.reason` of a call on an instance that was never initialised.
pub const NOT_INITIALIZED: &str = "NOT_INITIALIZED";
