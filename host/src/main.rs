//! The `wasmplug` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmplug::blocks::BlockError;
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
    /// Scaffold a ready-to-build component project: `wasmplug new rust bindings my-binding`.
    New {
        /// Language: rust, python, js or c.
        lang: wasmplug::scaffold::Language,
        /// Block: bindings (an output binding) or state (a state store).
        block: String,
        /// Component name (also the project folder unless --dir is given).
        name: String,
        /// Where to create the project.
        #[arg(long)]
        dir: Option<PathBuf>,
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
        /// Wait up to this many seconds for the socket to accept connections (for scripts that
        /// start `wasmplug serve` in the background: it compiles components before it binds).
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        wait: f64,
        #[command(subcommand)]
        block: CallBlock,
    },
}

#[derive(Debug, Subcommand)]
enum CallBlock {
    /// A state store.
    #[command(subcommand)]
    State(StateCall),
    /// A pub/sub broker.
    #[command(subcommand)]
    Pubsub(PubsubCall),
    /// Input and output bindings.
    #[command(subcommand)]
    Bindings(BindingsCall),
    /// A secret store.
    #[command(subcommand)]
    Secret(SecretCall),
}

#[derive(Debug, Subcommand)]
enum PubsubCall {
    /// Publish a message.
    Publish {
        /// Topic.
        topic: String,
        /// Payload (UTF-8).
        data: String,
        /// Content type.
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Subscribe, print each message as a JSON line, and ack it.
    Subscribe {
        /// Topic.
        topic: String,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this many seconds without a message.
        #[arg(long, default_value_t = 5.0)]
        idle: f64,
        /// Nack instead of ack (the messages will be redelivered).
        #[arg(long)]
        nack: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BindingsCall {
    /// Invoke an output binding operation.
    Invoke {
        /// Operation (see `operations`).
        operation: String,
        /// Payload (UTF-8).
        #[arg(default_value = "")]
        data: String,
        /// Metadata as name=value.
        #[arg(long = "metadata", short = 'm')]
        metadata: Vec<String>,
    },
    /// List the output binding's operations.
    Operations,
    /// Read input binding events, print them as JSON lines, and reply to each.
    Read {
        /// Stop after this many events.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Give up after this many seconds without an event.
        #[arg(long, default_value_t = 10.0)]
        idle: f64,
        /// Reply data sent back for each event.
        #[arg(long, default_value = "")]
        reply: String,
    },
}

#[derive(Debug, Subcommand)]
enum SecretCall {
    /// Get one secret.
    Get {
        /// Secret name.
        key: String,
    },
    /// Get every secret.
    BulkGet,
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
            wait,
            block,
        } => {
            let path = if target.contains('/') || target.ends_with(".sock") {
                PathBuf::from(target)
            } else {
                sockets_folder
                    .unwrap_or_else(wasmplug::bridge::sockets_folder)
                    .join(format!("{target}.sock"))
            };
            let rt = tokio_runtime()?;
            rt.block_on(wait_for_socket(&path, wait))?;
            match block {
                CallBlock::State(call) => rt.block_on(state_call(&path, &instance, call)),
                CallBlock::Pubsub(call) => rt.block_on(pubsub_call(&path, &instance, call)),
                CallBlock::Bindings(call) => rt.block_on(bindings_call(&path, &instance, call)),
                CallBlock::Secret(call) => rt.block_on(secret_call(&path, &instance, call)),
            }
        }
        Command::Check { wasm } => check(wasm),
        Command::New {
            lang,
            block,
            name,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            for f in wasmplug::scaffold::generate(lang, &block, &name, &dir)? {
                println!("created {}", f.display());
            }
            println!(
                "next: cd {} && ./build.sh && wasmplug serve wasmplug.yaml",
                dir.display()
            );
            Ok(())
        }
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

/// Returns once `path` accepts a connection, or fails after `seconds` (at once when 0).
async fn wait_for_socket(path: &std::path::Path, seconds: f64) -> anyhow::Result<()> {
    let seconds = if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        0.0
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    loop {
        match tokio::net::UnixStream::connect(path).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                let waited = if seconds > 0.0 {
                    format!(" (waited {seconds} s)")
                } else {
                    String::new()
                };
                anyhow::bail!(
                    "cannot connect to {}{waited}: {e}; is `wasmplug serve` running with that sockets folder?",
                    path.display()
                )
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    #[allow(
        clippy::expect_used,
        reason = "without a SIGTERM handler the sidecar cannot drain; refuse to start"
    )]
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

fn parse_metadata(pairs: &[String]) -> anyhow::Result<Metadata> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("metadata {p:?} is not name=value"))
        })
        .collect()
}

