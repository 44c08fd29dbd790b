//! The client adapter: [`GrpcStateStore`], a [`StateStore`] over any pluggable-component
//! socket, ours or anyone's.

use super::super::{
    BulkGetItem, DeleteRequest, GetRequest, Metadata, QueryItem, QueryRequest, QueryResponse,
    SetRequest, SortOrder, StateError, StateItem, StateStore, TransactOperation, TransactRequest,
};
use super::convert::*;
use super::status::from_status;
use crate::proto as pb;

crate::grpc::client::client_adapter!(
    /// A [`StateStore`] served by any pluggable component over gRPC: the client adapter.
    #[derive(Debug, Clone)]
    GrpcStateStore(pb::state_store_client::StateStoreClient<tonic::transport::Channel>) -> StateError
);

#[async_trait::async_trait]
impl StateStore for GrpcStateStore {
    async fn init(&self, metadata: Metadata) -> Result<(), StateError> {
        let msg = pb::InitRequest {
            metadata: crate::grpc::metadata::to_init(metadata),
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
