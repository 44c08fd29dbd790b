//! The wasm adapter: [`InputBinding`] over a component exporting `wasmplug:dapr/input-binding`.

use std::sync::Arc;
use std::time::Duration;

use super::{BlockError, Event, InputBinding, Metadata, Polled};
use crate::bindings::input_world::{InputBindingComponent, InputBindingComponentPre};
use crate::blocks::{md_from_wit, md_to_wit};
use crate::runtime::guest::{Guest, guest_call};

crate::runtime::guest::impl_world!(
    InputBindingComponent,
    InputBindingComponentPre,
    wasmplug_dapr_input_binding,
    crate::bindings::input_world::exports::wasmplug::dapr::input_binding::Guest
);

/// An input binding implemented by a sandboxed wasm component (one guest instance).
#[derive(Debug, Clone)]
pub struct WasmInputBinding {
    guest: Arc<Guest<InputBindingComponent>>,
}

impl WasmInputBinding {
    pub(crate) fn new(guest: Guest<InputBindingComponent>) -> Self {
        Self {
            guest: Arc::new(guest),
        }
    }
}

#[async_trait::async_trait]
impl InputBinding for WasmInputBinding {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        Ok(self.guest.init(md_to_wit(metadata)).await??)
    }

    async fn poll(&self, max: u32) -> Result<Polled, BlockError> {
        let r = guest_call!(self.guest, "poll", call_poll(max))?;
        if r.events.len() > max as usize {
            return Err(BlockError::Other(format!(
                "component returned {} events for a poll of at most {max}",
                r.events.len()
            )));
        }
        Ok(Polled {
            events: r
                .events
                .into_iter()
                .map(|e| Event {
                    id: e.id,
                    data: e.data,
                    metadata: md_from_wit(e.metadata),
                    content_type: e.content_type,
                })
                .collect(),
            next_poll: r.next_poll_ms.map(Duration::from_millis),
        })
    }

    async fn reply(
        &self,
        id: &str,
        data: Vec<u8>,
        error: Option<String>,
    ) -> Result<(), BlockError> {
        let id = id.to_owned();
        Ok(guest_call!(
            self.guest,
            "reply",
            call_reply(&id, &data, error.as_deref())
        )?)
    }

    async fn ping(&self) -> Result<(), BlockError> {
        Ok(guest_call!(self.guest, "ping", call_ping())?)
    }
}
