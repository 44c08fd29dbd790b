//! Input bindings over gRPC: Dapr's `InputBinding` service over any [`InputBinding`] (server
//! adapter) and [`GrpcInputBinding`] (client adapter).
//!
//! `Read` follows daprd: daprd opens the stream and sends nothing first; the server streams
//! events, each with a unique `message_id`; daprd handles them concurrently and answers each
//! with a `ReadRequest` carrying the same `message_id` and the app's `response_data` (or
//! `response_error`), which is handed to the component's `reply`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{BlockError, Event, InputBinding, MAX_POLL_INTERVAL, Metadata, POLL_BATCH, Polled};
use crate::grpc::Instances;
use crate::grpc::pump::{Signals, pump};
use crate::grpc::status::{block_error, block_status};
use crate::proto as pb;
use pb::input_binding_server::{InputBinding as InputBindingService, InputBindingServer};

/// A shared, dynamically typed input binding (one per Dapr instance).
pub type SharedInputBinding = Arc<dyn InputBinding>;

fn md(m: HashMap<String, String>) -> Metadata {
    m.into_iter().collect()
}

/// The `InputBinding` service of one component, multiplexing Dapr instances.
#[derive(Debug, Clone)]
pub struct InputBindingServices {
    instances: Arc<Instances<SharedInputBinding>>,
    shutdown: watch::Receiver<bool>,
}

/// Adds the `InputBinding` service to `builder`; returns its name (for reflection).
pub fn add_services(
    builder: &mut tonic::service::RoutesBuilder,
    instances: Arc<Instances<SharedInputBinding>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<&'static str> {
    use tonic::server::NamedService;
    builder.add_service(InputBindingServer::new(InputBindingServices {
        instances,
        shutdown,
    }));
    vec![<InputBindingServer<InputBindingServices> as NamedService>::NAME]
}

type R<T> = Result<Response<T>, Status>;

fn read_response(e: Event) -> pb::ReadResponse {
    pb::ReadResponse {
        data: e.data,
        metadata: e.metadata.into_iter().collect(),
        content_type: e.content_type.unwrap_or_default(),
        message_id: e.id,
    }
}

type ReadStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ReadResponse, Status>> + Send>>;

#[tonic::async_trait]
impl InputBindingService for InputBindingServices {
    async fn init(
        &self,
        request: Request<pb::InputBindingInitRequest>,
    ) -> R<pb::InputBindingInitResponse> {
        let (name, b) = self.instances.create(&request)?;
        let metadata = crate::grpc::metadata::from_init(request.into_inner().metadata);
        b.init(metadata).await.map_err(block_status)?;
        self.instances.register(name, b);
        Ok(Response::new(pb::InputBindingInitResponse {}))
    }

    type ReadStream = ReadStream;

