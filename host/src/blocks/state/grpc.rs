//! The state store over gRPC: the server adapter (Dapr's `StateStore`,
//! `TransactionalStateStore`, `QueriableStateStore` and `TransactionalStoreMultiMaxSize`
//! services over any [`StateStore`]) and the client adapter ([`GrpcStateStore`]: a
//! [`StateStore`] over any pluggable-component socket, ours or anyone's).
//!
//! Errors use exactly the shapes daprd decodes (`pkg/components/state/pluggable.go`):
//! - etag mismatch → `FAILED_PRECONDITION` + one `BadRequest` violation on field `etag`;
//! - invalid etag → `INVALID_ARGUMENT` + the same detail;
//! - bulk-delete row mismatch → `INTERNAL` + `ErrorInfo` with `expected`/`affected`;
//! - unsupported (query) → `UNIMPLEMENTED`.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{
    BulkGetItem, Concurrency, Consistency, DeleteRequest, GetRequest, Metadata, Pagination, Query,
    QueryItem, QueryRequest, QueryResponse, SetRequest, SortOrder, Sorting, StateError, StateItem,
    StateOptions, StateStore, TransactOperation, TransactRequest,
};
use crate::grpc::Instances;
use crate::grpc::status::{ERROR_DOMAIN, NOT_INITIALIZED, fault_status};
use crate::proto as pb;

use pb::queriable_state_store_server::{QueriableStateStore, QueriableStateStoreServer};
use pb::state_store_server::{StateStore as StateStoreService, StateStoreServer};
use pb::transactional_state_store_server::{
    TransactionalStateStore, TransactionalStateStoreServer,
};
use pb::transactional_store_multi_max_size_server::{
    TransactionalStoreMultiMaxSize, TransactionalStoreMultiMaxSizeServer,
};

/// A shared, dynamically typed state store (one per Dapr instance).
pub type SharedStateStore = Arc<dyn StateStore>;

/// `ErrorInfo.reason` of a bulk-delete row mismatch.
pub const BULK_DELETE_ROW_MISMATCH: &str = "BULK_DELETE_ROW_MISMATCH";

// ---- error mapping (the one place) ------------------------------------------------------------

/// Maps a state error onto the gRPC status daprd expects.
pub fn to_status(e: StateError) -> Status {
    match e {
        StateError::EtagMismatch(m) => Status::with_error_details(
            Code::FailedPrecondition,
            m.clone(),
            ErrorDetails::with_bad_request_violation("etag", m),
        ),
        StateError::EtagInvalid(m) => Status::with_error_details(
            Code::InvalidArgument,
            m.clone(),
            ErrorDetails::with_bad_request_violation("etag", m),
        ),
        StateError::BulkDeleteRowMismatch { expected, affected } => Status::with_error_details(
            Code::Internal,
            format!("bulk delete affected {affected} rows, expected {expected}"),
            ErrorDetails::with_error_info(
                BULK_DELETE_ROW_MISMATCH,
                ERROR_DOMAIN,
                HashMap::from([
                    ("expected".to_owned(), expected.to_string()),
                    ("affected".to_owned(), affected.to_string()),
                ]),
            ),
        ),
        StateError::Unimplemented(m) => Status::unimplemented(m),
        StateError::InvalidArgument(m) => Status::invalid_argument(m),
        StateError::NotFound(m) => Status::not_found(m),
        StateError::Other(m) => Status::unknown(m),
        StateError::Component(c) => fault_status(&c),
    }
}

/// Maps a gRPC status from any pluggable state store back onto [`StateError`].
pub fn from_status(s: Status) -> StateError {
    let etag_detail = || {
        s.get_details_bad_request()
            .is_some_and(|b| b.field_violations.iter().any(|v| v.field == "etag"))
    };
    let info = s.get_details_error_info();
    match s.code() {
        Code::FailedPrecondition if etag_detail() => {
            StateError::EtagMismatch(s.message().to_owned())
        }
        Code::InvalidArgument if etag_detail() => StateError::EtagInvalid(s.message().to_owned()),
        Code::Internal
            if info
                .as_ref()
                .is_some_and(|i| i.metadata.contains_key("expected")) =>
        {
            let i = info.expect("checked");
            let n = |k: &str| i.metadata.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
            StateError::BulkDeleteRowMismatch {
                expected: n("expected"),
                affected: n("affected"),
            }
        }
        Code::FailedPrecondition if info.as_ref().is_some_and(|i| i.reason == NOT_INITIALIZED) => {
            StateError::Component(crate::runtime::error::ComponentError::not_initialized(s.message()))
        }
        Code::Unimplemented => StateError::Unimplemented(s.message().to_owned()),
        Code::InvalidArgument => StateError::InvalidArgument(s.message().to_owned()),
        Code::NotFound => StateError::NotFound(s.message().to_owned()),
        code => StateError::Other(format!("{code:?}: {}", s.message())),
    }
}

// ---- message conversion -----------------------------------------------------------------------

fn md(m: HashMap<String, String>) -> Metadata {
    m.into_iter().collect()
}

