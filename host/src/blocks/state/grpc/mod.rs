//! The state store over gRPC: the server adapter (Dapr's `StateStore`,
//! `TransactionalStateStore`, `QueriableStateStore` and `TransactionalStoreMultiMaxSize`
//! services over any [`StateStore`]) and the client adapter ([`GrpcStateStore`]: a
//! [`StateStore`] over any pluggable-component socket, ours or anyone's).
//!
//! Errors use exactly the shapes daprd decodes (`pkg/components/state/pluggable.go`):
//! - etag mismatch → `FAILED_PRECONDITION` + one `BadRequest` violation on field `etag`;
//! - invalid etag → `INVALID_ARGUMENT` + the same detail;
//! - bulk-delete row mismatch → `INTERNAL` + `ErrorInfo` with `expected`/`affected`;
//! - unsupported (query) → `UNIMPLEMENTED`.

//!
//! Files: [`status`] (the error mapping), [`convert`] (messages), [`server`], [`client`].

pub mod client;
pub mod convert;
pub mod server;
pub mod status;

use std::sync::Arc;

use super::StateStore;

pub use crate::grpc::client::connect_socket;
pub use client::GrpcStateStore;
pub use server::{StateServices, add_services, routes};
pub use status::{BULK_DELETE_ROW_MISMATCH, from_status, to_status};

/// A shared, dynamically typed state store (one per Dapr instance).
pub type SharedStateStore = Arc<dyn StateStore>;
