//! Helpers every block's `call` client shares: metadata arguments, init-on-demand, text
//! and durations from the command line.

use std::time::Duration;

use wasmplug::blocks::BlockError;
use wasmplug::blocks::state::Metadata;
use wasmplug::runtime::FaultKind;

/// Parses `name=value` pairs.
pub(super) fn parse_metadata(pairs: &[String]) -> anyhow::Result<Metadata> {
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
pub(super) async fn ensure_init<P, I>(ping: P, init: I) -> anyhow::Result<()>
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
pub(super) fn lossy(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The longest wait the command line asks for: about 136 years, forever in practice, and
/// still a deadline `Instant` can represent (adding a longer `Duration` would overflow).
const FOREVER_SECS: f64 = 4_294_967_295.0;

/// Seconds from the command line as a duration: negative (or NaN) is zero, and anything
/// longer than [`FOREVER_SECS`] is that.
pub(super) fn duration(seconds: f64) -> Duration {
    if seconds.is_nan() {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(seconds.clamp(0.0, FOREVER_SECS))
}
