//! Pub/sub over gRPC, server side: Dapr's `PubSub` service over any [`PubSub`] (the client
//! adapter is `super::client`).
//!
//! `PullMessages` follows daprd: the first message carries only the topic (a first message
//! without one is `INVALID_ARGUMENT`); then the server streams messages, each with a unique
//! id, and daprd answers each with `ack_message_id` (plus `ack_error` for a failure). One
//! stream is one [`Subscription`]; when it ends, whatever it left unacked is redelivered to
//! the next subscription. `BulkPublish` is served only when the component advertises
//! `BULK_PUBSUB`; `Pause`/`Resume` are idempotent and hold/release deliveries on the
//! instance's streams. A stream holds at most [`MAX_UNACKED`] deliveries unacked at once, so
//! replicas sharing a subscription share its backlog.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::window::{AckWindow, MAX_UNACKED};
use super::{
    BULK_PUBSUB, BlockError, BulkEntry, BulkPublishRequest, Delivery, FETCH_BATCH, Metadata,
    PubSub, PublishRequest, Subscription,
};
use crate::grpc::Instances;
use crate::grpc::pump::{Signals, pump};
use crate::grpc::status::block_status;
use crate::proto as pb;
use pb::pub_sub_server::{PubSub as PubSubService, PubSubServer};

/// A shared, dynamically typed pub/sub (one per Dapr instance).
pub type SharedPubSub = Arc<dyn PubSub>;

pub(super) fn md(m: HashMap<String, String>) -> Metadata {
    m.into_iter().collect()
}

pub(super) fn md_out(m: Metadata) -> HashMap<String, String> {
    m.into_iter().collect()
}

pub(super) fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

// ---- server -----------------------------------------------------------------------------------

/// The `PubSub` service of one component, multiplexing Dapr instances.
#[derive(Debug, Clone)]
pub struct PubSubServices {
    instances: Arc<Instances<SharedPubSub>>,
    paused: Arc<Mutex<HashMap<String, watch::Sender<bool>>>>,
    shutdown: watch::Receiver<bool>,
}

impl PubSubServices {
    /// Services over `instances`; open streams end when `shutdown` turns true.
    pub fn new(instances: Arc<Instances<SharedPubSub>>, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            instances,
            paused: Arc::default(),
            shutdown,
        }
    }

    fn pause_flag<T>(&self, r: &Request<T>) -> Result<watch::Sender<bool>, Status> {
        let name = Instances::<SharedPubSub>::name_of(r)?;
        let mut map = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map
            .entry(name)
            .or_insert_with(|| watch::channel(false).0)
            .clone())
    }
}

/// Adds the `PubSub` service to `builder`; returns its name (for reflection).
pub fn add_services(
    builder: &mut tonic::service::RoutesBuilder,
    instances: Arc<Instances<SharedPubSub>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<&'static str> {
    use tonic::server::NamedService;
    builder.add_service(PubSubServer::new(PubSubServices::new(instances, shutdown)));
    vec![<PubSubServer<PubSubServices> as NamedService>::NAME]
}

type R<T> = Result<Response<T>, Status>;

/// The longest a quiet subscription waits for a wake-up before polling again.
const IDLE_WAIT: Duration = Duration::from_secs(1);
type PullStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::PullMessagesResponse, Status>> + Send>>;

fn response(d: Delivery) -> pb::PullMessagesResponse {
    pb::PullMessagesResponse {
        data: d.data,
        topic_name: d.topic,
        metadata: md_out(d.metadata),
        content_type: d.content_type.unwrap_or_default(),
        id: d.id,
    }
}

#[tonic::async_trait]
impl PubSubService for PubSubServices {
    async fn init(&self, request: Request<pb::PubSubInitRequest>) -> R<pb::PubSubInitResponse> {
        let (name, ps) = self.instances.create(&request)?;
        let metadata = crate::grpc::metadata::from_init(request.into_inner().metadata);
        ps.init(metadata).await.map_err(block_status)?;
        self.instances.register(name, ps);
        Ok(Response::new(pb::PubSubInitResponse {}))
    }

