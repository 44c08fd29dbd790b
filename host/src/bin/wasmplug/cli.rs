//! The command line's shape: every command, argument and flag, with the help text clap prints.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Host Dapr building-block components as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmplug", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
        lang: crate::scaffold::Language,
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
        /// start `wasmplug serve` in the background and call it at once).
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        wait: f64,
        #[command(subcommand)]
        block: CallBlock,
    },
}

#[derive(Debug, Subcommand)]
pub enum CallBlock {
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
pub enum PubsubCall {
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
pub enum BindingsCall {
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
pub enum SecretCall {
    /// Get one secret.
    Get {
        /// Secret name.
        key: String,
    },
    /// Get every secret.
    BulkGet,
}

#[derive(Debug, Subcommand)]
pub enum StateCall {
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
