//! The secret store over gRPC: the server adapter (Dapr's `SecretStore` service over any
//! [`SecretStore`]) and the client adapter ([`GrpcSecretStore`]: a [`SecretStore`] over any
//! pluggable-component socket, ours or anyone's).
//!
//! Errors use the one block mapping of the bridge ([`crate::bridge`]'s `block_status` and
//! `block_error`): a missing secret is `NOT_FOUND`, a malformed request `INVALID_ARGUMENT`,
//! a component fault the code of its kind, a call before `Init` `FAILED_PRECONDITION` with
//! `ErrorInfo{reason: NOT_INITIALIZED}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{BlockError, Metadata, Secret, SecretStore};
use crate::grpc::Instances;
use crate::grpc::status::{block_error, block_status};
use crate::proto as pb;

use pb::secret_store_server::{SecretStore as SecretStoreService, SecretStoreServer};

/// A shared, dynamically typed secret store (one per Dapr instance).
pub type SharedSecretStore = Arc<dyn SecretStore>;

// ---- message conversion -----------------------------------------------------------------------

fn md(m: HashMap<String, String>) -> Metadata {
    m.into_iter().collect()
}

fn md_out(m: Metadata) -> HashMap<String, String> {
    m.into_iter().collect()
}

fn secret_out(s: Secret) -> HashMap<String, String> {
    s.into_iter().collect()
}

fn secret_in(s: HashMap<String, String>) -> Secret {
    s.into_iter().collect()
}

// ---- server -----------------------------------------------------------------------------------

/// The gRPC service of one secret-store component, multiplexing Dapr instances.
#[derive(Debug, Clone)]
pub struct SecretStoreServices {
    instances: Arc<Instances<SharedSecretStore>>,
}

impl SecretStoreServices {
    /// The service over the instances `instances` makes.
    pub fn new(instances: Arc<Instances<SharedSecretStore>>) -> Self {
        Self { instances }
    }

    fn store<T>(&self, r: &Request<T>) -> Result<SharedSecretStore, Status> {
        self.instances.get(r)
    }
}

/// Adds the secret-store service to `builder`; returns its name (for reflection).
pub fn add_services(
    builder: &mut tonic::service::RoutesBuilder,
    instances: Arc<Instances<SharedSecretStore>>,
) -> Vec<&'static str> {
    use tonic::server::NamedService;
    builder.add_service(SecretStoreServer::new(SecretStoreServices::new(instances)));
    vec![<SecretStoreServer<SecretStoreServices> as NamedService>::NAME]
}

/// The secret-store service plus reflection and health, ready to serve on a socket.
pub async fn routes(instances: Arc<Instances<SharedSecretStore>>) -> tonic::service::Routes {
    let mut builder = tonic::service::RoutesBuilder::default();
    let names = add_services(&mut builder, instances);
    crate::grpc::discovery::with_discovery(builder, &names).await
}

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl SecretStoreService for SecretStoreServices {
    async fn init(
        &self,
        request: Request<pb::SecretStoreInitRequest>,
    ) -> R<pb::SecretStoreInitResponse> {
        let (name, store) = self.instances.create(&request)?;
        let metadata = crate::grpc::metadata::from_init(request.into_inner().metadata);
        store.init(metadata).await.map_err(block_status)?;
        self.instances.register(name, store);
        Ok(Response::new(pb::SecretStoreInitResponse {}))
    }

    async fn features(&self, request: Request<pb::FeaturesRequest>) -> R<pb::FeaturesResponse> {
        let features = self
            .store(&request)?
            .features()
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::FeaturesResponse { features }))
    }

    async fn get(&self, request: Request<pb::GetSecretRequest>) -> R<pb::GetSecretResponse> {
        let store = self.store(&request)?;
        let req = request.into_inner();
        let secret = store
            .get(&req.key, md(req.metadata))
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::GetSecretResponse {
            data: secret_out(secret),
        }))
    }

    async fn bulk_get(
        &self,
        request: Request<pb::BulkGetSecretRequest>,
    ) -> R<pb::BulkGetSecretResponse> {
        let store = self.store(&request)?;
        let all = store
            .bulk_get(md(request.into_inner().metadata))
            .await
            .map_err(block_status)?;
        Ok(Response::new(pb::BulkGetSecretResponse {
            data: all
                .into_iter()
                .map(|(name, s)| {
                    (
                        name,
                        pb::SecretResponse {
                            secrets: secret_out(s),
                        },
                    )
                })
                .collect(),
        }))
    }

    async fn ping(&self, request: Request<pb::PingRequest>) -> R<pb::PingResponse> {
        self.store(&request)?.ping().await.map_err(block_status)?;
        Ok(Response::new(pb::PingResponse {}))
    }
}

// ---- client -----------------------------------------------------------------------------------

crate::grpc::client::client_adapter!(
    /// A [`SecretStore`] served by any pluggable component over gRPC: the client adapter.
    #[derive(Debug, Clone)]
    GrpcSecretStore(pb::secret_store_client::SecretStoreClient<tonic::transport::Channel>) -> BlockError
);

#[async_trait::async_trait]
impl SecretStore for GrpcSecretStore {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        let msg = pb::SecretStoreInitRequest {
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

    async fn get(&self, key: &str, metadata: Metadata) -> Result<Secret, BlockError> {
        let msg = pb::GetSecretRequest {
            key: key.to_owned(),
            metadata: md_out(metadata),
        };
        let r = self
            .client()
            .get(self.conn.request(msg))
            .await
            .map_err(block_error)?
            .into_inner();
        Ok(secret_in(r.data))
    }

    async fn bulk_get(&self, metadata: Metadata) -> Result<BTreeMap<String, Secret>, BlockError> {
        let msg = pb::BulkGetSecretRequest {
            metadata: md_out(metadata),
        };
        let r = self
            .client()
            .bulk_get(self.conn.request(msg))
            .await
            .map_err(block_error)?
            .into_inner();
        Ok(r.data
            .into_iter()
            .map(|(name, s)| (name, secret_in(s.secrets)))
            .collect())
    }

    async fn ping(&self) -> Result<(), BlockError> {
        self.client()
            .ping(self.conn.request(pb::PingRequest {}))
            .await
            .map_err(block_error)?;
        Ok(())
    }
}
