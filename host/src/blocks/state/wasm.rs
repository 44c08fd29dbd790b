//! The wasm adapter: [`StateStore`] over a component exporting `wasmplug:dapr/state-store`.

use std::sync::Arc;

use super::{
    BulkGetItem, Concurrency, Consistency, DeleteRequest, GetRequest, Metadata, Pagination, Query,
    QueryItem, QueryRequest, QueryResponse, SetRequest, SortOrder, Sorting, StateError, StateItem,
    StateOptions, StateStore, TransactOperation, TransactRequest,
};
use crate::bindings::{StateStoreComponent, StateStoreComponentPre, state as w, types};
use crate::blocks::{md_from_wit, md_to_wit};
use crate::runtime::guest::{Guest, guest_call};

crate::runtime::guest::impl_world!(
    StateStoreComponent,
    StateStoreComponentPre,
    wasmplug_dapr_state_store,
    crate::bindings::state_world::exports::wasmplug::dapr::state_store::Guest
);

/// A state store implemented by a sandboxed wasm component (one guest instance).
#[derive(Debug, Clone)]
pub struct WasmStateStore {
    guest: Arc<Guest<StateStoreComponent>>,
}

impl WasmStateStore {
    pub(crate) fn new(guest: Guest<StateStoreComponent>) -> Self {
        Self {
            guest: Arc::new(guest),
        }
    }
}

pub(crate) fn from_wit_error(e: types::Error) -> StateError {
    match e {
        types::Error::EtagMismatch(m) => StateError::EtagMismatch(m),
        types::Error::EtagInvalid(m) => StateError::EtagInvalid(m),
        types::Error::BulkDeleteRowMismatch(r) => StateError::BulkDeleteRowMismatch {
            expected: r.expected,
            affected: r.affected,
        },
        types::Error::Unimplemented(m) => StateError::Unimplemented(m),
        types::Error::InvalidArgument(m) => StateError::InvalidArgument(m),
        types::Error::NotFound(m) => StateError::NotFound(m),
        types::Error::Other(m) => StateError::Other(m),
    }
}

fn consistency(c: Consistency) -> w::Consistency {
    match c {
        Consistency::Unspecified => w::Consistency::Unspecified,
        Consistency::Eventual => w::Consistency::Eventual,
        Consistency::Strong => w::Consistency::Strong,
    }
}

fn options(o: StateOptions) -> w::StateOptions {
    w::StateOptions {
        concurrency: match o.concurrency {
            Concurrency::Unspecified => w::Concurrency::Unspecified,
            Concurrency::FirstWrite => w::Concurrency::FirstWrite,
            Concurrency::LastWrite => w::Concurrency::LastWrite,
        },
        consistency: consistency(o.consistency),
    }
}

fn get_req(r: GetRequest) -> w::GetRequest {
    w::GetRequest {
        key: r.key,
        metadata: md_to_wit(r.metadata),
        consistency: consistency(r.consistency),
    }
}

fn set_req(r: SetRequest) -> w::SetRequest {
    w::SetRequest {
        key: r.key,
        value: r.value,
        etag: r.etag,
        metadata: md_to_wit(r.metadata),
        options: options(r.options),
        content_type: r.content_type,
    }
}

fn delete_req(r: DeleteRequest) -> w::DeleteRequest {
    w::DeleteRequest {
        key: r.key,
        etag: r.etag,
        metadata: md_to_wit(r.metadata),
        options: options(r.options),
    }
}

fn item(i: w::Item) -> StateItem {
    StateItem {
        data: i.data,
        etag: i.etag,
        metadata: md_from_wit(i.metadata),
        content_type: i.content_type,
    }
}

fn query_req(r: QueryRequest) -> w::QueryRequest {
    let QueryRequest {
        query:
            Query {
                filter,
                sort,
                pagination: Pagination { limit, token },
            },
        metadata,
    } = r;
    w::QueryRequest {
        query: w::QuerySpec {
            filter,
            sort: sort
                .into_iter()
                .map(|Sorting { key, order }| w::Sorting {
                    key,
                    order: match order {
                        SortOrder::Asc => w::SortOrder::Asc,
                        SortOrder::Desc => w::SortOrder::Desc,
                    },
                })
                .collect(),
            pagination: w::Pagination { limit, token },
        },
        metadata: md_to_wit(metadata),
    }
}

