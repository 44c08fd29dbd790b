//! The embedded quickstart: load a config, get a typed state store, use it.
//!
//! Run with `cargo xtask quickstart` (builds the guests first).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

use std::time::Instant;

use wasmplug::Host;
use wasmplug::blocks::state::{
    DeleteRequest, GetRequest, SetRequest, StateError, StateStore, TTL_EXPIRE_TIME, TTL_IN_SECONDS,
    TransactOperation, TransactRequest,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let config = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/quickstart/wasmplug.yaml".into());
    let started = Instant::now();
    let host = Host::load(&config)?;
    for c in host.components() {
        println!(
            "loaded {:<12} {:<6} {} (compiled code from {:?})",
            c.name(),
            c.config.block.to_string(),
            c.config.wasm.display(),
            c.cache
        );
    }
    let store = host.state_store("statestore").await?;
    println!(
        "ready in {:?}; features: {:?}",
        started.elapsed(),
        store.features().await?
    );

    let previous = store.get(GetRequest::new("visits")).await?;
    let visits = previous
        .as_ref()
        .map(|i| String::from_utf8_lossy(&i.data).parse::<u64>().unwrap_or(0))
        .unwrap_or(0)
        + 1;
    // Optimistic concurrency: write back only if nobody changed it since we read it.
    let mut set = SetRequest::new("visits", visits.to_string());
    if let Some(etag) = previous.and_then(|i| i.etag) {
        set = set.with_etag(etag);
    }
    store.set(set).await?;
    println!("set    visits = {visits} (durable: run again and it counts up)");

    let item = store
        .get(GetRequest::new("visits"))
        .await?
        .expect("just written");
    println!(
        "get    visits -> {:?} etag={:?}",
        String::from_utf8_lossy(&item.data),
        item.etag
    );

    match store
        .set(SetRequest::new("visits", "0").with_etag("not-the-etag"))
        .await
    {
        Err(StateError::EtagMismatch(m)) => println!("set    with a stale etag -> refused: {m}"),
        other => anyhow::bail!("a stale etag must be refused, got {other:?}"),
    }

    store
        .set(SetRequest::new("session", "abc").with_metadata(TTL_IN_SECONDS, "60"))
        .await?;
    let session = store.get(GetRequest::new("session")).await?.expect("live");
    println!(
        "set    session with ttlInSeconds=60 -> ttlExpireTime {}",
        session.metadata[TTL_EXPIRE_TIME]
    );

    store
        .transact(TransactRequest {
            operations: vec![
                TransactOperation::Set(SetRequest::new("order-1", r#"{"item":"tea"}"#)),
                TransactOperation::Set(SetRequest::new("order-2", r#"{"item":"cake"}"#)),
                TransactOperation::Delete(DeleteRequest::new("session")),
            ],
            ..Default::default()
        })
        .await?;
    let items = store
        .bulk_get(
            ["order-1", "order-2", "session"]
                .into_iter()
                .map(GetRequest::new)
                .collect(),
        )
        .await?;
    for i in items {
        println!(
            "bulk   {} -> {}",
            i.key,
            i.item
                .map(|it| String::from_utf8_lossy(&it.data).into_owned())
                .unwrap_or_else(|| "(missing)".into())
        );
    }
    println!("done: data is in {}", host.config().data_dir.display());
    Ok(())
}
