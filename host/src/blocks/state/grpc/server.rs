//! The server adapter: Dapr's `StateStore`, `TransactionalStateStore`,
//! `QueriableStateStore` and `TransactionalStoreMultiMaxSize` services over any
//! [`StateStore`](crate::blocks::state::StateStore), one instance per Dapr instance name.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::super::{
    BulkGetItem, Pagination, Query, QueryRequest, SortOrder, Sorting, TransactOperation,
    TransactRequest,
};
use super::SharedStateStore;
use super::convert::*;
use super::status::to_status;
use crate::grpc::Instances;
use crate::proto as pb;

use pb::queriable_state_store_server::{QueriableStateStore, QueriableStateStoreServer};
use pb::state_store_server::{StateStore as StateStoreService, StateStoreServer};
use pb::transactional_state_store_server::{
    TransactionalStateStore, TransactionalStateStoreServer,
};
use pb::transactional_store_multi_max_size_server::{
    TransactionalStoreMultiMaxSize, TransactionalStoreMultiMaxSizeServer,
};

/// The gRPC services of one state-store component, multiplexing Dapr instances.
#[derive(Debug, Clone)]
pub struct StateServices {
    instances: Arc<Instances<SharedStateStore>>,
}

impl StateServices {
    /// Services over the instances `instances` makes.
    pub fn new(instances: Arc<Instances<SharedStateStore>>) -> Self {
        Self { instances }
    }

    fn store<T>(&self, r: &Request<T>) -> Result<SharedStateStore, Status> {
        self.instances.get(r)
    }
}

/// Adds every state-store service to `builder`; returns their names (for reflection).
pub fn add_services(
    builder: &mut tonic::service::RoutesBuilder,
    instances: Arc<Instances<SharedStateStore>>,
) -> Vec<&'static str> {
    use tonic::server::NamedService;
    let svc = StateServices::new(instances);
    builder.add_service(StateStoreServer::new(svc.clone()));
    builder.add_service(TransactionalStateStoreServer::new(svc.clone()));
    builder.add_service(QueriableStateStoreServer::new(svc.clone()));
    builder.add_service(TransactionalStoreMultiMaxSizeServer::new(svc));
    vec![
        <StateStoreServer<StateServices> as NamedService>::NAME,
        <TransactionalStateStoreServer<StateServices> as NamedService>::NAME,
        <QueriableStateStoreServer<StateServices> as NamedService>::NAME,
        <TransactionalStoreMultiMaxSizeServer<StateServices> as NamedService>::NAME,
    ]
}