fn md_out(m: Metadata) -> HashMap<String, String> {
    m.into_iter().collect()
}

fn consistency_in(c: i32) -> Consistency {
    use pb::state_options::StateConsistency as C;
    match C::try_from(c) {
        Ok(C::ConsistencyEventual) => Consistency::Eventual,
        Ok(C::ConsistencyStrong) => Consistency::Strong,
        _ => Consistency::Unspecified,
    }
}

fn consistency_out(c: Consistency) -> i32 {
    use pb::state_options::StateConsistency as C;
    match c {
        Consistency::Unspecified => C::ConsistencyUnspecified as i32,
        Consistency::Eventual => C::ConsistencyEventual as i32,
        Consistency::Strong => C::ConsistencyStrong as i32,
    }
}

fn options_in(o: Option<pb::StateOptions>) -> StateOptions {
    use pb::state_options::StateConcurrency as C;
    let o = o.unwrap_or_default();
    StateOptions {
        concurrency: match C::try_from(o.concurrency) {
            Ok(C::ConcurrencyFirstWrite) => Concurrency::FirstWrite,
            Ok(C::ConcurrencyLastWrite) => Concurrency::LastWrite,
            _ => Concurrency::Unspecified,
        },
        consistency: consistency_in(o.consistency),
    }
}

