//! The wasm adapter: [`OutputBinding`] over a component exporting
//! `wasmplug:dapr/output-binding`.

use std::sync::Arc;

use super::{BlockError, InvokeRequest, InvokeResponse, Metadata, OutputBinding};
use crate::bindings::output_world::exports::wasmplug::dapr::output_binding as w;
use crate::bindings::output_world::{OutputBindingComponent, OutputBindingComponentPre};
use crate::blocks::{md_from_wit, md_to_wit};
use crate::runtime::guest::{Guest, guest_call};

crate::runtime::guest::impl_world!(
    OutputBindingComponent,
    OutputBindingComponentPre,
    wasmplug_dapr_output_binding,
    crate::bindings::output_world::exports::wasmplug::dapr::output_binding::Guest
);

/// An output binding implemented by a sandboxed wasm component (one guest instance).
///
/// Calls go straight to the component: the `list-operations` gate daprd applies is the
/// bridge's job (see [`super::grpc`]), not this adapter's.
#[derive(Debug, Clone)]
pub struct WasmOutputBinding {
    guest: Arc<Guest<OutputBindingComponent>>,
}

impl WasmOutputBinding {
    pub(crate) fn new(guest: Guest<OutputBindingComponent>) -> Self {
        Self {
            guest: Arc::new(guest),
        }
    }
}

#[async_trait::async_trait]
impl OutputBinding for WasmOutputBinding {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        self.guest
            .init(md_to_wit(metadata))
            .await?
            .map_err(BlockError::from)
    }

    async fn list_operations(&self) -> Result<Vec<String>, BlockError> {
        Ok(guest_call!(
            self.guest,
            "list-operations",
            call_list_operations()
        ))
    }

    async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, BlockError> {
        let req = w::InvokeRequest {
            operation: request.operation,
            data: request.data,
            metadata: md_to_wit(request.metadata),
        };
        let r = guest_call!(self.guest, "invoke", call_invoke(&req)).map_err(BlockError::from)?;
        Ok(InvokeResponse {
            data: r.data,
            metadata: md_from_wit(r.metadata),
            content_type: r.content_type,
        })
    }

    async fn ping(&self) -> Result<(), BlockError> {
        guest_call!(self.guest, "ping", call_ping()).map_err(BlockError::from)
    }
}
