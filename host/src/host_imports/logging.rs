//! `wasmplug:dapr/logging`: guest log records into `tracing` under target
//! `wasmplug::guest`, with the component's name.

use crate::bindings::logging;
use crate::runtime::sandbox::InstanceState;

/// Longest log message accepted from a guest; longer ones are truncated.
const MAX_MESSAGE: usize = 16 * 1024;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_MESSAGE {
        return s;
    }
    let end = (0..=MAX_MESSAGE)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s.get(..end).unwrap_or_default()
}

impl logging::Host for InstanceState {
    fn log(&mut self, level: logging::Level, context: String, message: String) {
        let component = &*self.component;
        let (context, message) = (clip(&context), clip(&message));
        match level {
            logging::Level::Trace => {
                tracing::trace!(target: "wasmplug::guest", component, context, "{message}")
            }
            logging::Level::Debug => {
                tracing::debug!(target: "wasmplug::guest", component, context, "{message}")
            }
            logging::Level::Info => {
                tracing::info!(target: "wasmplug::guest", component, context, "{message}")
            }
            logging::Level::Warn => {
                tracing::warn!(target: "wasmplug::guest", component, context, "{message}")
            }
            logging::Level::Error | logging::Level::Critical => {
                tracing::error!(target: "wasmplug::guest", component, context, "{message}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_MESSAGE, clip};

    #[test]
    fn long_messages_are_clipped_on_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let exact = "a".repeat(MAX_MESSAGE);
        assert_eq!(clip(&exact).len(), MAX_MESSAGE);
        // A 3-byte char straddling the limit is dropped whole.
        let straddle = format!("{}€", "a".repeat(MAX_MESSAGE - 1));
        assert_eq!(clip(&straddle), "a".repeat(MAX_MESSAGE - 1));
    }
}
