//! The one mapping between [`StateError`] and gRPC statuses, in both directions, with
//! exactly the shapes daprd decodes (`pkg/components/state/pluggable.go`).

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::super::StateError;
use crate::grpc::status::{ERROR_DOMAIN, NOT_INITIALIZED, fault_status};

/// `ErrorInfo.reason` of a bulk-delete row mismatch.
pub const BULK_DELETE_ROW_MISMATCH: &str = "BULK_DELETE_ROW_MISMATCH";

/// Maps a state error onto the gRPC status daprd expects.
pub fn to_status(e: StateError) -> Status {
    match e {
        StateError::EtagMismatch(m) => Status::with_error_details(
            Code::FailedPrecondition,
            m.clone(),
            ErrorDetails::with_bad_request_violation("etag", m),
        ),
        StateError::EtagInvalid(m) => Status::with_error_details(
            Code::InvalidArgument,
            m.clone(),
            ErrorDetails::with_bad_request_violation("etag", m),
        ),
        StateError::BulkDeleteRowMismatch { expected, affected } => Status::with_error_details(
            Code::Internal,
            format!("bulk delete affected {affected} rows, expected {expected}"),
            ErrorDetails::with_error_info(
                BULK_DELETE_ROW_MISMATCH,
                ERROR_DOMAIN,
                HashMap::from([
                    ("expected".to_owned(), expected.to_string()),
                    ("affected".to_owned(), affected.to_string()),
                ]),
            ),
        ),
        StateError::Unimplemented(m) => Status::unimplemented(m),
        StateError::InvalidArgument(m) => Status::invalid_argument(m),
        StateError::NotFound(m) => Status::not_found(m),
        StateError::Other(m) => Status::unknown(m),
        StateError::Component(c) => fault_status(&c),
    }
}

/// Maps a gRPC status from any pluggable state store back onto [`StateError`].
pub fn from_status(s: Status) -> StateError {
    let etag_detail = || {
        s.get_details_bad_request()
            .is_some_and(|b| b.field_violations.iter().any(|v| v.field == "etag"))
    };
    let info = s.get_details_error_info();
    match s.code() {
        Code::FailedPrecondition if etag_detail() => {
            StateError::EtagMismatch(s.message().to_owned())
        }
        Code::InvalidArgument if etag_detail() => StateError::EtagInvalid(s.message().to_owned()),
        Code::Internal
            if let Some(i) = info
                .as_ref()
                .filter(|i| i.metadata.contains_key("expected")) =>
        {
            let n = |k: &str| i.metadata.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
            StateError::BulkDeleteRowMismatch {
                expected: n("expected"),
                affected: n("affected"),
            }
        }
        Code::FailedPrecondition if info.as_ref().is_some_and(|i| i.reason == NOT_INITIALIZED) => {
            StateError::Component(crate::runtime::error::ComponentError::not_initialized(
                s.message(),
            ))
        }
        Code::Unimplemented => StateError::Unimplemented(s.message().to_owned()),
        Code::InvalidArgument => StateError::InvalidArgument(s.message().to_owned()),
        Code::NotFound => StateError::NotFound(s.message().to_owned()),
        code => StateError::Other(format!("{code:?}: {}", s.message())),
    }
}
