//! The client side of the protocol, shared by every block's gRPC client adapter: a channel
//! to one socket, and the `x-component-instance` header that selects the Dapr instance.

use std::path::Path;

use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::INSTANCE_HEADER;

/// Connects to a gRPC server on a UNIX socket.
pub async fn connect_socket(path: &Path) -> Result<Channel, tonic::transport::Error> {
    let path = path.to_owned();
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
}

/// Why a [`Connection`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The instance name cannot be sent as a header value.
    #[error("instance name {0:?} is not a valid header value")]
    InvalidInstance(String),
    /// Nothing answers on the socket.
    #[error("cannot connect to {0}")]
    Unreachable(String),
}

/// One pluggable-component socket, addressed as one Dapr instance.
#[derive(Debug, Clone)]
pub struct Connection {
    channel: Channel,
    instance: MetadataValue<Ascii>,
}

impl Connection {
    /// Dapr instance `instance` over `channel`.
    pub fn new(channel: Channel, instance: &str) -> Result<Self, ConnectError> {
        let instance = instance
            .parse()
            .map_err(|_| ConnectError::InvalidInstance(instance.to_owned()))?;
        Ok(Self { channel, instance })
    }

    /// Connects to the socket at `path` as Dapr instance `instance`.
    pub async fn connect(path: &Path, instance: &str) -> Result<Self, ConnectError> {
        let channel = connect_socket(path)
            .await
            .map_err(|e| ConnectError::Unreachable(format!("{}: {e}", path.display())))?;
        Self::new(channel, instance)
    }

    /// The channel, for a generated client.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// `msg` as a request to this instance.
    pub fn request<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.metadata_mut()
            .insert(INSTANCE_HEADER, self.instance.clone());
        r
    }
}

/// Declares a block's gRPC client adapter: the struct over a [`Connection`] (plus any extra
/// fields, with their initial values), `new` and `connect`, and `client()`, the generated
/// tonic client on the connection's channel. Errors convert from [`ConnectError`].
macro_rules! client_adapter {
    (
        $(#[$attr:meta])*
        $name:ident($client:ty) -> $err:ty
        $(, $field:ident: $fty:ty = $init:expr)* $(,)?
    ) => {
        $(#[$attr])*
        pub struct $name {
            conn: $crate::grpc::client::Connection,
            $($field: $fty,)*
        }

        impl $name {
            /// A client for Dapr instance `instance` over `channel`.
            pub fn new(channel: tonic::transport::Channel, instance: &str) -> Result<Self, $err> {
                Ok(Self::over($crate::grpc::client::Connection::new(channel, instance)?))
            }

            /// Connects to the socket at `path` as Dapr instance `instance`.
            pub async fn connect(path: &std::path::Path, instance: &str) -> Result<Self, $err> {
                Ok(Self::over($crate::grpc::client::Connection::connect(path, instance).await?))
            }

            fn over(conn: $crate::grpc::client::Connection) -> Self {
                Self { conn, $($field: $init,)* }
            }

            fn client(&self) -> $client {
                <$client>::new(self.conn.channel())
            }
        }
    };
}
pub(crate) use client_adapter;
