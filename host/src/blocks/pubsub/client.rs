//! [`GrpcPubSub`]: a [`PubSub`] over any pluggable pub/sub socket (the client adapter).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::grpc::{md, md_out, non_empty};
use super::{
    BlockError, BulkFailure, BulkPublishRequest, Delivery, Metadata, PubSub, PublishRequest,
    Subscription,
};
use crate::grpc::status::block_error;
use crate::proto as pb;

crate::grpc::client::client_adapter!(
    /// A [`PubSub`] served by any pluggable component over gRPC: the client adapter.
    #[derive(Debug, Clone)]
    GrpcPubSub(pb::pub_sub_client::PubSubClient<tonic::transport::Channel>) -> BlockError
);

impl GrpcPubSub {
    /// Pauses deliveries on this instance's streams (idempotent).
    pub async fn pause(&self) -> Result<(), BlockError> {
        self.client()
            .pause(self.conn.request(pb::PauseRequest {}))
            .await
            .map_err(block_error)?;
        Ok(())
    }

    /// Resumes deliveries (idempotent).
    pub async fn resume(&self) -> Result<(), BlockError> {
        self.client()
            .resume(self.conn.request(pb::ResumeRequest {}))
            .await
            .map_err(block_error)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl PubSub for GrpcPubSub {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        let msg = pb::PubSubInitRequest {
            metadata: crate::grpc::metadata::to_init(metadata),
        };
        self.client()
            .init(self.conn.request(msg))
            .await
            .map_err(block_error)?;
        Ok(())
    }

    async fn features(&self) -> Result<Vec<String>, BlockError> {
        Ok(self
            .client()
            .features(self.conn.request(pb::FeaturesRequest {}))
            .await
            .map_err(block_error)?
            .into_inner()
            .features)
    }

    async fn publish(&self, r: PublishRequest) -> Result<(), BlockError> {
        let msg = pb::PublishRequest {
            data: r.data,
            pubsub_name: String::new(),
            topic: r.topic,
            metadata: md_out(r.metadata),
            content_type: r.content_type.unwrap_or_default(),
        };
        self.client()
            .publish(self.conn.request(msg))
            .await
            .map_err(block_error)?;
        Ok(())
    }

    async fn bulk_publish(&self, r: BulkPublishRequest) -> Result<Vec<BulkFailure>, BlockError> {
        let msg = pb::BulkPublishRequest {
            entries: r
                .entries
                .into_iter()
                .map(|e| pb::BulkMessageEntry {
                    entry_id: e.entry_id,
                    event: e.event,
                    content_type: e.content_type.unwrap_or_default(),
                    metadata: md_out(e.metadata),
                })
                .collect(),
            pubsub_name: String::new(),
            topic: r.topic,
            metadata: md_out(r.metadata),
        };
        let resp = self
            .client()
            .bulk_publish(self.conn.request(msg))
            .await
            .map_err(block_error)?
            .into_inner();
        Ok(resp
            .failed_entries
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
        let (acks, outbound) = mpsc::channel(64);
        let first = pb::PullMessagesRequest {
            topic: Some(pb::Topic {
                name: topic.to_owned(),
                metadata: md_out(metadata),
            }),
            ack_message_id: String::new(),
            ack_error: None,
        };
        acks.send(first)
            .await
            .map_err(|_| BlockError::Other("subscription channel closed".into()))?;
        let mut inbound = self
            .client()
            .pull_messages(self.conn.request(ReceiverStream::new(outbound)))
            .await
            .map_err(block_error)?
            .into_inner();
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            loop {
                match inbound.message().await {
                    Ok(Some(m)) => {
                        let d = Delivery {
                            id: m.id,
                            topic: m.topic_name,
                            data: m.data,
                            metadata: md(m.metadata),
                            content_type: non_empty(m.content_type),
                        };
                        if tx.send(Ok(d)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(s) => {
                        let _ = tx.send(Err(block_error(s)));
                        return;
                    }
                }
            }
        });
        Ok(Box::new(GrpcSubscription {
            acks,
            deliveries: tokio::sync::Mutex::new(Received {
                rx,
                ready: Default::default(),
            }),
            reader: Some(reader),
        }))
    }

    async fn ping(&self) -> Result<(), BlockError> {
        self.client()
            .ping(self.conn.request(pb::PingRequest {}))
            .await
            .map_err(block_error)?;
        Ok(())
    }
}

#[derive(Debug)]
struct Received {
    rx: mpsc::UnboundedReceiver<Result<Delivery, BlockError>>,
    ready: std::collections::VecDeque<Result<Delivery, BlockError>>,
}

/// One `PullMessages` stream seen from the client side. Dropping it closes the stream.
#[derive(Debug)]
struct GrpcSubscription {
    acks: mpsc::Sender<pb::PullMessagesRequest>,
    deliveries: tokio::sync::Mutex<Received>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for GrpcSubscription {
    fn drop(&mut self) {
        if let Some(r) = &self.reader {
            r.abort();
        }
    }
}

#[async_trait::async_trait]
impl Subscription for GrpcSubscription {
    async fn poll(&self, max: u32) -> Result<Vec<Delivery>, BlockError> {
        let mut d = self.deliveries.lock().await;
        while let Ok(item) = d.rx.try_recv() {
            d.ready.push_back(item);
        }
        let mut out = Vec::new();
        while out.len() < max as usize {
            match d.ready.pop_front() {
                Some(Ok(item)) => out.push(item),
                Some(Err(e)) if out.is_empty() => return Err(e),
                Some(Err(e)) => {
                    d.ready.push_front(Err(e));
                    break;
                }
                None => break,
            }
        }
        Ok(out)
    }

    async fn wait(&self, timeout: Duration) {
        let mut d = self.deliveries.lock().await;
        if !d.ready.is_empty() {
            return;
        }
        if let Ok(Some(item)) = tokio::time::timeout(timeout, d.rx.recv()).await {
            d.ready.push_back(item);
        }
    }

    async fn close(self: Box<Self>) {
        // Ending our side of the stream makes the server finish handling the acks it has
        // received and then end its side; wait for that (bounded).
        let mut this = *self;
        let reader = this.reader.take();
        // Replace the sender with a closed one so the stream's client side ends.
        drop(std::mem::replace(&mut this.acks, mpsc::channel(1).0));
        if let Some(reader) = reader {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }

    async fn ack(&self, id: &str, error: Option<String>) -> Result<(), BlockError> {
        let msg = pb::PullMessagesRequest {
            topic: None,
            ack_message_id: id.to_owned(),
            ack_error: error.map(|message| pb::AckMessageError { message }),
        };
        self.acks
            .send(msg)
            .await
            .map_err(|_| BlockError::Other("the subscription stream has ended".into()))
    }
}
