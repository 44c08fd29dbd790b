//! The state-store building block.
//!
//! [`StateStore`] is the contract every implementation meets, whatever is behind it:
//! - [`WasmStateStore`]: a sandboxed wasm component exporting `wasmplug:dapr/state-store`;
//! - [`MemoryStateStore`]: a native in-memory reference with the same semantics, the
//!   baseline for tests and benchmarks.
//!
//! Semantics (those daprd relies on, see the protocol notes):
//! - a missing key is not an error: [`StateStore::get`] returns `None`;
//! - etags are opaque, and change on every write;
//! - [`Concurrency::FirstWrite`] without an etag means "create only";
//! - metadata `ttlInSeconds` sets a TTL (`-1` clears it; a later set without it clears it);
//!   while a TTL is active, reads return `ttlExpireTime` (RFC 3339) in the item metadata;
//! - [`StateStore::bulk_get`] returns one entry per requested key, in request order;
//! - [`StateStore::transact`] applies operations in order, all or nothing.

pub mod grpc;
mod memory;
mod wasm;

use std::collections::BTreeMap;

pub use grpc::GrpcStateStore;
pub use memory::MemoryStateStore;
pub use wasm::WasmStateStore;

use crate::runtime::error::ComponentError;

/// Metadata pairs (component init metadata, request metadata, item metadata).
pub type Metadata = BTreeMap<String, String>;

/// Metadata key carrying a TTL in seconds on writes.
pub const TTL_IN_SECONDS: &str = "ttlInSeconds";
/// Metadata key carrying the RFC 3339 expiry time on reads.
pub const TTL_EXPIRE_TIME: &str = "ttlExpireTime";

/// Dapr state-store feature names.
pub mod features {
    /// Etags are supported.
    pub const ETAG: &str = "ETAG";
    /// `transact` is supported.
    pub const TRANSACTIONAL: &str = "TRANSACTIONAL";
    /// `query` is supported.
    pub const QUERY_API: &str = "QUERY_API";
    /// `ttlInSeconds` is honoured.
    pub const TTL: &str = "TTL";
}

/// Write concurrency mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Concurrency {
    /// Not specified (behaves as last-write).
    #[default]
    Unspecified,
    /// Only the first writer wins: with no etag, the key must not exist.
    FirstWrite,
    /// The last writer wins.
    LastWrite,
}

/// Read/write consistency hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Consistency {
    /// Not specified.
    #[default]
    Unspecified,
    /// Eventual consistency is acceptable.
    Eventual,
    /// Strong consistency is required.
    Strong,
}

/// Options of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct StateOptions {
    /// Concurrency mode.
    pub concurrency: Concurrency,
    /// Consistency hint.
    pub consistency: Consistency,
}

/// Read one key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetRequest {
    /// The key.
    pub key: String,
    /// Request metadata.
    pub metadata: Metadata,
    /// Consistency hint.
    pub consistency: Consistency,
}

impl GetRequest {
    /// A plain read of `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            ..Self::default()
        }
    }
}

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateItem {
    /// The value.
    pub data: Vec<u8>,
    /// Its etag, if the store has etags.
    pub etag: Option<String>,
    /// Item metadata such as [`TTL_EXPIRE_TIME`].
    pub metadata: Metadata,
    /// Content type recorded at write time.
    pub content_type: Option<String>,
}

/// Write one key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetRequest {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// Etag the stored value must have.
    pub etag: Option<String>,
    /// Request metadata such as [`TTL_IN_SECONDS`].
    pub metadata: Metadata,
    /// Concurrency and consistency.
    pub options: StateOptions,
    /// Content type to record.
    pub content_type: Option<String>,
}

impl SetRequest {
    /// An unconditional write of `value` to `key`.
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            ..Self::default()
        }
    }
    /// Require the stored value to have `etag`.
    pub fn with_etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }
    /// Use first-write concurrency.
    pub fn first_write(mut self) -> Self {
        self.options.concurrency = Concurrency::FirstWrite;
        self
    }
    /// Add a metadata pair.
    pub fn with_metadata(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.metadata.insert(k.into(), v.into());
        self
    }
    /// Record a content type.
    pub fn with_content_type(mut self, ct: impl Into<String>) -> Self {
        self.content_type = Some(ct.into());
        self
    }
}

/// Delete one key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteRequest {
    /// The key.
    pub key: String,
    /// Etag the stored value must have.
    pub etag: Option<String>,
    /// Request metadata.
    pub metadata: Metadata,
    /// Concurrency and consistency.
    pub options: StateOptions,
}

impl DeleteRequest {
    /// An unconditional delete of `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            ..Self::default()
        }
    }
    /// Require the stored value to have `etag`.
    pub fn with_etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }
}