/// Every state-store service plus reflection and health, ready to serve on a socket.
pub async fn routes(instances: Arc<Instances<SharedStateStore>>) -> tonic::service::Routes {
    let mut builder = tonic::service::RoutesBuilder::default();
    let names = add_services(&mut builder, instances);
    crate::grpc::discovery::with_discovery(builder, &names).await
}

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl StateStoreService for StateServices {
    async fn init(&self, request: Request<pb::InitRequest>) -> R<pb::InitResponse> {
        let (name, store) = self.instances.create(&request)?;
        let metadata = crate::grpc::metadata::from_init(request.into_inner().metadata);
        store.init(metadata).await.map_err(to_status)?;
        self.instances.register(name, store);
        Ok(Response::new(pb::InitResponse {}))
    }

    async fn features(&self, request: Request<pb::FeaturesRequest>) -> R<pb::FeaturesResponse> {
        let features = self.store(&request)?.features().await.map_err(to_status)?;
        Ok(Response::new(pb::FeaturesResponse { features }))
    }

    async fn delete(&self, request: Request<pb::DeleteRequest>) -> R<pb::DeleteResponse> {
        let store = self.store(&request)?;
        store
            .delete(delete_in(request.into_inner()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn get(&self, request: Request<pb::GetRequest>) -> R<pb::GetResponse> {
        let store = self.store(&request)?;
        let item = store
            .get(get_in(request.into_inner()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(get_response(item)))
    }

    async fn set(&self, request: Request<pb::SetRequest>) -> R<pb::SetResponse> {
        let store = self.store(&request)?;
        store
            .set(set_in(request.into_inner()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SetResponse {}))
    }

    async fn ping(&self, request: Request<pb::PingRequest>) -> R<pb::PingResponse> {
        self.store(&request)?.ping().await.map_err(to_status)?;
        Ok(Response::new(pb::PingResponse {}))
    }

    async fn bulk_delete(
        &self,
        request: Request<pb::BulkDeleteRequest>,
    ) -> R<pb::BulkDeleteResponse> {
        let store = self.store(&request)?;
        let items = request
            .into_inner()
            .items
            .into_iter()
            .map(delete_in)
            .collect();
        store.bulk_delete(items).await.map_err(to_status)?;
        Ok(Response::new(pb::BulkDeleteResponse {}))
    }

    async fn bulk_get(&self, request: Request<pb::BulkGetRequest>) -> R<pb::BulkGetResponse> {
        let store = self.store(&request)?;
        let items = request.into_inner().items.into_iter().map(get_in).collect();
        let items = store.bulk_get(items).await.map_err(to_status)?;
        Ok(Response::new(pb::BulkGetResponse {
            items: items
                .into_iter()
                .map(|BulkGetItem { key, item, error }| {
                    let r = get_response(item);
                    pb::BulkStateItem {
                        key,
                        data: r.data,
                        etag: r.etag,
                        error: error.unwrap_or_default(),
                        metadata: r.metadata,
                        content_type: r.content_type,
                    }
                })
                .collect(),
        }))
    }

    async fn bulk_set(&self, request: Request<pb::BulkSetRequest>) -> R<pb::BulkSetResponse> {
        let store = self.store(&request)?;
        let items = request.into_inner().items.into_iter().map(set_in).collect();
        store.bulk_set(items).await.map_err(to_status)?;
        Ok(Response::new(pb::BulkSetResponse {}))
    }
}

#[tonic::async_trait]
impl TransactionalStateStore for StateServices {
    async fn transact(
        &self,
        request: Request<pb::TransactionalStateRequest>,
    ) -> R<pb::TransactionalStateResponse> {
        use pb::transactional_state_operation::Request as Op;
        let store = self.store(&request)?;
        let req = request.into_inner();
        let mut operations = Vec::with_capacity(req.operations.len());
        for (i, op) in req.operations.into_iter().enumerate() {
            operations.push(match op.request {
                Some(Op::Set(s)) => TransactOperation::Set(set_in(s)),
                Some(Op::Delete(d)) => TransactOperation::Delete(delete_in(d)),
                None => {
                    return Err(Status::invalid_argument(format!(
                        "operation {i} is neither a set nor a delete"
                    )));
                }
            });
        }
        store
            .transact(TransactRequest {
                operations,
                metadata: md(req.metadata),
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::TransactionalStateResponse {}))
    }
}

#[tonic::async_trait]
impl QueriableStateStore for StateServices {
    async fn query(&self, request: Request<pb::QueryRequest>) -> R<pb::QueryResponse> {
        let store = self.store(&request)?;
        let req = request.into_inner();
        let q = req.query.unwrap_or_default();
        let mut filter = Vec::with_capacity(q.filter.len());
        for (op, any) in q.filter {
            // daprd sends each operand as JSON in an `Any` with an empty type URL.
            let json = String::from_utf8(any.value).map_err(|_| {
                Status::invalid_argument(format!("query filter {op:?} is not UTF-8 JSON"))
            })?;
            filter.push((op, json));
        }
        filter.sort();
        let query = Query {
            filter,
            sort: q
                .sort
                .into_iter()
                .map(|s| Sorting {
                    key: s.key,
                    order: if s.order == pb::sorting::Order::Desc as i32 {
                        SortOrder::Desc
                    } else {
                        SortOrder::Asc
                    },
                })
                .collect(),
            pagination: q
                .pagination
                .map(|p| Pagination {
                    limit: p.limit,
                    token: p.token,
                })
                .unwrap_or_default(),
        };
        let r = store
            .query(QueryRequest {
                query,
                metadata: md(req.metadata),
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::QueryResponse {
            items: r
                .items
                .into_iter()
                .map(|i| pb::QueryItem {
                    key: i.key,
                    data: i.data,
                    etag: i.etag.map(|value| pb::Etag { value }),
                    error: i.error.unwrap_or_default(),
                    content_type: i.content_type.unwrap_or_default(),
                })
                .collect(),
            token: r.token.unwrap_or_default(),
            metadata: md_out(r.metadata),
        }))
    }
}

#[tonic::async_trait]
impl TransactionalStoreMultiMaxSize for StateServices {
    async fn multi_max_size(
        &self,
        request: Request<pb::MultiMaxSizeRequest>,
    ) -> R<pb::MultiMaxSizeResponse> {
        let max = self
            .store(&request)?
            .multi_max_size()
            .await
            .map_err(to_status)?;
        // daprd: <= 0 means unlimited.
        Ok(Response::new(pb::MultiMaxSizeResponse {
            max_size: max.map_or(-1, i64::from),
        }))
    }
}
