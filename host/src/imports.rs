//! Host side of the small imports: `config` (the component's metadata) and `logging`.

use crate::bindings::{config, logging, types};
use crate::runtime::InstanceState;

impl types::Host for InstanceState {}

impl config::Host for InstanceState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        Ok(self
            .config
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone()))
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, config::Error> {
        Ok(self.config.clone())
    }
}

/// Longest log message accepted from a guest; longer ones are truncated.
const MAX_MESSAGE: usize = 16 * 1024;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_MESSAGE {
        return s;
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