    async fn read(&self, request: Request<Streaming<pb::ReadRequest>>) -> R<Self::ReadStream> {
        let binding = self.instances.get(&request)?;
        let mut inbound = request.into_inner();
        let (out, rx) = mpsc::channel(POLL_BATCH as usize);
        let (stop_tx, stop_rx) = watch::channel(false);
        let replies = binding.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            // On shutdown stop reading too: dropping our end of the request stream lets the
            // connection close even if the client keeps its side open.
            while let Some(Ok(Some(m))) = tokio::select! {
                m = inbound.message() => Some(m),
                _ = shutdown.wait_for(|s| *s) => None,
            } {
                if m.message_id.is_empty() {
                    continue;
                }
                let error = m.response_error.map(|e| e.message);
                if let Err(e) = replies.reply(&m.message_id, m.response_data, error).await {
                    tracing::warn!(id = %m.message_id, "input binding reply failed: {e}");
                }
            }
            let _ = stop_tx.send(true);
        });
        let signals = Signals {
            stop: stop_rx,
            shutdown: self.shutdown.clone(),
            paused: None,
        };
        tokio::spawn(pump(
            out,
            signals,
            move || {
                let binding = binding.clone();
                async move {
                    let Polled { events, next_poll } = binding.poll(POLL_BATCH).await?;
                    let most = next_poll
                        .unwrap_or(MAX_POLL_INTERVAL)
                        .min(MAX_POLL_INTERVAL);
                    Ok::<_, BlockError>((events.into_iter().map(read_response).collect(), most))
                }
            },
            tokio::time::sleep,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
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

// ---- client -----------------------------------------------------------------------------------

#[derive(Debug)]
struct ReadSide {
    replies: mpsc::Sender<pb::ReadRequest>,
    events: mpsc::UnboundedReceiver<Result<Event, BlockError>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for ReadSide {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

crate::grpc::client::client_adapter!(
    /// An [`InputBinding`] served by any pluggable component over gRPC. The `Read` stream opens
    /// on the first poll; polls drain what has arrived, replies go back on the stream.
    #[derive(Debug)]
    GrpcInputBinding(pb::input_binding_client::InputBindingClient<tonic::transport::Channel>) -> BlockError,
    stream: tokio::sync::Mutex<Option<ReadSide>> = tokio::sync::Mutex::new(None),
);

impl GrpcInputBinding {
    async fn open(&self) -> Result<ReadSide, BlockError> {
        let (replies, outbound) = mpsc::channel(64);
        let mut inbound = self
            .client()
            .read(self.conn.request(ReceiverStream::new(outbound)))
            .await
            .map_err(block_error)?
            .into_inner();
        let (tx, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            loop {
                let item = match inbound.message().await {
                    Ok(Some(m)) => Ok(Event {
                        id: m.message_id,
                        data: m.data,
                        metadata: md(m.metadata),
                        content_type: (!m.content_type.is_empty()).then_some(m.content_type),
                    }),
                    Ok(None) => return,
                    Err(s) => Err(block_error(s)),
                };
                let last = item.is_err();
                if tx.send(item).is_err() || last {
                    return;
                }
            }
        });
        Ok(ReadSide {
            replies,
            events,
            reader,
        })
    }
}

#[async_trait::async_trait]
impl InputBinding for GrpcInputBinding {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        let msg = pb::InputBindingInitRequest {
            metadata: crate::grpc::metadata::to_init(metadata),
        };
        self.client()
            .init(self.conn.request(msg))
            .await
            .map_err(block_error)?;
        Ok(())
    }

    async fn poll(&self, max: u32) -> Result<Polled, BlockError> {
        let mut guard = self.stream.lock().await;
        let side = match guard.take() {
            Some(side) => guard.insert(side),
            None => guard.insert(self.open().await?),
        };
        let mut events = Vec::new();
        while events.len() < max as usize {
            match side.events.try_recv() {
                Ok(Ok(e)) => events.push(e),
                Ok(Err(e)) => {
                    *guard = None;
                    return Err(e);
                }
                Err(_) => break,
            }
        }
        Ok(Polled {
            events,
            next_poll: Some(Duration::from_millis(20)),
        })
    }

    async fn reply(
        &self,
        id: &str,
        data: Vec<u8>,
        error: Option<String>,
    ) -> Result<(), BlockError> {
        let guard = self.stream.lock().await;
        let side = guard
            .as_ref()
            .ok_or_else(|| BlockError::Other("no Read stream is open".into()))?;
        let msg = pb::ReadRequest {
            response_data: data,
            message_id: id.to_owned(),
            response_error: error.map(|message| pb::AckResponseError { message }),
        };
        side.replies
            .send(msg)
            .await
            .map_err(|_| BlockError::Other("the Read stream has ended".into()))
    }

    async fn ping(&self) -> Result<(), BlockError> {
        self.client()
            .ping(self.conn.request(pb::PingRequest {}))
            .await
            .map_err(block_error)?;
        Ok(())
    }
}