/// One answer of a bulk read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkGetItem {
    /// The requested key.
    pub key: String,
    /// The value, or `None` if the key is missing.
    pub item: Option<StateItem>,
    /// A per-key failure that did not fail the whole call.
    pub error: Option<String>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactOperation {
    /// Write a key.
    Set(SetRequest),
    /// Delete a key.
    Delete(DeleteRequest),
}

/// An ordered, all-or-nothing list of operations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransactRequest {
    /// Operations in the order to apply them.
    pub operations: Vec<TransactOperation>,
    /// Request metadata such as `partitionKey`.
    pub metadata: Metadata,
}

/// Sort direction of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// One sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sorting {
    /// Field to sort by.
    pub key: String,
    /// Direction.
    pub order: SortOrder,
}

/// Paging of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pagination {
    /// Most items to return (0 = store default).
    pub limit: i64,
    /// Continuation token from a previous response.
    pub token: String,
}

/// A Dapr state query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Top-level operator (`EQ`, `AND`, ...) to the JSON text of its operand.
    pub filter: Vec<(String, String)>,
    /// Sort keys.
    pub sort: Vec<Sorting>,
    /// Paging.
    pub pagination: Pagination,
}

/// A query request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryRequest {
    /// The query.
    pub query: Query,
    /// Request metadata.
    pub metadata: Metadata,
}

/// One query result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryItem {
    /// Key.
    pub key: String,
    /// Value.
    pub data: Vec<u8>,
    /// Etag.
    pub etag: Option<String>,
    /// Per-item error.
    pub error: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
}

/// A page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryResponse {
    /// Results.
    pub items: Vec<QueryItem>,
    /// Token of the next page.
    pub token: Option<String>,
    /// Response metadata.
    pub metadata: Metadata,
}

/// Why a state operation failed. The bridge maps each case to the gRPC shape daprd expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The etag does not match the stored value (or the key is missing).
    #[error("etag mismatch: {0}")]
    EtagMismatch(String),
    /// The etag is not valid for this store.
    #[error("invalid etag: {0}")]
    EtagInvalid(String),
    /// A bulk delete touched a different number of rows than expected.
    #[error("bulk delete affected {affected} rows, expected {expected}")]
    BulkDeleteRowMismatch {
        /// Rows expected.
        expected: u64,
        /// Rows affected.
        affected: u64,
    },
    /// The store does not support this operation.
    #[error("not implemented: {0}")]
    Unimplemented(String),
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Something the contract requires to exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other failure reported by the store.
    #[error("{0}")]
    Other(String),
    /// The component hosting the store failed (trap, deadline, memory, not initialised).
    #[error(transparent)]
    Component(#[from] ComponentError),
}

/// The state-store contract.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Initialise with component metadata. Must precede every other call.
    async fn init(&self, metadata: Metadata) -> Result<(), StateError>;
    /// Supported Dapr features (see [`features`]).
    async fn features(&self) -> Result<Vec<String>, StateError>;
    /// Read a key; `None` if missing.
    async fn get(&self, request: GetRequest) -> Result<Option<StateItem>, StateError>;
    /// Write a key.
    async fn set(&self, request: SetRequest) -> Result<(), StateError>;
    /// Delete a key; a missing key is not an error unless an etag is given.
    async fn delete(&self, request: DeleteRequest) -> Result<(), StateError>;
    /// Read many keys: one answer per request, in request order.
    async fn bulk_get(&self, requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, StateError>;
    /// Write many keys.
    async fn bulk_set(&self, requests: Vec<SetRequest>) -> Result<(), StateError>;
    /// Delete many keys.
    async fn bulk_delete(&self, requests: Vec<DeleteRequest>) -> Result<(), StateError>;
    /// Apply operations in order, all or nothing.
    async fn transact(&self, request: TransactRequest) -> Result<(), StateError>;
    /// Run a query, or fail with [`StateError::Unimplemented`].
    async fn query(&self, request: QueryRequest) -> Result<QueryResponse, StateError>;
    /// Most operations one transaction accepts; `None` = unlimited.
    async fn multi_max_size(&self) -> Result<Option<u32>, StateError>;
    /// Liveness.
    async fn ping(&self) -> Result<(), StateError>;
}

impl From<crate::grpc::client::ConnectError> for StateError {
    fn from(e: crate::grpc::client::ConnectError) -> Self {
        match e {
            crate::grpc::client::ConnectError::InvalidInstance(_) => {
                Self::InvalidArgument(e.to_string())
            }
            crate::grpc::client::ConnectError::Unreachable(_) => Self::Other(e.to_string()),
        }
    }
}
