//! The wasm adapter: [`PubSub`] over a component exporting `wasmplug:dapr/pubsub`.

use std::sync::Arc;

use super::{
    BlockError, BulkFailure, BulkPublishRequest, Delivery, Metadata, PubSub, PublishRequest, Queue,
    QueueSubscription, Subscription, Wakeups,
};
use crate::bindings::pubsub_world::exports::wasmplug::dapr::pubsub as w;
use crate::bindings::pubsub_world::{PubsubComponent, PubsubComponentPre};
use crate::blocks::{md_from_wit, md_to_wit};
use crate::runtime::guest::{Guest, guest_call};

crate::runtime::guest::impl_world!(
    PubsubComponent,
    PubsubComponentPre,
    wasmplug_dapr_pubsub,
    crate::bindings::pubsub_world::exports::wasmplug::dapr::pubsub::Guest
);

/// A pub/sub implemented by a sandboxed wasm component (one guest instance).
#[derive(Debug, Clone)]
pub struct WasmPubSub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    guest: Guest<PubsubComponent>,
    wakeups: Wakeups,
}

impl WasmPubSub {
    pub(crate) fn new(guest: Guest<PubsubComponent>) -> Self {
        Self {
            inner: Arc::new(Inner {
                guest,
                wakeups: Wakeups::default(),
            }),
        }
    }
}

fn delivery(d: w::Delivery) -> Delivery {
    Delivery {
        id: d.id,
        topic: d.topic,
        data: d.data,
        metadata: md_from_wit(d.metadata),
        content_type: d.content_type,
    }
}

#[async_trait::async_trait]
impl PubSub for WasmPubSub {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        Ok(self.inner.guest.init(md_to_wit(metadata)).await??)
    }

    async fn features(&self) -> Result<Vec<String>, BlockError> {
        Ok(guest_call!(self.inner.guest, "features", call_features()))
    }

    async fn publish(&self, request: PublishRequest) -> Result<(), BlockError> {
        let topic = request.topic.clone();
        let req = w::PublishRequest {
            topic: request.topic,
            data: request.data,
            metadata: md_to_wit(request.metadata),
            content_type: request.content_type,
        };
        guest_call!(self.inner.guest, "publish", call_publish(&req))?;
        self.inner.wakeups.wake(&topic);
        Ok(())
    }

    async fn bulk_publish(
        &self,
        request: BulkPublishRequest,
    ) -> Result<Vec<BulkFailure>, BlockError> {
        let topic = request.topic.clone();
        let req = w::BulkPublishRequest {
            topic: request.topic,
            entries: request
                .entries
                .into_iter()
                .map(|e| w::BulkEntry {
                    entry_id: e.entry_id,
                    event: e.event,
                    content_type: e.content_type,
                    metadata: md_to_wit(e.metadata),
                })
                .collect(),
            metadata: md_to_wit(request.metadata),
        };
        let failures = guest_call!(self.inner.guest, "bulk-publish", call_bulk_publish(&req))?;
        self.inner.wakeups.wake(&topic);
        Ok(failures
            .into_iter()
            .map(|f| BulkFailure {
                entry_id: f.entry_id,
                error: f.error,
            })
            .collect())
    }

    async fn subscribe(
        &self,
        topic: &str,
        metadata: Metadata,
    ) -> Result<Box<dyn Subscription>, BlockError> {
        let t = topic.to_owned();
        let md = md_to_wit(metadata);
        guest_call!(self.inner.guest, "subscribe", call_subscribe(&t, &md))?;
        Ok(Box::new(QueueSubscription {
            queue: Arc::new(self.clone()),
            topic: topic.to_owned(),
            wakeup: self.inner.wakeups.of(topic),
        }))
    }

    async fn ping(&self) -> Result<(), BlockError> {
        Ok(guest_call!(self.inner.guest, "ping", call_ping())?)
    }
}

#[async_trait::async_trait]
impl Queue for WasmPubSub {
    async fn fetch(&self, topic: &str, max: u32) -> Result<Vec<Delivery>, BlockError> {
        let t = topic.to_owned();
        let batch = guest_call!(self.inner.guest, "fetch", call_fetch(&t, max))?;
        if batch.len() > max as usize {
            return Err(BlockError::Other(format!(
                "component returned {} messages for a fetch of at most {max}",
                batch.len()
            )));
        }
        Ok(batch.into_iter().map(delivery).collect())
    }

    async fn ack(&self, topic: &str, id: &str, error: Option<String>) -> Result<(), BlockError> {
        let (t, i) = (topic.to_owned(), id.to_owned());
        let nack = error.is_some();
        guest_call!(self.inner.guest, "ack", call_ack(&t, &i, error.as_deref()))?;
        if nack {
            self.inner.wakeups.wake(topic);
        }
        Ok(())
    }
}
