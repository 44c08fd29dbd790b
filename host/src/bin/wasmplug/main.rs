//! The `wasmplug` command line.

mod call;
mod check;
mod cli;
mod rt;
mod scaffold;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

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
        } => serve::serve(&config, sockets_folder),
        Command::Call {
            target,
            instance,
            sockets_folder,
            wait,
            block,
        } => call::call(&target, &instance, sockets_folder, wait, block),
        Command::Check { wasm } => check::check(&wasm),
        Command::New {
            lang,
            block,
            name,
            dir,
        } => new(lang, &block, &name, dir),
        Command::Validate { config } => check::validate(&config),
    }
}

/// `wasmplug new`: writes the project and says what to do next.
fn new(
    lang: scaffold::Language,
    block: &str,
    name: &str,
    dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    for f in scaffold::generate(lang, block, name, &dir)? {
        println!("created {}", f.display());
    }
    println!(
        "next: cd {} && ./build.sh && wasmplug serve wasmplug.yaml",
        dir.display()
    );
    Ok(())
}
