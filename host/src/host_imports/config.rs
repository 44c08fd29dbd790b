//! `wasmplug:dapr/config`: a component reads its own (merged) metadata, aligned with
//! `wasi:config`.

use crate::bindings::{config, types};
use crate::runtime::sandbox::InstanceState;

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
