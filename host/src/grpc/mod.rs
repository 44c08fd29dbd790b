//! The gRPC plumbing every block's server and client share, below the blocks and above the
//! runtime: error-to-status mapping ([`status`]), Dapr instance multiplexing
//! ([`instances`]), the client connection and its declaring macro ([`client`]), the stream
//! pump behind PullMessages and Read ([`pump`]), and discovery ([`discovery`]). Nothing here
//! knows a block's proto types.

pub mod client;
pub mod discovery;
pub mod instances;
pub mod metadata;
pub mod pump;
pub mod status;

pub use client::{ConnectError, Connection, connect_socket};
pub use instances::{INSTANCE_HEADER, Instances, MAX_INSTANCES};
pub use status::{ERROR_DOMAIN, NOT_INITIALIZED};
