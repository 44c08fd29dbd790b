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
//! - every socket is bound, and answers reflection and health, before any component is
//!   compiled ([`serve_config`]): daprd may start at the same moment; a block call that
//!   arrives while its component is still loading waits for it;
//! - one line is logged per socket, `wasmplug listening` once all of them are bound and a
//!   single `wasmplug ready` line once every component is loaded;
//! - on shutdown the servers stop accepting, finish in-flight calls, and the socket files
//!   are removed.
//!
//! Each Dapr component instance (the `x-component-instance` header daprd sends on every call)
//! gets its own guest instance and its own key-value namespace; see [`Instances`].

mod factories;
pub mod ready;
mod socket;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use factories::{state_factory, wasm_factory};
use socket::SocketFiles;
pub use socket::{
    BridgeError, DEFAULT_SOCKETS_FOLDER, bind, prepare_socket_path, serve_routes, sockets_folder,
};

// The shared gRPC plumbing, re-exported where users of the bridge have always found it.
pub use crate::grpc::status::{ERROR_DOMAIN, NOT_INITIALIZED};
pub use crate::grpc::{
    ConnectError, Connection, INSTANCE_HEADER, Instances, MAX_INSTANCES, connect_socket,
};

use crate::config::{ComponentConfig, Config};
use crate::embed::Host;
use crate::kind::Service;
use crate::runtime::inspect::exported_services;
use ready::HostCell;

/// How long shutdown waits for in-flight calls and open streams to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves every component of the loaded `host` on its socket in `folder` until `shutdown`
/// resolves.
///
/// Logs one line per socket and then `wasmplug ready: ...` once every socket listens. On
/// shutdown, stops accepting, waits for in-flight calls, and removes the socket files.
pub async fn serve(
    host: Arc<Host>,
    folder: &Path,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BridgeError> {
    let plan = host
        .components()
        .map(|c| (c.config.clone(), c.info.services.clone()))
        .collect();
    serve_plan(plan, HostCell::ready(host), None, folder, shutdown).await
}

/// Serves every component of `config`, binding every socket *before* anything is compiled:
/// what each socket serves is read off the component's export names, so reflection answers
/// at once; the components load (compile, or come from the compile cache) in the
/// background, and block calls that arrive meanwhile wait for them (see [`ready`]). Logs
/// `wasmplug listening: ...` once every socket is bound and `wasmplug ready: ...` once every
/// component is loaded. A component that fails to load ends the whole server with its error.
pub async fn serve_config(
    config: Config,
    folder: &Path,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BridgeError> {
    let mut plan = Vec::with_capacity(config.components.len());
    for c in &config.components {
        let unreadable = |message: String| BridgeError::Component {
            component: c.name.clone(),
            message,
        };
        let bytes = std::fs::read(&c.wasm)
            .map_err(|e| unreadable(format!("cannot read {}: {e}", c.wasm.display())))?;
        let services = exported_services(&bytes)
            .map_err(|e| unreadable(format!("{}: {e}", c.wasm.display())))?;
        plan.push((c.clone(), services));
    }
    serve_plan(plan, HostCell::default(), Some(config), folder, shutdown).await
}

type Loading = tokio::task::JoinHandle<Result<Host, crate::embed::Error>>;
type Servers = tokio::task::JoinSet<(String, Result<(), tonic::transport::Error>)>;

/// Waits for the servers to finish in-flight calls, at most [`DRAIN_TIMEOUT`].
async fn drain(mut servers: Servers) {
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
}

/// Binds every socket of `plan` in `folder` and starts serving it (block calls held back
/// until `cell` holds the host); the socket files are recorded in `files`.
async fn bind_all(
    plan: &[(ComponentConfig, Vec<Service>)],
    cell: &HostCell,
    folder: &Path,
    files: &mut SocketFiles,
    stop_rx: &tokio::sync::watch::Receiver<bool>,
) -> Result<Servers, BridgeError> {
    let mut servers = tokio::task::JoinSet::new();
    for (c, services) in plan {
        let path = folder.join(format!("{}.sock", c.name));
        let listener = bind(&path).await?;
        files.0.push(path.clone());
        let routes = factories::component_routes(cell, c, services, stop_rx).await;
        tracing::info!(
            component = %c.name,
            block = %c.block,
            socket = %path.display(),
            "serving {}.{} on {}",
            c.block.dapr_prefix(),
            c.name,
            path.display()
        );
        let mut rx = stop_rx.clone();
        let gate = ready::WaitLoaded {
            cell: cell.clone(),
            component: c.name.as_str().into(),
        };
        let name = c.name.clone();
        servers.spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            (
                name,
                socket::serve_gated(listener, routes, gate, stop).await,
            )
        });
    }
    Ok(servers)
}

/// Serves `plan`; with `load`, the host is loaded from that config once every socket is
/// bound (so loading never delays a socket), else `cell` already holds it.
async fn serve_plan(
    plan: Vec<(ComponentConfig, Vec<Service>)>,
    cell: HostCell,
    load: Option<Config>,
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
    let mut servers = bind_all(&plan, &cell, folder, &mut files, &stop_rx).await?;
    let sockets = files.0.len();
    let ready_line = || tracing::info!(folder = %folder.display(), sockets, "wasmplug ready: serving {sockets} component(s) in {}", folder.display());
    let mut loading: Option<Loading> = match load {
        None => {
            ready_line();
            None
        }
        Some(config) => {
            tracing::info!(folder = %folder.display(), sockets, "wasmplug listening: {sockets} socket(s) in {}; loading the components", folder.display());
            Some(tokio::task::spawn_blocking(move || {
                Host::from_config(config)
            }))
        }
    };

    let mut failure = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutting down: finishing in-flight calls");
                break;
            }
            Some(res) = servers.join_next() => {
                // A server ended on its own: that is a failure; stop the rest.
                failure = Some(match res {
                    Ok((component, Err(e))) => BridgeError::Server { component, message: e.to_string() },
                    Ok((component, Ok(()))) => BridgeError::Server { component, message: "stopped unexpectedly".into() },
                    Err(e) => BridgeError::Server { component: String::new(), message: e.to_string() },
                });
                break;
            }
            loaded = async { loading.as_mut()?.await.ok() }, if loading.is_some() => {
                loading = None;
                match loaded {
                    Some(Ok(host)) => {
                        cell.set(Arc::new(host));
                        ready_line();
                    }
                    Some(Err(e)) => {
                        failure = Some(BridgeError::Load(Box::new(e)));
                        break;
                    }
                    None => {
                        failure = Some(BridgeError::Server { component: String::new(), message: "loading the components failed".into() });
                        break;
                    }
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    drain(servers).await;
    drop(files);
    tracing::info!("wasmplug stopped; sockets removed");
    failure.map_or(Ok(()), Err)
}