#[async_trait::async_trait]
impl StateStore for WasmStateStore {
    async fn init(&self, metadata: Metadata) -> Result<(), StateError> {
        self.guest
            .init(md_to_wit(metadata))
            .await?
            .map_err(from_wit_error)
    }

    async fn features(&self) -> Result<Vec<String>, StateError> {
        Ok(guest_call!(self.guest, "features", call_features()))
    }

    async fn get(&self, request: GetRequest) -> Result<Option<StateItem>, StateError> {
        let req = get_req(request);
        guest_call!(self.guest, "get", call_get(&req))
            .map(|o| o.map(item))
            .map_err(from_wit_error)
    }

    async fn set(&self, request: SetRequest) -> Result<(), StateError> {
        let req = set_req(request);
        guest_call!(self.guest, "set", call_set(&req)).map_err(from_wit_error)
    }

    async fn delete(&self, request: DeleteRequest) -> Result<(), StateError> {
        let req = delete_req(request);
        guest_call!(self.guest, "delete", call_delete(&req)).map_err(from_wit_error)
    }

    async fn bulk_get(&self, requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, StateError> {
        let n = requests.len();
        let reqs: Vec<_> = requests.into_iter().map(get_req).collect();
        let keys: Vec<String> = reqs.iter().map(|r| r.key.clone()).collect();
        let items =
            guest_call!(self.guest, "bulk-get", call_bulk_get(&reqs)).map_err(from_wit_error)?;
        // The contract is one answer per key, in request order: hold the guest to it.
        if items.len() != n || items.iter().zip(&keys).any(|(i, k)| i.key != *k) {
            return Err(StateError::Other(format!(
                "component returned {} bulk-get items that do not match the {n} requested keys in order",
                items.len()
            )));
        }
        Ok(items
            .into_iter()
            .map(|i| BulkGetItem {
                key: i.key,
                item: i.item.map(item),
                error: i.error,
            })
            .collect())
    }

    async fn bulk_set(&self, requests: Vec<SetRequest>) -> Result<(), StateError> {
        let reqs: Vec<_> = requests.into_iter().map(set_req).collect();
        guest_call!(self.guest, "bulk-set", call_bulk_set(&reqs)).map_err(from_wit_error)
    }

    async fn bulk_delete(&self, requests: Vec<DeleteRequest>) -> Result<(), StateError> {
        let reqs: Vec<_> = requests.into_iter().map(delete_req).collect();
        guest_call!(self.guest, "bulk-delete", call_bulk_delete(&reqs)).map_err(from_wit_error)
    }

    async fn transact(&self, request: TransactRequest) -> Result<(), StateError> {
        let req = w::TransactRequest {
            operations: request
                .operations
                .into_iter()
                .map(|op| match op {
                    TransactOperation::Set(s) => w::Operation::Set(set_req(s)),
                    TransactOperation::Delete(d) => w::Operation::Delete(delete_req(d)),
                })
                .collect(),
            metadata: md_to_wit(request.metadata),
        };
        guest_call!(self.guest, "transact", call_transact(&req)).map_err(from_wit_error)
    }

    async fn query(&self, request: QueryRequest) -> Result<QueryResponse, StateError> {
        let req = query_req(request);
        let r = guest_call!(self.guest, "query", call_query(&req)).map_err(from_wit_error)?;
        Ok(QueryResponse {
            items: r
                .items
                .into_iter()
                .map(|i| QueryItem {
                    key: i.key,
                    data: i.data,
                    etag: i.etag,
                    error: i.error,
                    content_type: i.content_type,
                })
                .collect(),
            token: r.token,
            metadata: md_from_wit(r.metadata),
        })
    }

    async fn multi_max_size(&self) -> Result<Option<u32>, StateError> {
        Ok(guest_call!(
            self.guest,
            "multi-max-size",
            call_multi_max_size()
        ))
    }

    async fn ping(&self) -> Result<(), StateError> {
        guest_call!(self.guest, "ping", call_ping()).map_err(from_wit_error)
    }
}
