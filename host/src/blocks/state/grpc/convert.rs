//! Conversions between the state store's proto messages and its domain types.

use std::collections::HashMap;

use super::super::{
    Concurrency, Consistency, DeleteRequest, GetRequest, Metadata, SetRequest, StateItem,
    StateOptions,
};
use crate::proto as pb;

pub(super) fn md(m: HashMap<String, String>) -> Metadata {
    m.into_iter().collect()
}

pub(super) fn md_out(m: Metadata) -> HashMap<String, String> {
    m.into_iter().collect()
}

pub(super) fn consistency_in(c: i32) -> Consistency {
    use pb::state_options::StateConsistency as C;
    match C::try_from(c) {
        Ok(C::ConsistencyEventual) => Consistency::Eventual,
        Ok(C::ConsistencyStrong) => Consistency::Strong,
        _ => Consistency::Unspecified,
    }
}

pub(super) fn consistency_out(c: Consistency) -> i32 {
    use pb::state_options::StateConsistency as C;
    match c {
        Consistency::Unspecified => C::ConsistencyUnspecified as i32,
        Consistency::Eventual => C::ConsistencyEventual as i32,
        Consistency::Strong => C::ConsistencyStrong as i32,
    }
}

pub(super) fn options_in(o: Option<pb::StateOptions>) -> StateOptions {
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

pub(super) fn options_out(o: StateOptions) -> pb::StateOptions {
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

pub(super) fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

pub(super) fn get_in(r: pb::GetRequest) -> GetRequest {
    GetRequest {
        key: r.key,
        metadata: md(r.metadata),
        consistency: consistency_in(r.consistency),
    }
}

pub(super) fn get_out(r: GetRequest) -> pb::GetRequest {
    pb::GetRequest {
        key: r.key,
        metadata: md_out(r.metadata),
        consistency: consistency_out(r.consistency),
    }
}

pub(super) fn set_in(r: pb::SetRequest) -> SetRequest {
    SetRequest {
        key: r.key,
        value: r.value,
        etag: r.etag.map(|e| e.value),
        metadata: md(r.metadata),
        options: options_in(r.options),
        content_type: non_empty(r.content_type),
    }
}

pub(super) fn set_out(r: SetRequest) -> pb::SetRequest {
    pb::SetRequest {
        key: r.key,
        value: r.value,
        etag: r.etag.map(|value| pb::Etag { value }),
        metadata: md_out(r.metadata),
        options: Some(options_out(r.options)),
        content_type: r.content_type.unwrap_or_default(),
    }
}

pub(super) fn delete_in(r: pb::DeleteRequest) -> DeleteRequest {
    DeleteRequest {
        key: r.key,
        etag: r.etag.map(|e| e.value),
        metadata: md(r.metadata),
        options: options_in(r.options),
    }
}

pub(super) fn delete_out(r: DeleteRequest) -> pb::DeleteRequest {
    pb::DeleteRequest {
        key: r.key,
        etag: r.etag.map(|value| pb::Etag { value }),
        metadata: md_out(r.metadata),
        options: Some(options_out(r.options)),
    }
}

/// A missing key is an OK response with empty data and **no** etag message.
pub(super) fn get_response(item: Option<StateItem>) -> pb::GetResponse {
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

pub(super) fn item_from(
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
