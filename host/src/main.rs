//! The `wasmplug` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmplug::blocks::state::{
    DeleteRequest, GetRequest, GrpcStateStore, Metadata, SetRequest, StateError, StateItem,
    StateStore, TTL_IN_SECONDS,
};
use wasmplug::runtime::{ComponentInfo, FaultKind, Provider, Runtime};

/// Host Dapr building-block components as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmplug", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show which building blocks a .wasm component implements and which imports it needs.
    Check {
        /// The component file.
        wasm: PathBuf,
    },
    /// Load a config file and every component in it, and report problems.
    Validate {
        /// The config file.
        config: PathBuf,
    },
    /// Serve every component of a config to daprd, one UNIX socket per component, in
    /// $DAPR_COMPONENTS_SOCKETS_FOLDER (else $DAPR_COMPONENT_SOCKETS_FOLDER, else
    /// /tmp/dapr-components-sockets). Stops cleanly on SIGINT/SIGTERM.
    Serve {
        /// The config file.
        config: PathBuf,
        /// Sockets folder (overrides the environment).
        #[arg(long)]
        sockets_folder: Option<PathBuf>,
    },
    /// Call a pluggable component (ours or anyone's) over its socket, by hand.
    Call {
        /// A socket path, or a component name looked up in the sockets folder.
        target: String,
        /// The Dapr instance name to send in `x-component-instance`.
        #[arg(long, default_value = wasmplug::DEFAULT_INSTANCE)]
        instance: String,
        /// Sockets folder for names (overrides the environment).
        #[arg(long)]
        sockets_folder: Option<PathBuf>,
        #[command(subcommand)]
        block: CallBlock,
    },
}

#[derive(Debug, Subcommand)]
enum CallBlock {
    /// A state store.
    #[command(subcommand)]
    State(StateCall),
}

#[derive(Debug, Subcommand)]
enum StateCall {
    /// Initialise the instance with `name=value` metadata (done automatically when needed).
    Init {
        /// Metadata as name=value.
        metadata: Vec<String>,
    },
    /// Print the store's features.
    Features,
    /// Read a key.
    Get {
        /// The key.
        key: String,
    },
    /// Write a key.
    Set {
        /// The key.
        key: String,
        /// The value (UTF-8).
        value: String,
        /// Only if the stored etag is this.
        #[arg(long)]
        etag: Option<String>,
        /// Expire after this many seconds.
        #[arg(long)]
        ttl: Option<i64>,
        /// Create only (first-write concurrency).
        #[arg(long)]
        first_write: bool,
        /// Content type to record.
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Delete a key.
    Delete {
        /// The key.
        key: String,
        /// Only if the stored etag is this.
        #[arg(long)]
        etag: Option<String>,
    },
    /// Read several keys (one JSON line each, in order).
    BulkGet {
        /// The keys.
        keys: Vec<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WASMPLUG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            sockets_folder,
        } => {
            let host = std::sync::Arc::new(wasmplug::Host::load(&config)?);
            let folder = sockets_folder.unwrap_or_else(wasmplug::bridge::sockets_folder);
            tokio_runtime()?.block_on(wasmplug::bridge::serve(host, &folder, shutdown_signal()))?;
            Ok(())
        }
        Command::Call {
            target,
            instance,
            sockets_folder,
            block: CallBlock::State(call),
        } => {
            let path = if target.contains('/') || target.ends_with(".sock") {
                PathBuf::from(target)
            } else {
                sockets_folder
                    .unwrap_or_else(wasmplug::bridge::sockets_folder)
                    .join(format!("{target}.sock"))
            };
            tokio_runtime()?.block_on(state_call(&path, &instance, call))
        }
        Command::Check { wasm } => check(wasm),
        Command::Validate { config } => {
            let host = wasmplug::Host::load(&config)?;
            for c in host.components() {
                println!(
                    "ok  {} ({}) {}",
                    c.name(),
                    c.config.block,
                    c.config.wasm.display()
                );
            }
            Ok(())
        }
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn item_json(key: &str, item: Option<&StateItem>) -> serde_json::Value {
    match item {
        None => serde_json::json!({ "key": key, "found": false }),
        Some(i) => serde_json::json!({
            "key": key,
            "found": true,
            "data": String::from_utf8_lossy(&i.data),
            "etag": i.etag,
            "contentType": i.content_type,
            "metadata": i.metadata,
        }),
    }
}

async fn state_call(path: &std::path::Path, instance: &str, call: StateCall) -> anyhow::Result<()> {
    let store = GrpcStateStore::connect(path, instance).await?;
    if let StateCall::Init { metadata } = &call {
        let mut md = Metadata::new();
        for pair in metadata {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("metadata {pair:?} is not name=value"))?;
            md.insert(k.to_owned(), v.to_owned());
        }
        store.init(md).await?;
        println!("{}", serde_json::json!({ "initialised": instance }));
        return Ok(());
    }
    // Initialise on demand, so a socket can be tried by hand before daprd has used it.
    match run_state_call(&store, &call).await {
        Err(StateError::Component(e)) if e.kind == FaultKind::NotInitialized => {
            store.init(Metadata::new()).await?;
            Ok(run_state_call(&store, &call).await?)
        }
        other => Ok(other?),
    }
}

async fn run_state_call(store: &GrpcStateStore, call: &StateCall) -> Result<(), StateError> {
    match call {
        StateCall::Init { .. } => unreachable!("handled by the caller"),
        StateCall::Features => println!(
            "{}",
            serde_json::json!({ "features": store.features().await? })
        ),
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
            println!("{}", serde_json::json!({ "key": key, "set": true }));
        }
        StateCall::Delete { key, etag } => {
            let mut req = DeleteRequest::new(key.clone());
            req.etag = etag.clone();
            store.delete(req).await?;
            println!("{}", serde_json::json!({ "key": key, "deleted": true }));
        }
        StateCall::BulkGet { keys } => {
            for i in store
                .bulk_get(keys.iter().map(|k| GetRequest::new(k.clone())).collect())
                .await?
            {
                println!("{}", item_json(&i.key, i.item.as_ref()));
            }
        }
    }
    Ok(())
}

fn check(path: PathBuf) -> anyhow::Result<()> {
    let runtime = Runtime::shared();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(&path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let (component, _) = runtime.compile(&name, &path, &bytes, None)?;
    let info = ComponentInfo::of(runtime.engine(), &component);
    if info.services.is_empty() {
        anyhow::bail!(
            "{}: exports no known building block; it exports: [{}]",
            path.display(),
            info.exports.join(", ")
        );
    }
    println!("{}", path.display());
    for s in &info.services {
        println!(
            "  implements: {} ({}, {})",
            s.block(),
            s.as_str(),
            s.wit_export()
        );
    }
    let mut unknown = Vec::new();
    for i in &info.imports {
        let what = match i.provider {
            Provider::Wasi => "WASI, sandboxed by grants",
            Provider::KeyValue => "host key-value, needs grants.keyValue",
            Provider::Config => "host config",
            Provider::Logging => "host logging",
            Provider::Unknown => {
                unknown.push(i.name.clone());
                "NOT PROVIDED by wasmplug"
            }
        };
        println!("  imports:    {} ({what})", i.name);
    }
    if !unknown.is_empty() {
        anyhow::bail!(
            "{}: imports interfaces wasmplug does not provide: {}",
            path.display(),
            unknown.join(", ")
        );
    }
    Ok(())
}
