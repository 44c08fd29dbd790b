//! `wasmplug call <target> secret ...`: a secret store client.

use std::path::Path;

use serde_json::json;
use wasmplug::blocks::Metadata;
use wasmplug::blocks::secrets::{GrpcSecretStore, SecretStore};

use super::common::ensure_init;
use crate::cli::SecretCall;

/// Connects to the secret store at `path` as Dapr instance `instance` (initialising it if
/// nobody has) and runs `call`.
pub async fn call(path: &Path, instance: &str, call: SecretCall) -> anyhow::Result<()> {
    let s = GrpcSecretStore::connect(path, instance).await?;
    ensure_init(s.ping(), s.init(Metadata::new())).await?;
    match call {
        SecretCall::Get { key } => {
            let secret = s.get(&key, Metadata::new()).await?;
            println!("{}", json!({ "key": key, "secret": secret }));
        }
        SecretCall::BulkGet => println!(
            "{}",
            json!({ "secrets": s.bulk_get(Metadata::new()).await? })
        ),
    }
    Ok(())
}
