//! The sockets folder and socket files: where daprd looks, stale-socket removal, 0666
//! mode, cleanup on every exit path, and serving one set of routes on one listener.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::service::Routes;

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
    /// A component cannot be served (its file is unreadable or not a component).
    #[error("component {component:?}: {message}")]
    Component {
        /// Component name.
        component: String,
        /// Why.
        message: String,
    },
    /// Loading the components failed (the error names the component).
    #[error(transparent)]
    Load(Box<crate::embed::Error>),
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
pub(super) struct SocketFiles(pub(super) Vec<PathBuf>);

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

/// Like [`serve_routes`], with block calls held back until the host is loaded.
pub(super) async fn serve_gated(
    listener: UnixListener,
    routes: Routes,
    gate: super::ready::WaitLoaded,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .layer(gate)
        .add_routes(routes)
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await
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
