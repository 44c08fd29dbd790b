//! `wasmplug call <target> bindings ...`: an output and input binding client.

use std::path::Path;

use serde_json::json;
use wasmplug::blocks::Metadata;
use wasmplug::blocks::bindings::input::{GrpcInputBinding, InputBinding};
use wasmplug::blocks::bindings::output::{GrpcOutputBinding, InvokeRequest, OutputBinding};

use super::common::{duration, ensure_init, lossy, parse_metadata};
use crate::cli::BindingsCall;

/// Connects to the binding at `path` as Dapr instance `instance` (initialising the side
/// `call` uses if nobody has) and runs `call`.
pub async fn call(path: &Path, instance: &str, call: BindingsCall) -> anyhow::Result<()> {
    match call {
        BindingsCall::Invoke {
            operation,
            data,
            metadata,
        } => {
            let b = output(path, instance).await?;
            let mut req = InvokeRequest::new(operation).with_data(data.into_bytes());
            req.metadata = parse_metadata(&metadata)?;
            let r = b.invoke(req).await?;
            println!(
                "{}",
                json!({
                    "data": lossy(&r.data),
                    "contentType": r.content_type,
                    "metadata": r.metadata,
                })
            );
        }
        BindingsCall::Operations => {
            let b = output(path, instance).await?;
            println!("{}", json!({ "operations": b.list_operations().await? }));
        }
        BindingsCall::Read { count, idle, reply } => {
            read(path, instance, count, idle, reply.into_bytes()).await?;
        }
    }
    Ok(())
}

/// The output side, initialised.
async fn output(path: &Path, instance: &str) -> anyhow::Result<GrpcOutputBinding> {
    let b = GrpcOutputBinding::connect(path, instance).await?;
    ensure_init(b.ping(), b.init(Metadata::new())).await?;
    Ok(b)
}

/// Prints up to `count` input events, answering each with `reply`; stops early when none
/// arrived for `idle` seconds.
async fn read(
    path: &Path,
    instance: &str,
    count: usize,
    idle: f64,
    reply: Vec<u8>,
) -> anyhow::Result<()> {
    let b = GrpcInputBinding::connect(path, instance).await?;
    ensure_init(b.ping(), b.init(Metadata::new())).await?;
    let idle = duration(idle);
    for _ in 0..count {
        let Some(e) = b.next(idle).await? else { break };
        println!(
            "{}",
            json!({
                "id": e.id,
                "data": lossy(&e.data),
                "contentType": e.content_type,
                "metadata": e.metadata,
            })
        );
        b.reply(&e.id, reply.clone(), None).await?;
    }
    Ok(())
}
