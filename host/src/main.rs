//! The `wasmplug` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmplug::runtime::{ComponentInfo, Provider, Runtime};

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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WASMPLUG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
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
    if info.blocks.is_empty() {
        anyhow::bail!(
            "{}: exports no known building block; it exports: [{}]",
            path.display(),
            info.exports.join(", ")
        );
    }
    println!("{}", path.display());
    for b in &info.blocks {
        println!("  implements: {b} ({})", b.wit_export());
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
