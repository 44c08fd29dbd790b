//! `wasmplug call <target> state ...`: a state store client.

use std::path::Path;

use serde_json::{Value, json};
use wasmplug::blocks::state::{
    DeleteRequest, GetRequest, GrpcStateStore, Metadata, SetRequest, StateError, StateItem,
    StateStore, TTL_IN_SECONDS,
};
use wasmplug::runtime::FaultKind;

use super::common::parse_metadata;
use crate::cli::StateCall;

/// Connects to the state store at `path` as Dapr instance `instance` and runs `call`.
pub async fn call(path: &Path, instance: &str, call: StateCall) -> anyhow::Result<()> {
    let store = GrpcStateStore::connect(path, instance).await?;
    // Initialise on demand, so a socket can be tried by hand before daprd has used it.
    match run(&store, instance, &call).await {
        Err(e) if needs_init(&call, &e) => {
            store.init(Metadata::new()).await?;
            run(&store, instance, &call).await
        }
        other => other,
    }
}

/// Whether `call` failed only because the instance is not initialised yet (an explicit
/// `init` is never retried).
fn needs_init(call: &StateCall, e: &anyhow::Error) -> bool {
    !matches!(call, StateCall::Init { .. })
        && matches!(
            e.downcast_ref::<StateError>(),
            Some(StateError::Component(c)) if c.kind == FaultKind::NotInitialized
        )
}

/// Runs one call and prints its JSON line(s).
async fn run(store: &GrpcStateStore, instance: &str, call: &StateCall) -> anyhow::Result<()> {
    match call {
        StateCall::Init { metadata } => {
            store.init(parse_metadata(metadata)?).await?;
            println!("{}", json!({ "initialised": instance }));
        }
        StateCall::Features => println!("{}", json!({ "features": store.features().await? })),
        StateCall::Get { key } => {
            let item = store.get(GetRequest::new(key.clone())).await?;
            println!("{}", item_json(key, item.as_ref()));
        }
        StateCall::Set {
            key,
            value,
            etag,
            ttl,
            first_write,
            content_type,
        } => {
            let mut req = SetRequest::new(key.clone(), value.clone().into_bytes());
            req.etag = etag.clone();
            req.content_type = content_type.clone();
            if let Some(ttl) = ttl {
                req = req.with_metadata(TTL_IN_SECONDS, ttl.to_string());
            }
            if *first_write {
                req = req.first_write();
            }
            store.set(req).await?;
            println!("{}", json!({ "key": key, "set": true }));
        }
        StateCall::Delete { key, etag } => {
            let mut req = DeleteRequest::new(key.clone());
            req.etag = etag.clone();
            store.delete(req).await?;
            println!("{}", json!({ "key": key, "deleted": true }));
        }
        StateCall::BulkGet { keys } => {
            let reqs = keys.iter().map(|k| GetRequest::new(k.clone())).collect();
            for i in store.bulk_get(reqs).await? {
                println!("{}", item_json(&i.key, i.item.as_ref()));
            }
        }
    }
    Ok(())
}

/// One key's JSON line: `found: false`, or its data (as text), etag, content type and metadata.
fn item_json(key: &str, item: Option<&StateItem>) -> Value {
    match item {
        None => json!({ "key": key, "found": false }),
        Some(i) => json!({
            "key": key,
            "found": true,
            "data": String::from_utf8_lossy(&i.data),
            "etag": i.etag,
            "contentType": i.content_type,
            "metadata": i.metadata,
        }),
    }
}