/// Initialises the instance if the server says it is not (so a socket can be tried by hand
/// before daprd has used it); an instance daprd already initialised is left alone.
async fn ensure_init<P, I>(ping: P, init: I) -> anyhow::Result<()>
where
    P: Future<Output = Result<(), BlockError>>,
    I: Future<Output = Result<(), BlockError>>,
{
    match ping.await {
        Err(BlockError::Component(e)) if e.kind == FaultKind::NotInitialized => Ok(init.await?),
        other => Ok(other?),
    }
}

fn lossy(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

async fn pubsub_call(
    path: &std::path::Path,
    instance: &str,
    call: PubsubCall,
) -> anyhow::Result<()> {
    use wasmplug::blocks::pubsub::{GrpcPubSub, PubSub, PublishRequest};
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
            println!(
                "{}",
                serde_json::json!({ "topic": topic, "published": true })
            );
        }
        PubsubCall::Subscribe {
            topic,
            count,
            idle,
            nack,
        } => {
            let sub = ps.subscribe(&topic, Metadata::new()).await?;
            let idle = std::time::Duration::from_secs_f64(idle.max(0.0));
            let mut seen = 0;
            while count.is_none_or(|c| seen < c) {
                let Some(d) = sub.next(idle).await? else {
                    break;
                };
                println!(
                    "{}",
                    serde_json::json!({ "id": d.id, "topic": d.topic, "data": lossy(&d.data), "contentType": d.content_type, "metadata": d.metadata })
                );
                sub.ack(&d.id, nack.then(|| "nacked by wasmplug call".to_owned()))
                    .await?;
                seen += 1;
            }
            // Make sure every ack reached the component before exiting.
            sub.close().await;
        }
    }
    Ok(())
}

async fn bindings_call(
    path: &std::path::Path,
    instance: &str,
    call: BindingsCall,
) -> anyhow::Result<()> {
    use wasmplug::blocks::bindings::input::{GrpcInputBinding, InputBinding};
    use wasmplug::blocks::bindings::output::{GrpcOutputBinding, InvokeRequest, OutputBinding};
    match call {
        BindingsCall::Invoke {
            operation,
            data,
            metadata,
        } => {
            let b = GrpcOutputBinding::connect(path, instance).await?;
            ensure_init(b.ping(), b.init(Metadata::new())).await?;
            let mut req = InvokeRequest::new(operation).with_data(data.into_bytes());
            req.metadata = parse_metadata(&metadata)?;
            let r = b.invoke(req).await?;
            println!(
                "{}",
                serde_json::json!({ "data": lossy(&r.data), "contentType": r.content_type, "metadata": r.metadata })
            );
        }
        BindingsCall::Operations => {
            let b = GrpcOutputBinding::connect(path, instance).await?;
            ensure_init(b.ping(), b.init(Metadata::new())).await?;
            println!(
                "{}",
                serde_json::json!({ "operations": b.list_operations().await? })
            );
        }
        BindingsCall::Read { count, idle, reply } => {
            let b = GrpcInputBinding::connect(path, instance).await?;
            ensure_init(b.ping(), b.init(Metadata::new())).await?;
            let idle = std::time::Duration::from_secs_f64(idle.max(0.0));
            for _ in 0..count {
                let Some(e) = b.next(idle).await? else { break };
                println!(
                    "{}",
                    serde_json::json!({ "id": e.id, "data": lossy(&e.data), "contentType": e.content_type, "metadata": e.metadata })
                );
                b.reply(&e.id, reply.clone().into_bytes(), None).await?;
            }
        }
    }
    Ok(())
}

async fn secret_call(
    path: &std::path::Path,
    instance: &str,
    call: SecretCall,
) -> anyhow::Result<()> {
    use wasmplug::blocks::secrets::{GrpcSecretStore, SecretStore};
    let s = GrpcSecretStore::connect(path, instance).await?;
    ensure_init(s.ping(), s.init(Metadata::new())).await?;
    match call {
        SecretCall::Get { key } => {
            let secret = s.get(&key, Metadata::new()).await?;
            println!("{}", serde_json::json!({ "key": key, "secret": secret }));
        }
        SecretCall::BulkGet => println!(
            "{}",
            serde_json::json!({ "secrets": s.bulk_get(Metadata::new()).await? })
        ),
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
            Provider::Types => "shared types",
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
