//! `wasmplug call <target> pubsub ...`: a pub/sub client.

use std::path::Path;

use serde_json::json;
use wasmplug::blocks::Metadata;
use wasmplug::blocks::pubsub::{GrpcPubSub, PubSub, PublishRequest};

use super::common::{duration, ensure_init, lossy};
use crate::cli::PubsubCall;

/// Connects to the pub/sub at `path` as Dapr instance `instance` (initialising it if nobody
/// has) and runs `call`.
pub async fn call(path: &Path, instance: &str, call: PubsubCall) -> anyhow::Result<()> {
    let ps = GrpcPubSub::connect(path, instance).await?;
    ensure_init(ps.ping(), ps.init(Metadata::new())).await?;
    match call {
        PubsubCall::Publish {
            topic,
            data,
            content_type,
        } => {
            let mut req = PublishRequest::new(topic.clone(), data.into_bytes());
            req.content_type = content_type;
            ps.publish(req).await?;
            println!("{}", json!({ "topic": topic, "published": true }));
        }
        PubsubCall::Subscribe {
            topic,
            count,
            idle,
            nack,
        } => subscribe(&ps, &topic, count, idle, nack).await?,
    }
    Ok(())
}

/// Prints and acks (or nacks) each message on `topic`, until `count` of them or until none
/// arrived for `idle` seconds.
async fn subscribe(
    ps: &GrpcPubSub,
    topic: &str,
    count: Option<usize>,
    idle: f64,
    nack: bool,
) -> anyhow::Result<()> {
    let sub = ps.subscribe(topic, Metadata::new()).await?;
    let idle = duration(idle);
    let mut seen = 0;
    while count.is_none_or(|c| seen < c) {
        let Some(d) = sub.next(idle).await? else {
            break;
        };
        println!(
            "{}",
            json!({
                "id": d.id,
                "topic": d.topic,
                "data": lossy(&d.data),
                "contentType": d.content_type,
                "metadata": d.metadata,
            })
        );
        sub.ack(&d.id, nack.then(|| "nacked by wasmplug call".to_owned()))
            .await?;
        seen += 1;
    }
    // Make sure every ack reached the component before exiting.
    sub.close().await;
    Ok(())
}
