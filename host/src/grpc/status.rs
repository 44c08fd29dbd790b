//! One mapping between wasmplug's errors and gRPC statuses, shared by every block: a
//! component fault, and the generic block error of pub/sub, bindings and secret stores.
//! (The state store adds its etag shapes in `blocks::state`.)

use tonic_types::{ErrorDetails, StatusExt};

use crate::blocks::BlockError;
use crate::runtime::error::{ComponentError, FaultKind};

/// The gRPC status for a component fault: which component, what happened.
pub fn fault_status(e: &ComponentError) -> tonic::Status {
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
pub fn block_status(e: BlockError) -> tonic::Status {
    match e {
        BlockError::InvalidArgument(m) => tonic::Status::invalid_argument(m),
        BlockError::NotFound(m) => tonic::Status::not_found(m),
        BlockError::Unimplemented(m) => tonic::Status::unimplemented(m),
        BlockError::Other(m) => tonic::Status::unknown(m),
        BlockError::Component(c) => fault_status(&c),
    }
}

/// Maps a gRPC status from any pluggable component back onto [`BlockError`].
pub fn block_error(s: tonic::Status) -> BlockError {
    use tonic::Code;
    match s.code() {
        Code::InvalidArgument => BlockError::InvalidArgument(s.message().to_owned()),
        Code::NotFound => BlockError::NotFound(s.message().to_owned()),
        Code::Unimplemented => BlockError::Unimplemented(s.message().to_owned()),
        Code::FailedPrecondition
            if s.get_details_error_info()
                .is_some_and(|i| i.reason == NOT_INITIALIZED) =>
        {
            BlockError::Component(ComponentError::not_initialized(s.message()))
        }
        code => BlockError::Other(format!("{code:?}: {}", s.message())),
    }
}

/// `ErrorInfo.domain` of errors wasmplug itself raises.
pub const ERROR_DOMAIN: &str = "wasmplug.dev";
/// `ErrorInfo.reason` of a call on an instance that was never initialised.
pub const NOT_INITIALIZED: &str = "NOT_INITIALIZED";