fn options_out(o: StateOptions) -> pb::StateOptions {
    use pb::state_options::StateConcurrency as C;
    pb::StateOptions {
        concurrency: match o.concurrency {
            Concurrency::Unspecified => C::ConcurrencyUnspecified as i32,
            Concurrency::FirstWrite => C::ConcurrencyFirstWrite as i32,
            Concurrency::LastWrite => C::ConcurrencyLastWrite as i32,
        },
        consistency: consistency_out(o.consistency),
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn get_in(r: pb::GetRequest) -> GetRequest {
    GetRequest {
        key: r.key,
        metadata: md(r.metadata),
        consistency: consistency_in(r.consistency),
    }
}

fn get_out(r: GetRequest) -> pb::GetRequest {
    pb::GetRequest {
        key: r.key,
        metadata: md_out(r.metadata),
        consistency: consistency_out(r.consistency),
    }
}

fn set_in(r: pb::SetRequest) -> SetRequest {
    SetRequest {
        key: r.key,
        value: r.value,
        etag: r.etag.map(|e| e.value),
        metadata: md(r.metadata),
        options: options_in(r.options),
        content_type: non_empty(r.content_type),
    }
}

fn set_out(r: SetRequest) -> pb::SetRequest {
    pb::SetRequest {
        key: r.key,
        value: r.value,
        etag: r.etag.map(|value| pb::Etag { value }),
        metadata: md_out(r.metadata),
        options: Some(options_out(r.options)),
        content_type: r.content_type.unwrap_or_default(),
    }
}

fn delete_in(r: pb::DeleteRequest) -> DeleteRequest {
    DeleteRequest {
        key: r.key,
        etag: r.etag.map(|e| e.value),
        metadata: md(r.metadata),
        options: options_in(r.options),
    }
}

fn delete_out(r: DeleteRequest) -> pb::DeleteRequest {
    pb::DeleteRequest {
        key: r.key,
        etag: r.etag.map(|value| pb::Etag { value }),
        metadata: md_out(r.metadata),
        options: Some(options_out(r.options)),
    }
}

/// A missing key is an OK response with empty data and **no** etag message.
fn get_response(item: Option<StateItem>) -> pb::GetResponse {
    match item {
        None => pb::GetResponse::default(),
        Some(i) => pb::GetResponse {
            data: i.data,
            etag: i.etag.map(|value| pb::Etag { value }),
            metadata: md_out(i.metadata),
            content_type: i.content_type.unwrap_or_default(),
        },
    }
}

fn item_from(
    data: Vec<u8>,
    etag: Option<pb::Etag>,
    metadata: HashMap<String, String>,
    content_type: String,
) -> Option<StateItem> {
    // The wire cannot tell "missing" from "empty value without etag"; every store we know
    // sets an etag on stored values, so no etag and no data means missing.
    if etag.is_none() && data.is_empty() {
        return None;
    }
    Some(StateItem {
        data,
        etag: etag.map(|e| e.value),
        metadata: md(metadata),
        content_type: non_empty(content_type),
    })
}

// ---- server -----------------------------------------------------------------------------------

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
        let mut metadata = Metadata::new();
        if let Some(m) = request.into_inner().metadata {
            metadata.extend(m.properties);
        }
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

// ---- client -----------------------------------------------------------------------------------

pub use crate::grpc::client::connect_socket;

crate::grpc::client::client_adapter!(
    /// A [`StateStore`] served by any pluggable component over gRPC: the client adapter.
    #[derive(Debug, Clone)]
    GrpcStateStore(pb::state_store_client::StateStoreClient<tonic::transport::Channel>) -> StateError
);

#[async_trait::async_trait]
impl StateStore for GrpcStateStore {
    async fn init(&self, metadata: Metadata) -> Result<(), StateError> {
        let msg = pb::InitRequest {
            metadata: Some(pb::MetadataRequest {
                properties: md_out(metadata),
            }),
        };
        self.client()
            .init(self.conn.request(msg))
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn features(&self) -> Result<Vec<String>, StateError> {
        Ok(self
            .client()
            .features(self.conn.request(pb::FeaturesRequest {}))
            .await
            .map_err(from_status)?
            .into_inner()
            .features)
    }

    async fn get(&self, request: GetRequest) -> Result<Option<StateItem>, StateError> {
        let r = self
            .client()
            .get(self.conn.request(get_out(request)))
            .await
            .map_err(from_status)?
            .into_inner();
        Ok(item_from(r.data, r.etag, r.metadata, r.content_type))
    }

    async fn set(&self, request: SetRequest) -> Result<(), StateError> {
        self.client()
            .set(self.conn.request(set_out(request)))
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn delete(&self, request: DeleteRequest) -> Result<(), StateError> {
        self.client()
            .delete(self.conn.request(delete_out(request)))
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn bulk_get(&self, requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, StateError> {
        let msg = pb::BulkGetRequest {
            items: requests.into_iter().map(get_out).collect(),
            options: None,
        };
        let r = self
            .client()
            .bulk_get(self.conn.request(msg))
            .await
            .map_err(from_status)?
            .into_inner();
        Ok(r.items
            .into_iter()
            .map(|i| BulkGetItem {
                key: i.key,
                item: item_from(i.data, i.etag, i.metadata, i.content_type),
                error: non_empty(i.error),
            })
            .collect())
    }

    async fn bulk_set(&self, requests: Vec<SetRequest>) -> Result<(), StateError> {
        let msg = pb::BulkSetRequest {
            items: requests.into_iter().map(set_out).collect(),
            options: None,
        };
        self.client()
            .bulk_set(self.conn.request(msg))
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn bulk_delete(&self, requests: Vec<DeleteRequest>) -> Result<(), StateError> {
        let msg = pb::BulkDeleteRequest {
            items: requests.into_iter().map(delete_out).collect(),
            options: None,
        };
        self.client()
            .bulk_delete(self.conn.request(msg))
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn transact(&self, request: TransactRequest) -> Result<(), StateError> {
        use pb::transactional_state_operation::Request as Op;
        let msg = pb::TransactionalStateRequest {
            operations: request
                .operations
                .into_iter()
                .map(|op| pb::TransactionalStateOperation {
                    request: Some(match op {
                        TransactOperation::Set(s) => Op::Set(set_out(s)),
                        TransactOperation::Delete(d) => Op::Delete(delete_out(d)),
                    }),
                })
                .collect(),
            metadata: md_out(request.metadata),
        };
        pb::transactional_state_store_client::TransactionalStateStoreClient::new(
            self.conn.channel(),
        )
        .transact(self.conn.request(msg))
        .await
        .map_err(from_status)?;
        Ok(())
    }

    async fn query(&self, request: QueryRequest) -> Result<QueryResponse, StateError> {
        let QueryRequest { query, metadata } = request;
        let msg = pb::QueryRequest {
            query: Some(pb::Query {
                filter: query
                    .filter
                    .into_iter()
                    .map(|(k, json)| {
                        (
                            k,
                            prost_types::Any {
                                type_url: String::new(),
                                value: json.into_bytes(),
                            },
                        )
                    })
                    .collect(),
                sort: query
                    .sort
                    .into_iter()
                    .map(|s| pb::Sorting {
                        key: s.key,
                        order: match s.order {
                            SortOrder::Asc => pb::sorting::Order::Asc as i32,
                            SortOrder::Desc => pb::sorting::Order::Desc as i32,
                        },
                    })
                    .collect(),
                pagination: Some(pb::Pagination {
                    limit: query.pagination.limit,
                    token: query.pagination.token,
                }),
            }),
            metadata: md_out(metadata),
        };
        let r =
            pb::queriable_state_store_client::QueriableStateStoreClient::new(self.conn.channel())
                .query(self.conn.request(msg))
                .await
                .map_err(from_status)?
                .into_inner();
        Ok(QueryResponse {
            items: r
                .items
                .into_iter()
                .map(|i| QueryItem {
                    key: i.key,
                    data: i.data,
                    etag: i.etag.map(|e| e.value),
                    error: non_empty(i.error),
                    content_type: non_empty(i.content_type),
                })
                .collect(),
            token: non_empty(r.token),
            metadata: md(r.metadata),
        })
    }

    async fn multi_max_size(&self) -> Result<Option<u32>, StateError> {
        let r = pb::transactional_store_multi_max_size_client::TransactionalStoreMultiMaxSizeClient::new(self.conn.channel())
            .multi_max_size(self.conn.request(pb::MultiMaxSizeRequest {}))
            .await
            .map_err(from_status)?
            .into_inner();
        Ok(u32::try_from(r.max_size).ok().filter(|n| *n > 0))
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.client()
            .ping(self.conn.request(pb::PingRequest {}))
            .await
            .map_err(from_status)?;
        Ok(())
    }
}
