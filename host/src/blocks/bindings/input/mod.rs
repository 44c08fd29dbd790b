//! Input bindings: events flow from the component to the app; the app's reply flows back.
//!
//! [`InputBinding`] is the contract. Delivery is host-driven, like pub/sub: [`InputBinding::poll`]
//! is one short guest call returning the events ready now and when to look again; the host
//! waits *outside* the guest (never more than a second at a time, so shutdown is prompt), so
//! a binding that fires once an hour never holds its instance. Replies are handed to the
//! component with [`InputBinding::reply`], correlated by event id.
//!
//! Implementations: [`WasmInputBinding`], [`MemoryInputBinding`] (the native reference: an
//! `@every <duration>` ticker) and [`GrpcInputBinding`] (any pluggable input binding).

mod grpc;
mod memory;
mod wasm;

use std::time::Duration;

pub use grpc::{GrpcInputBinding, SharedInputBinding, add_services};
pub use memory::MemoryInputBinding;
pub use wasm::WasmInputBinding;

pub use crate::blocks::{BlockError, Metadata};

/// Most events taken from a component per poll.
pub const POLL_BATCH: u32 = 8;
/// Longest the host waits between polls, whatever the component asks.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// One event for the app.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// Unique per event; the reply carries it back.
    pub id: String,
    /// Payload.
    pub data: Vec<u8>,
    /// Metadata.
    pub metadata: Metadata,
    /// Content type.
    pub content_type: Option<String>,
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Polled {
    /// Events ready now.
    pub events: Vec<Event>,
    /// When to poll again if there were none (`None`: the host's default).
    pub next_poll: Option<Duration>,
}

/// The input-binding contract.
#[async_trait::async_trait]
pub trait InputBinding: Send + Sync + std::fmt::Debug {
    /// Initialise with component metadata. Must precede every other call.
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError>;
    /// Up to `max` ready events; never blocks.
    async fn poll(&self, max: u32) -> Result<Polled, BlockError>;
    /// The app's answer to event `id`: its response data, or the error it failed with.
    async fn reply(&self, id: &str, data: Vec<u8>, error: Option<String>)
    -> Result<(), BlockError>;
    /// Liveness.
    async fn ping(&self) -> Result<(), BlockError>;

    /// The next event, waiting up to `timeout` (sleeping between polls as the binding asks).
    async fn next(&self, timeout: Duration) -> Result<Option<Event>, BlockError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let polled = self.poll(1).await?;
            if let Some(e) = polled.events.into_iter().next() {
                return Ok(Some(e));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = polled
                .next_poll
                .unwrap_or(MAX_POLL_INTERVAL)
                .min(MAX_POLL_INTERVAL);
            tokio::time::sleep(nap.min(deadline - now)).await;
        }
    }
}
