//! The output binding over gRPC: the server adapter (Dapr's `OutputBinding` service over any
//! [`OutputBinding`]) and the client adapter ([`GrpcOutputBinding`]: an [`OutputBinding`]
//! over any pluggable-component socket, ours or anyone's).
//!
//! **Operation gating.** daprd asks `ListOperations` once after `Init` and rejects every
//! `Invoke` whose operation is not exactly (case-sensitively) in that list, without calling
//! the component. The server adapter does the same, whoever the client is: at `Init` it asks
//! the freshly initialised instance for its operations and caches them with it; an `Invoke`
//! of any other operation fails with `INVALID_ARGUMENT` naming the operation and the allowed
//! ones, and never reaches the component. `ListOperations` answers from the same cache, so
//! what a client is told and what is enforced cannot differ.
//!
//! Other errors use the one block mapping of the bridge ([`crate::bridge`]'s `block_status`
//! and `block_error`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};

use super::{BlockError, InvokeRequest, InvokeResponse, Metadata, OutputBinding};
use crate::grpc::Instances;
use crate::grpc::status::{block_error, block_status};
use crate::proto as pb;

use pb::output_binding_server::{OutputBinding as OutputBindingService, OutputBindingServer};

/// A shared, dynamically typed output binding (one per Dapr instance).
pub type SharedOutputBinding = Arc<dyn OutputBinding>;

// ---- message conversion -----------------------------------------------------------------------

fn md(m: HashMap<String, String>) -> Metadata {
    m.into_iter().collect()
}

