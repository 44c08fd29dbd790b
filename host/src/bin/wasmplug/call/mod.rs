//! `wasmplug call`: speaks the pluggable-components protocol to one socket, ours or anyone's,
//! and prints what comes back as JSON lines. One submodule per block client.

mod bindings;
mod common;
mod pubsub;
mod secrets;
mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::duration;

use crate::cli::CallBlock;

/// Resolves `target` to a socket, waits up to `wait` seconds for it, and runs `block`.
pub fn call(
    target: &str,
    instance: &str,
    sockets_folder: Option<PathBuf>,
    wait: f64,
    block: CallBlock,
) -> anyhow::Result<()> {
    let path = if target.contains('/') || target.ends_with(".sock") {
        PathBuf::from(target)
    } else {
        sockets_folder
            .unwrap_or_else(wasmplug::bridge::sockets_folder)
            .join(format!("{target}.sock"))
    };
    let rt = crate::rt::tokio_runtime()?;
    rt.block_on(wait_for_socket(&path, wait))?;
    match block {
        CallBlock::State(call) => rt.block_on(state::call(&path, instance, call)),
        CallBlock::Pubsub(call) => rt.block_on(pubsub::call(&path, instance, call)),
        CallBlock::Bindings(call) => rt.block_on(bindings::call(&path, instance, call)),
        CallBlock::Secret(call) => rt.block_on(secrets::call(&path, instance, call)),
    }
}

/// Returns once `path` accepts a connection, or fails after `seconds` (at once when 0).
async fn wait_for_socket(path: &Path, seconds: f64) -> anyhow::Result<()> {
    let seconds = if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        0.0
    };
    let deadline = tokio::time::Instant::now() + duration(seconds);
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
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
