//! The resolved config: what the rest of the host reads. Paths are absolute and defaults
//! are filled in; nothing here knows about YAML.

use std::path::PathBuf;
use std::time::Duration;

use super::BlockKind;
use crate::kv::Backend;
use crate::kv::redis::RedisConfig;

/// A whole config file, resolved: paths are absolute, defaults filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from.
    pub file: PathBuf,
    /// Where durable key-value buckets live.
    pub data_dir: PathBuf,
    /// Where compiled components are cached (`None` disables the cache).
    pub cache_dir: Option<PathBuf>,
    /// The named key-value stores (`keyValueStores`), in file order.
    pub key_value_stores: Vec<RedisConfig>,
    /// The components, in file order.
    pub components: Vec<ComponentConfig>,
}

impl Config {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentConfig> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// One component, resolved.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// Unique name; daprd sees it as `<block>.<name>` and the socket is `<name>.sock`.
    pub name: String,
    /// The block it implements.
    pub block: BlockKind,
    /// Absolute path of the `.wasm` component.
    pub wasm: PathBuf,
    /// Init metadata, in file order.
    pub metadata: Vec<(String, String)>,
    /// How many calls into one Dapr instance may run at once, each on its own guest
    /// instance (`concurrency`, default 1). Only safe for a guest that keeps no state in
    /// its own memory between calls (one whose state lives in host buckets): each pooled
    /// instance has its own memory.
    pub concurrency: usize,
    /// Resource limits.
    pub limits: Limits,
    /// Capabilities granted.
    pub grants: Grants,
}

/// Per-component resource limits. Always on; these are the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Longest one call may take, from its arrival (queue wait for a free instance
    /// included) to its answer; a running guest is interrupted when it passes.
    pub call_timeout: Duration,
    /// Most Dapr instance names one socket keeps (`limits.maxInstances`).
    pub max_instances: usize,
    /// How long a guest instance may sit unused before its sandbox is dropped to free its
    /// memory (`limits.idleTimeout`; `None`: never). The next call rebuilds it and re-runs
    /// `init` with the metadata it was initialised with; whatever the guest kept in its own
    /// memory is gone. Unset, it is [`DEFAULT_IDLE_TIMEOUT`] for state and secret stores
    /// (whose data live in host buckets or outside) and never for pub/sub and bindings
    /// (which may hold undelivered messages in memory).
    pub idle_timeout: Option<Duration>,
}

/// The idle timeout of state and secret store instances when the config sets none.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(5),
            max_instances: 1024,
            idle_timeout: None,
        }
    }
}

/// Capabilities granted to one component. Everything not listed is denied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Host key-value buckets the component may open.
    pub key_value: Vec<KeyValueGrant>,
    /// Host directories preopened in the guest.
    pub dirs: Vec<DirGrant>,
    /// Environment variables the guest sees.
    pub env: Vec<(String, String)>,
    /// Outbound TCP peers the guest may connect to, as written and as resolved.
    pub tcp: Vec<TcpGrant>,
}

/// A granted host key-value bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValueGrant {
    /// Name the guest opens it by.
    pub bucket: String,
    /// Where its data lives.
    pub backend: Backend,
}

/// A granted directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// Absolute host path.
    pub host_path: PathBuf,
    /// Path the guest sees.
    pub guest_path: String,
    /// Whether the guest may only read.
    pub read_only: bool,
}

/// A granted outbound TCP peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpGrant {
    /// `host:port` as written in the config.
    pub peer: String,
    /// Its host: an IP address, or a host name resolved each time the guest connects.
    pub host: String,
    /// Its port.
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::{HEAD, parse};

    #[test]
    fn limits_default_to_64_mib_and_5_seconds() {
        let l = Limits::default();
        assert_eq!(l.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(l.call_timeout, Duration::from_secs(5));
        assert_eq!(l.max_instances, 1024);
        assert_eq!(l.idle_timeout, None);
    }

    #[test]
    fn component_is_found_by_name() {
        let c = parse(&format!(
            "{HEAD}components:\n  - name: a\n    type: state\n    wasm: a.wasm\n  - name: b\n    type: pubsub\n    wasm: b.wasm\n"
        ))
        .unwrap();
        assert_eq!(c.component("b").map(|c| c.block), Some(BlockKind::PubSub));
        assert!(c.component("c").is_none());
    }
}
