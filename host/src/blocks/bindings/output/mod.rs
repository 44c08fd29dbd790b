//! The output-binding building block: the app invokes named operations on a component.
//!
//! [`OutputBinding`] is the contract every implementation meets, whatever is behind it:
//! - [`WasmOutputBinding`]: a sandboxed wasm component exporting `wasmplug:dapr/output-binding`;
//! - [`MemoryOutputBinding`]: a native in-memory "local storage" binding with the operations
//!   and semantics of the `localstorage` guest, the baseline for tests;
//! - [`GrpcOutputBinding`]: any pluggable output binding over its UNIX socket (the client
//!   adapter);
//!
//! and [`grpc`] serves any of them to daprd as Dapr's `OutputBinding` service.
//!
//! Semantics (those daprd relies on, see the protocol notes):
//! - [`OutputBinding::list_operations`] names the operations [`OutputBinding::invoke`]
//!   accepts. daprd asks once, after `Init`, and rejects any `Invoke` whose operation is not
//!   *exactly* in that list without calling the component. The bridge does the same (it
//!   caches the list per instance at `Init`), so a component behind the bridge never sees
//!   an operation it did not list, whoever the client is. In-process callers
//!   ([`WasmOutputBinding`]) reach the component directly and get its own answer
//!   (usually [`BlockError::Unimplemented`]).
//! - data and metadata pass through untouched; a response content type is optional;
//! - every call but [`OutputBinding::init`] fails until `init` succeeded.

pub mod grpc;
mod memory;
mod wasm;

pub use grpc::GrpcOutputBinding;
pub use memory::MemoryOutputBinding;
pub use wasm::WasmOutputBinding;

pub use crate::blocks::{BlockError, Metadata};

/// The operations and metadata of the local-storage binding (the `localstorage` guest and
/// [`MemoryOutputBinding`]), compatible with Dapr's `bindings.localstorage`.
///
/// | operation  | request metadata       | response                                               |
/// |------------|------------------------|--------------------------------------------------------|
/// | [`CREATE`] | [`FILE_NAME`], optional | JSON `{"fileName":"<name>"}`, metadata [`FILE_NAME`]   |
/// | [`GET`]    | [`FILE_NAME`]           | the file's bytes; a missing file is `NotFound`         |
/// | [`LIST`]   | —                      | JSON array of the file names, sorted                   |
/// | [`DELETE`] | [`FILE_NAME`]           | empty; a missing file is `NotFound`                    |
///
/// File names are flat: a name with `/`, `\` or NUL, `.`/`..`, an empty name or one longer
/// than [`MAX_NAME_LEN`] bytes is `InvalidArgument`. Without a file name (or with an empty
/// one), `create` picks a fresh random name of 32 lowercase hex digits.
///
/// [`CREATE`]: localstorage::CREATE
/// [`GET`]: localstorage::GET
/// [`LIST`]: localstorage::LIST
/// [`DELETE`]: localstorage::DELETE
/// [`FILE_NAME`]: localstorage::FILE_NAME
/// [`MAX_NAME_LEN`]: localstorage::MAX_NAME_LEN
pub mod localstorage {
    /// Writes the request data to a file (creating or replacing it).
    pub const CREATE: &str = "create";
    /// Reads a file.
    pub const GET: &str = "get";
    /// Lists the files.
    pub const LIST: &str = "list";
    /// Deletes a file.
    pub const DELETE: &str = "delete";
    /// Every operation, in the order `list-operations` reports them.
    pub const OPERATIONS: [&str; 4] = [CREATE, GET, LIST, DELETE];
    /// Request (and `create` response) metadata key naming the file.
    pub const FILE_NAME: &str = "fileName";
    /// Component metadata key naming the root directory (guest path) of the wasm binding.
    pub const ROOT_PATH: &str = "rootPath";
    /// The longest file name accepted, in bytes.
    pub const MAX_NAME_LEN: usize = 255;
    /// Content type of the JSON responses (`create`, `list`).
    pub const JSON: &str = "application/json";
}

/// One invocation of an output binding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvokeRequest {
    /// The operation; must be one of [`OutputBinding::list_operations`].
    pub operation: String,
    /// The payload.
    pub data: Vec<u8>,
    /// Request metadata.
    pub metadata: Metadata,
}

impl InvokeRequest {
    /// An invocation of `operation` with no data and no metadata.
    pub fn new(operation: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            ..Self::default()
        }
    }
    /// Set the payload.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }
    /// Add a metadata pair.
    pub fn with_metadata(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.metadata.insert(k.into(), v.into());
        self
    }
}

/// The answer of an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvokeResponse {
    /// The payload.
    pub data: Vec<u8>,
    /// Response metadata.
    pub metadata: Metadata,
    /// Content type of `data`, if the component knows it.
    pub content_type: Option<String>,
}

/// The output-binding contract.
#[async_trait::async_trait]
pub trait OutputBinding: Send + Sync + std::fmt::Debug {
    /// Initialise with component metadata. Must precede every other call.
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError>;
    /// The operations [`OutputBinding::invoke`] accepts.
    async fn list_operations(&self) -> Result<Vec<String>, BlockError>;
    /// Run one operation.
    async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, BlockError>;
    /// Liveness.
    async fn ping(&self) -> Result<(), BlockError>;
}