fn md_out(m: Metadata) -> HashMap<String, String> {
    m.into_iter().collect()
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

// ---- server -----------------------------------------------------------------------------------

/// The operations one initialised instance listed, kept with that instance.
#[derive(Debug, Clone)]
struct Gate {
    binding: SharedOutputBinding,
    operations: Arc<[String]>,
}

/// The gRPC service of one output-binding component, multiplexing Dapr instances.
#[derive(Debug, Clone)]
pub struct OutputBindingServices {
    instances: Arc<Instances<SharedOutputBinding>>,
    /// By Dapr instance name: the operations its current instance listed at `Init`. Written
    /// together with [`Instances::register`], so it holds at most as many entries.
    gates: Arc<Mutex<HashMap<String, Gate>>>,
}

impl OutputBindingServices {
    /// The service over the instances `instances` makes.
    pub fn new(instances: Arc<Instances<SharedOutputBinding>>) -> Self {
        Self {
            instances,
            gates: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn binding<T>(&self, r: &Request<T>) -> Result<(String, SharedOutputBinding), Status> {
        let binding = self.instances.get(r)?;
        let name = Instances::<SharedOutputBinding>::name_of(r)?;
        Ok((name, binding))
    }

    /// The operations `binding` (the instance for `name`) listed at `Init`.
    async fn operations(
        &self,
        name: &str,
        binding: &SharedOutputBinding,
    ) -> Result<Arc<[String]>, Status> {
        let cached = {
            let gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            gates
                .get(name)
                .filter(|g| Arc::ptr_eq(&g.binding, binding))
                .map(|g| g.operations.clone())
        };
        match cached {
            Some(ops) => Ok(ops),
            // Only if a concurrent `Init` replaced the instance between our two lookups:
            // ask the instance we are about to call.
            None => Ok(binding
                .list_operations()
                .await
                .map_err(block_status)?
                .into()),
        }
    }
}

/// Adds the output-binding service to `builder`; returns its name (for reflection).
pub fn add_services(
    builder: &mut tonic::service::RoutesBuilder,
    instances: Arc<Instances<SharedOutputBinding>>,
) -> Vec<&'static str> {
    use tonic::server::NamedService;
    builder.add_service(OutputBindingServer::new(OutputBindingServices::new(
        instances,
    )));
    vec![<OutputBindingServer<OutputBindingServices> as NamedService>::NAME]
}

/// The output-binding service plus reflection and health, ready to serve on a socket.
pub async fn routes(instances: Arc<Instances<SharedOutputBinding>>) -> tonic::service::Routes {
    let mut builder = tonic::service::RoutesBuilder::default();
    let names = add_services(&mut builder, instances);
    crate::grpc::discovery::with_discovery(builder, &names).await
}

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl OutputBindingService for OutputBindingServices {
    async fn init(
        &self,
        request: Request<pb::OutputBindingInitRequest>,
    ) -> R<pb::OutputBindingInitResponse> {
        let (name, binding) = self.instances.create(&request)?;
        let metadata = crate::grpc::metadata::from_init(request.into_inner().metadata);
        binding.init(metadata).await.map_err(block_status)?;
        let operations: Arc<[String]> = binding
            .list_operations()
            .await
            .map_err(block_status)?
            .into();
        // Cache and register under one lock, so a concurrent Init of the same name cannot
        // leave the cache describing another instance than the registered one.
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.insert(
            name.clone(),
            Gate {
                binding: binding.clone(),
                operations,
            },
        );
        self.instances.register(name, binding);
        Ok(Response::new(pb::OutputBindingInitResponse {}))
    }

    async fn invoke(&self, request: Request<pb::InvokeRequest>) -> R<pb::InvokeResponse> {
        let (name, binding) = self.binding(&request)?;
        let operations = self.operations(&name, &binding).await?;
        let req = request.into_inner();
        if !operations.contains(&req.operation) {
            return Err(Status::invalid_argument(format!(
                "output binding instance {name:?} does not support operation {:?}; supported operations: [{}]",
                req.operation,
                operations.join(", ")
            )));
        }
        let r = binding
            .invoke(InvokeRequest {
                operation: req.operation,
                data: req.data,
                metadata: md(req.metadata),
            })
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::InvokeResponse {
            data: r.data,
            metadata: md_out(r.metadata),
            content_type: r.content_type.unwrap_or_default(),
        }))
    }

    async fn list_operations(
        &self,
        request: Request<pb::ListOperationsRequest>,
    ) -> R<pb::ListOperationsResponse> {
        let (name, binding) = self.binding(&request)?;
        let operations = self.operations(&name, &binding).await?;
        Ok(Response::new(pb::ListOperationsResponse {
            operations: operations.to_vec(),
        }))
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

crate::grpc::client::client_adapter!(
    /// An [`OutputBinding`] served by any pluggable component over gRPC: the client adapter.
    #[derive(Debug, Clone)]
    GrpcOutputBinding(pb::output_binding_client::OutputBindingClient<tonic::transport::Channel>) -> BlockError
);

#[async_trait::async_trait]
impl OutputBinding for GrpcOutputBinding {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        let msg = pb::OutputBindingInitRequest {
            metadata: crate::grpc::metadata::to_init(metadata),
        };
        self.client()
            .init(self.conn.request(msg))
            .await
            .map_err(block_error)?;
        Ok(())
    }

    async fn list_operations(&self) -> Result<Vec<String>, BlockError> {
        Ok(self
            .client()
            .list_operations(self.conn.request(pb::ListOperationsRequest {}))
            .await
            .map_err(block_error)?
            .into_inner()
            .operations)
    }

    async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, BlockError> {
        let msg = pb::InvokeRequest {
            data: request.data,
            metadata: md_out(request.metadata),
            operation: request.operation,
        };
        let r = self
            .client()
            .invoke(self.conn.request(msg))
            .await
            .map_err(block_error)?
            .into_inner();
        Ok(InvokeResponse {
            data: r.data,
            metadata: md(r.metadata),
            content_type: non_empty(r.content_type),
        })
    }

    async fn ping(&self) -> Result<(), BlockError> {
        self.client()
            .ping(self.conn.request(pb::PingRequest {}))
            .await
            .map_err(block_error)?;
        Ok(())
    }
}
