//! What a component is: the building block it implements ([`BlockKind`]) and the WIT
//! interfaces it exports for it ([`Service`]).
//!
//! A leaf module: the config, the runtime and the bridge all name blocks, so this depends on
//! nothing else in the crate.

use serde::Deserialize;

/// A building block a component implements: the `type` of a config entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// A Dapr state store (`state.<name>` to daprd).
    State,
    /// A Dapr pub/sub broker (`pubsub.<name>`).
    PubSub,
    /// Dapr input and/or output bindings (`bindings.<name>`).
    Bindings,
    /// A Dapr secret store (`secretstores.<name>`).
    SecretStores,
}

impl BlockKind {
    /// Every block this host can run.
    pub const ALL: &[BlockKind] = &[
        BlockKind::State,
        BlockKind::PubSub,
        BlockKind::Bindings,
        BlockKind::SecretStores,
    ];

    /// The name used in config files and by `wasmplug check`.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::State => "state",
            BlockKind::PubSub => "pubsub",
            BlockKind::Bindings => "bindings",
            BlockKind::SecretStores => "secretstores",
        }
    }

    /// The prefix of the component type daprd registers (`state.<name>`, ...).
    pub fn dapr_prefix(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for BlockKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A WIT interface a component exports to implement (part of) a block; each maps to the
/// gRPC service(s) the bridge serves for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// `wasmplug:dapr/state-store`.
    State,
    /// `wasmplug:dapr/pubsub`.
    PubSub,
    /// `wasmplug:dapr/input-binding`.
    InputBinding,
    /// `wasmplug:dapr/output-binding`.
    OutputBinding,
    /// `wasmplug:dapr/secret-store`.
    SecretStore,
}

impl Service {
    /// Every service this host can run.
    pub const ALL: &[Service] = &[
        Service::State,
        Service::PubSub,
        Service::InputBinding,
        Service::OutputBinding,
        Service::SecretStore,
    ];

    /// The exported WIT interface.
    pub fn wit_export(self) -> &'static str {
        match self {
            Service::State => "wasmplug:dapr/state-store@0.1.0",
            Service::PubSub => "wasmplug:dapr/pubsub@0.1.0",
            Service::InputBinding => "wasmplug:dapr/input-binding@0.1.0",
            Service::OutputBinding => "wasmplug:dapr/output-binding@0.1.0",
            Service::SecretStore => "wasmplug:dapr/secret-store@0.1.0",
        }
    }

    /// The block it belongs to.
    pub fn block(self) -> BlockKind {
        match self {
            Service::State => BlockKind::State,
            Service::PubSub => BlockKind::PubSub,
            Service::InputBinding | Service::OutputBinding => BlockKind::Bindings,
            Service::SecretStore => BlockKind::SecretStores,
        }
    }

    /// A short name for logs and `wasmplug check`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::State => "state",
            Service::PubSub => "pubsub",
            Service::InputBinding => "input binding",
            Service::OutputBinding => "output binding",
            Service::SecretStore => "secret store",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_are_the_config_type_names() {
        for &kind in BlockKind::ALL {
            let parsed: BlockKind = serde_norway::from_str(kind.as_str()).unwrap();
            assert_eq!(parsed, kind);
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(kind.dapr_prefix(), kind.as_str());
        }
    }

    #[test]
    fn every_block_has_a_service_and_every_service_its_own_export() {
        for &kind in BlockKind::ALL {
            assert!(Service::ALL.iter().any(|s| s.block() == kind), "{kind}");
        }
        let mut exports: Vec<_> = Service::ALL.iter().map(|s| s.wit_export()).collect();
        exports.sort_unstable();
        exports.dedup();
        assert_eq!(exports.len(), Service::ALL.len());
        assert!(exports.iter().all(|e| e.starts_with("wasmplug:dapr/")));
    }
}
