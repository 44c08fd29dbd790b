//! `wasmplug serve`: every component of a config on its own socket, until SIGINT/SIGTERM.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Loads `config` and serves it in `sockets_folder` (else the folder the environment names).
pub fn serve(config: &Path, sockets_folder: Option<PathBuf>) -> anyhow::Result<()> {
    let config = wasmplug::config::Config::load(config)?;
    let folder = sockets_folder.unwrap_or_else(wasmplug::bridge::sockets_folder);
    crate::rt::tokio_runtime()?.block_on(async {
        let term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
        wasmplug::bridge::serve_config(config, &folder, shutdown_signal(term)).await?;
        Ok(())
    })
}

/// Resolves on SIGINT or on SIGTERM (received through `term`).
async fn shutdown_signal(mut term: Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
