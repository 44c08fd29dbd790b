//! `wasmplug call`: speaks the pluggable-components protocol to one socket, ours or anyone's,
//! and prints what comes back as JSON lines. One submodule per block client.

mod bindings;
mod pubsub;
mod secrets;
mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmplug::blocks::BlockError;
use wasmplug::blocks::state::Metadata;
use wasmplug::runtime::FaultKind;

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
    let rt = crate::tokio_runtime()?;
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

/// Parses `name=value` pairs.
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

/// Bytes as text, for the JSON lines (invalid UTF-8 becomes U+FFFD).
fn lossy(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The longest wait the command line asks for: about 136 years, forever in practice, and
/// still a deadline `Instant` can represent (adding a longer `Duration` would overflow).
const FOREVER_SECS: f64 = 4_294_967_295.0;

/// Seconds from the command line as a duration: negative (or NaN) is zero, and anything
/// longer than [`FOREVER_SECS`] is that.
fn duration(seconds: f64) -> Duration {
    if seconds.is_nan() {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(seconds.clamp(0.0, FOREVER_SECS))
}