    async fn features(&self, request: Request<pb::FeaturesRequest>) -> R<pb::FeaturesResponse> {
        let features = self
            .instances
            .get(&request)?
            .features()
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::FeaturesResponse { features }))
    }

    async fn publish(&self, request: Request<pb::PublishRequest>) -> R<pb::PublishResponse> {
        let ps = self.instances.get(&request)?;
        let r = request.into_inner();
        ps.publish(PublishRequest {
            topic: r.topic,
            data: r.data,
            metadata: md(r.metadata),
            content_type: non_empty(r.content_type),
        })
        .await
        .map_err(block_status)?;
        Ok(Response::new(pb::PublishResponse {}))
    }

    async fn bulk_publish(
        &self,
        request: Request<pb::BulkPublishRequest>,
    ) -> R<pb::BulkPublishResponse> {
        let ps = self.instances.get(&request)?;
        if !ps
            .features()
            .await
            .map_err(block_status)?
            .iter()
            .any(|f| f == BULK_PUBSUB)
        {
            return Err(Status::unimplemented(
                "this pubsub does not advertise BULK_PUBSUB",
            ));
        }
        let r = request.into_inner();
        let failures = ps
            .bulk_publish(BulkPublishRequest {
                topic: r.topic,
                entries: r
                    .entries
                    .into_iter()
                    .map(|e| BulkEntry {
                        entry_id: e.entry_id,
                        event: e.event,
                        content_type: non_empty(e.content_type),
                        metadata: md(e.metadata),
                    })
                    .collect(),
                metadata: md(r.metadata),
            })
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::BulkPublishResponse {
            failed_entries: failures
                .into_iter()
                .map(|f| pb::BulkPublishResponseFailedEntry {
                    entry_id: f.entry_id,
                    error: f.error,
                })
                .collect(),
        }))
    }

    type PullMessagesStream = PullStream;

    async fn pull_messages(
        &self,
        request: Request<Streaming<pb::PullMessagesRequest>>,
    ) -> R<Self::PullMessagesStream> {
        let ps = self.instances.get(&request)?;
        let paused = self.pause_flag(&request)?.subscribe();
        let mut inbound = request.into_inner();
        let first = inbound.message().await?.ok_or_else(|| {
            Status::invalid_argument(
                "the stream ended before its first message (which must carry the topic)",
            )
        })?;
        let topic = first.topic.filter(|t| !t.name.is_empty()).ok_or_else(|| {
            Status::invalid_argument("the first PullMessages message must carry the topic")
        })?;
        let sub: Arc<dyn Subscription> = ps
            .subscribe(&topic.name, md(topic.metadata))
            .await
            .map_err(block_status)?
            .into();

        let (out, rx) = mpsc::channel(FETCH_BATCH as usize);
        let (stop_tx, stop_rx) = watch::channel(false);
        // Acks from daprd, in arrival order; the end of daprd's side ends the subscription.
        let acks = sub.clone();
        let window = Arc::new(AckWindow::new(MAX_UNACKED));
        let acked = window.clone();
        let topic_name = topic.name.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            // On shutdown stop reading too: dropping our end of the request stream lets the
            // connection close even if the client keeps its side open.
            while let Some(Ok(Some(m))) = tokio::select! {
                m = inbound.message() => Some(m),
                _ = shutdown.wait_for(|s| *s) => None,
            } {
                if m.ack_message_id.is_empty() {
                    continue;
                }
                acked.acked(&m.ack_message_id);
                if let Err(e) = acks
                    .ack(&m.ack_message_id, m.ack_error.map(|e| e.message))
                    .await
                {
                    tracing::warn!(topic = %topic_name, id = %m.ack_message_id, "ack failed: {e}");
                }
            }
            acked.close();
            let _ = stop_tx.send(true);
        });
        let signals = Signals {
            stop: stop_rx,
            shutdown: self.shutdown.clone(),
            paused: Some(paused),
        };
        let waiter = sub.clone();
        tokio::spawn(pump(
            out,
            signals,
            move || {
                let sub = sub.clone();
                let window = window.clone();
                async move {
                    // Only as many as the ack window has room for; a full window waits
                    // here for an ack (or for the stream to end: then nothing is fetched).
                    let Some(room) = window.reserve(FETCH_BATCH as usize).await else {
                        return Ok((Vec::new(), IDLE_WAIT));
                    };
                    let max = u32::try_from(room).unwrap_or(FETCH_BATCH);
                    let batch = match sub.poll(max).await {
                        Ok(batch) => batch,
                        Err(e) => {
                            window.sent(room, std::iter::empty());
                            return Err(e);
                        }
                    };
                    window.sent(room, batch.iter().map(|d| d.id.as_str()));
                    Ok::<_, BlockError>((batch.into_iter().map(response).collect(), IDLE_WAIT))
                }
            },
            move |d| {
                let sub = waiter.clone();
                async move { sub.wait(d).await }
            },
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn pause(&self, request: Request<pb::PauseRequest>) -> R<pb::PauseResponse> {
        self.instances.get(&request)?;
        self.pause_flag(&request)?.send_replace(true);
        Ok(Response::new(pb::PauseResponse {}))
    }

    async fn resume(&self, request: Request<pb::ResumeRequest>) -> R<pb::ResumeResponse> {
        self.instances.get(&request)?;
        self.pause_flag(&request)?.send_replace(false);
        Ok(Response::new(pb::ResumeResponse {}))
    }

    async fn ping(&self, request: Request<pb::PingRequest>) -> R<pb::PingResponse> {
        self.instances
            .get(&request)?
            .ping()
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::PingResponse {}))
    }
}
