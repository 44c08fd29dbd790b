//! The async runtime the commands that talk to sockets run on.

/// The multi-threaded tokio runtime `serve` and `call` run on.
pub(crate) fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
