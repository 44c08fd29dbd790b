//! Building blocks. Each block lives in its own folder with every surface it has: the native
//! trait and domain types, the wasm adapter, the gRPC server and client adapters, and the
//! in-memory reference implementation.

pub mod bindings;
pub mod pubsub;
pub mod secrets;
pub mod state;

use crate::bindings::types;
use crate::runtime::error::ComponentError;

/// Metadata pairs (component init metadata, request metadata, response metadata).
pub type Metadata = std::collections::BTreeMap<String, String>;

/// Why an operation of a pub/sub, binding or secret-store component failed. (The state store
/// has its own [`state::StateError`] with the etag cases daprd distinguishes.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The named thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Not supported by this component.
    #[error("not implemented: {0}")]
    Unimplemented(String),
    /// Any other failure reported by the component.
    #[error("{0}")]
    Other(String),
    /// The component hosting it failed (trap, deadline, memory, not initialised).
    #[error(transparent)]
    Component(#[from] ComponentError),
}

impl From<types::Error> for BlockError {
    fn from(e: types::Error) -> Self {
        match e {
            types::Error::InvalidArgument(m) => BlockError::InvalidArgument(m),
            types::Error::NotFound(m) => BlockError::NotFound(m),
            types::Error::Unimplemented(m) => BlockError::Unimplemented(m),
            types::Error::Other(m)
            | types::Error::EtagMismatch(m)
            | types::Error::EtagInvalid(m) => BlockError::Other(m),
            types::Error::BulkDeleteRowMismatch(r) => BlockError::Other(format!(
                "row mismatch: expected {}, affected {}",
                r.expected, r.affected
            )),
        }
    }
}

pub(crate) fn md_to_wit(m: Metadata) -> Vec<(String, String)> {
    m.into_iter().collect()
}

pub(crate) fn md_from_wit(m: Vec<(String, String)>) -> Metadata {
    m.into_iter().collect()
}

impl From<crate::grpc::client::ConnectError> for BlockError {
    fn from(e: crate::grpc::client::ConnectError) -> Self {
        match e {
            crate::grpc::client::ConnectError::InvalidInstance(_) => {
                Self::InvalidArgument(e.to_string())
            }
            crate::grpc::client::ConnectError::Unreachable(_) => Self::Other(e.to_string()),
        }
    }
}
