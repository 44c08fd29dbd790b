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

mod factories;
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

use crate::embed::Host;

/// How long shutdown waits for in-flight calls and open streams to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

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
        let routes = factories::component_routes(&host, c, &stop_rx).await;
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
