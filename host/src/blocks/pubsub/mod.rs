//! The pub/sub building block.
//!
//! [`PubSub`] is the contract; [`Subscription`] is one topic subscription (one daprd
//! `PullMessages` stream). Implementations: [`WasmPubSub`] (a sandboxed component exporting
//! `wasmplug:dapr/pubsub`), [`MemoryPubSub`] (the native reference) and [`GrpcPubSub`] (any
//! pluggable pub/sub over its socket).
//!
//! # How a subscriber waits without holding the guest hostage
//! A subscription never blocks inside the guest. Delivery is driven by the host:
//! [`Subscription::poll`] makes one short guest call (`fetch`) that returns the messages
//! ready now, possibly none; [`Subscription::wait`] then waits *outside* the guest, on a
//! per-topic wake-up that every publish through this host fires, or on a short fallback
//! timer. Between those steps the instance is free, so publishes, acks and other
//! subscriptions to the same component are served immediately: a quiet topic costs one
//! cheap call per fallback interval, not a blocked instance. Acks go straight to the guest.
//!
//! # Delivery guarantees (every implementation)
//! Per topic, messages are delivered in publish order, each delivery with a unique id; an
//! ack removes the message for good; a nack, or a subscription that ends with the message
//! unacked, makes it deliverable again (at-least-once); a new subscription to the topic
//! redelivers whatever an earlier one left unacked.

mod client;
mod grpc;
mod memory;
mod wasm;
mod window;

pub use window::MAX_UNACKED;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

pub use client::GrpcPubSub;
pub use grpc::{PubSubServices, SharedPubSub, add_services};
pub use memory::MemoryPubSub;
pub use wasm::WasmPubSub;

pub use super::{BlockError, Metadata};

/// Feature: `bulk_publish` is supported (daprd only calls BulkPublish if advertised).
pub const BULK_PUBSUB: &str = "BULK_PUBSUB";

/// How long a waiting subscription sleeps at most before polling again even without a
/// wake-up (covers messages that arrive by other routes).
pub const POLL_FALLBACK: Duration = Duration::from_millis(250);

/// Most messages fetched from a component per poll.
pub const FETCH_BATCH: u32 = 8;

/// Publish one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishRequest {
    /// Topic.
    pub topic: String,
    /// Payload (usually a CloudEvent from daprd).
    pub data: Vec<u8>,
    /// Request metadata.
    pub metadata: Metadata,
    /// Content type, if known.
    pub content_type: Option<String>,
}

impl PublishRequest {
    /// `data` to `topic`.
    pub fn new(topic: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.into(),
            data: data.into(),
            ..Self::default()
        }
    }
}

/// One entry of a bulk publish.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkEntry {
    /// Caller's id of the entry, echoed in failures.
    pub entry_id: String,
    /// Payload.
    pub event: Vec<u8>,
    /// Content type.
    pub content_type: Option<String>,
    /// Entry metadata.
    pub metadata: Metadata,
}

/// Publish many messages to one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkPublishRequest {
    /// Topic.
    pub topic: String,
    /// Entries, in order.
    pub entries: Vec<BulkEntry>,
    /// Request metadata.
    pub metadata: Metadata,
}

/// An entry that failed to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkFailure {
    /// Its entry id.
    pub entry_id: String,
    /// Why.
    pub error: String,
}

/// A message delivered to a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Unique per delivery: a redelivery has a new id.
    pub id: String,
    /// Topic.
    pub topic: String,
    /// Payload.
    pub data: Vec<u8>,
    /// Metadata.
    pub metadata: Metadata,
    /// Content type.
    pub content_type: Option<String>,
}

/// The pub/sub contract.
#[async_trait::async_trait]
pub trait PubSub: Send + Sync + std::fmt::Debug {
    /// Initialise with component metadata. Must precede every other call.
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError>;
    /// Supported Dapr features, e.g. [`BULK_PUBSUB`].
    async fn features(&self) -> Result<Vec<String>, BlockError>;
    /// Publish one message.
    async fn publish(&self, request: PublishRequest) -> Result<(), BlockError>;
    /// Publish many; returns the entries that failed.
    async fn bulk_publish(
        &self,
        request: BulkPublishRequest,
    ) -> Result<Vec<BulkFailure>, BlockError>;
    /// Start a subscription to `topic`; anything an earlier subscription left unacked is
    /// delivered again.
    async fn subscribe(
        &self,
        topic: &str,
        metadata: Metadata,
    ) -> Result<Box<dyn Subscription>, BlockError>;
    /// Liveness.
    async fn ping(&self) -> Result<(), BlockError>;
}

/// One topic subscription. Dropping it ends it: whatever it left unacked is redelivered.
#[async_trait::async_trait]
pub trait Subscription: Send + Sync + std::fmt::Debug {
    /// Up to `max` ready deliveries, in order, without waiting (possibly none).
    async fn poll(&self, max: u32) -> Result<Vec<Delivery>, BlockError>;
    /// Waits until more deliveries may be ready, or `timeout`. Cancel-safe.
    async fn wait(&self, timeout: Duration);
    /// The outcome of delivery `id`: `None` = processed, `Some(reason)` = failed (redeliver).
    async fn ack(&self, id: &str, error: Option<String>) -> Result<(), BlockError>;

    /// Ends the subscription after everything already acked has reached the component
    /// (dropping it also ends it, without that guarantee for acks still in transit).
    async fn close(self: Box<Self>) {}

    /// The next delivery, waiting up to `timeout`; `None` if nothing arrived in time.
    async fn next(&self, timeout: Duration) -> Result<Option<Delivery>, BlockError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(d) = self.poll(1).await?.pop() {
                return Ok(Some(d));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.wait(deadline - now).await;
        }
    }
}

/// Per-topic wake-ups fired by publishes through this host.
#[derive(Debug, Default)]
pub(crate) struct Wakeups(Mutex<HashMap<String, Arc<Notify>>>);

impl Wakeups {
    pub(crate) fn of(&self, topic: &str) -> Arc<Notify> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(topic.to_owned())
            .or_default()
            .clone()
    }

    pub(crate) fn wake(&self, topic: &str) {
        // `notify_one` stores a permit when nobody waits yet, so a publish that lands between
        // a subscriber's empty poll and its wait is not missed.
        self.of(topic).notify_one();
    }
}

/// The low-level queue operations the wasm guest exports and the reference mirrors; a
/// [`QueueSubscription`] turns them into a [`Subscription`].
#[async_trait::async_trait]
pub(crate) trait Queue: Send + Sync + std::fmt::Debug + 'static {
    async fn fetch(&self, topic: &str, max: u32) -> Result<Vec<Delivery>, BlockError>;
    async fn ack(&self, topic: &str, id: &str, error: Option<String>) -> Result<(), BlockError>;
}

/// A subscription over a [`Queue`]: poll = one `fetch`, wait = the topic's wake-up or the
/// fallback timer, outside the guest.
#[derive(Debug)]
pub(crate) struct QueueSubscription<Q: Queue> {
    pub(crate) queue: Arc<Q>,
    pub(crate) topic: String,
    pub(crate) wakeup: Arc<Notify>,
}

#[async_trait::async_trait]
impl<Q: Queue> Subscription for QueueSubscription<Q> {
    async fn poll(&self, max: u32) -> Result<Vec<Delivery>, BlockError> {
        self.queue.fetch(&self.topic, max).await
    }

    async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout.min(POLL_FALLBACK), self.wakeup.notified()).await;
    }

    async fn ack(&self, id: &str, error: Option<String>) -> Result<(), BlockError> {
        self.queue.ack(&self.topic, id, error).await
    }
}
