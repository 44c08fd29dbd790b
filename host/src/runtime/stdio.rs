//! Guest stdout and stderr, forwarded line by line to `tracing` under the component's name
//! (a component never inherits the host's stdio).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept before it is flushed as is.
const MAX_LOG_LINE: usize = 8192;

/// A guest output stream that logs each line at `info` on target `wasmplug::guest`.
#[derive(Debug, Clone)]
pub(crate) struct TracingStdio {
    component: Arc<str>,
}

impl TracingStdio {
    /// Output of `component`.
    pub(crate) fn new(component: Arc<str>) -> Self {
        Self { component }
    }
}

impl IsTerminal for TracingStdio {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TracingStdio {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            component: self.component.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineLogger {
    component: Arc<str>,
    buf: Vec<u8>,
}

/// Removes and returns every complete line in `buf` (without its line ending; empty lines
/// dropped), plus the rest if it has grown past `max` or `flush_all` is set.
fn take_lines(buf: &mut Vec<u8>, max: usize, flush_all: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut push = |bytes: Vec<u8>| {
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            lines.push(text.to_owned());
        }
    };
    while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
        push(buf.drain(..=pos).collect());
    }
    if flush_all || buf.len() > max {
        push(std::mem::take(buf));
    }
    lines
}

impl LineLogger {
    fn emit(&mut self, flush_all: bool) {
        for line in take_lines(&mut self.buf, MAX_LOG_LINE, flush_all) {
            tracing::info!(target: "wasmplug::guest", component = %self.component, "{line}");
        }
    }
}

impl tokio::io::AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.buf.extend_from_slice(data);
        self.emit(false);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.emit(true);
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        self.emit(true);
    }
}

#[cfg(test)]
mod tests {
    use super::take_lines;

    #[test]
    fn complete_lines_are_taken_and_the_rest_waits() {
        let mut buf = b"one\r\ntwo\n\nthr".to_vec();
        assert_eq!(take_lines(&mut buf, 100, false), ["one", "two"]);
        assert_eq!(buf, b"thr");
        buf.extend_from_slice(b"ee\n");
        assert_eq!(take_lines(&mut buf, 100, false), ["three"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn an_overlong_line_or_a_final_flush_is_emitted_as_is() {
        let mut buf = vec![b'x'; 11];
        assert_eq!(take_lines(&mut buf, 10, false), ["x".repeat(11)]);
        let mut buf = b"tail".to_vec();
        assert!(take_lines(&mut buf, 10, false).is_empty());
        assert_eq!(take_lines(&mut buf, 10, true), ["tail"]);
        let mut buf = vec![0xff, b'\n'];
        assert_eq!(take_lines(&mut buf, 10, false), ["\u{fffd}"]);
    }
}
