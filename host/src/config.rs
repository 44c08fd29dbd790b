//! Loading the components config file.
//!
//! The file is YAML shaped like Dapr's own resources so Dapr users read it at a glance:
//! a `kind`, an `apiVersion`, and a list of components, each with a `name`, the building
//! block it implements (`type`), the `.wasm` file (relative to the config file), its init
//! `metadata` as `name`/`value` pairs, and the `limits` and `grants` of its sandbox.
//!
//! ```yaml
//! apiVersion: wasmplug.dev/v1alpha1
//! kind: Components
//! dataDir: .wasmplug/data          # durable key-value buckets (default shown)
//! components:
//!   - name: statestore
//!     type: state
//!     wasm: ../../target/guests/state-store.wasm
//!     metadata:
//!       - name: bucket
//!         value: state
//!     limits:
//!       memoryMiB: 64              # default 64
//!       callTimeout: 5s            # default 5s
//!     grants:
//!       keyValue:
//!         - bucket: state
//!           backend: durable       # or memory
//!       dirs:
//!         - hostPath: ./data
//!           guestPath: /data
//!           readOnly: true
//!       env:
//!         - name: LOG_LEVEL
//!           value: debug
//!       tcp:
//!         - 127.0.0.1:6379
//! ```
//!
//! Loading is strict: an unknown key, a duplicate name, a missing file or a value of the
//! wrong shape is an error that names the file, the component and the key.

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::kind::{BlockKind, Service};
use crate::kv::Backend;

/// The `apiVersion` this host understands.
pub const API_VERSION: &str = "wasmplug.dev/v1alpha1";
/// The `kind` of a components config file.
pub const KIND: &str = "Components";

/// A config error, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{}: {message}", file.display(), component.as_ref().map(|c| format!(": component {c:?}")).unwrap_or_default(), key.as_ref().map(|k| format!(": key `{k}`")).unwrap_or_default())]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// The component the error is in, if any.
    pub component: Option<String>,
    /// The key path inside the component (or file) that is wrong, if known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// A whole config file, resolved: paths are absolute, defaults filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from.
    pub file: PathBuf,
    /// Where durable key-value buckets live.
    pub data_dir: PathBuf,
    /// Where compiled components are cached (`None` disables the cache).
    pub cache_dir: Option<PathBuf>,
    /// The components, in file order.
    pub components: Vec<ComponentConfig>,
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
    /// Longest one call into the guest may run before it is interrupted.
    pub call_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(5),
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
    /// The addresses it resolved to when the config was loaded.
    pub addrs: Vec<SocketAddr>,
}

// ---- raw (file) shapes ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    data_dir: Option<PathBuf>,
    #[serde(default)]
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    components: Vec<serde_norway::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawComponent {
    #[allow(dead_code)] // read separately so errors can name the component
    name: String,
    #[serde(rename = "type")]
    block: BlockKind,
    wasm: PathBuf,
    #[serde(default)]
    metadata: Vec<NameValue>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    grants: RawGrants,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLimits {
    #[serde(rename = "memoryMiB")]
    memory_mib: Option<u64>,
    call_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGrants {
    #[serde(default)]
    key_value: Vec<RawKv>,
    #[serde(default)]
    dirs: Vec<RawDir>,
    #[serde(default)]
    env: Vec<NameValue>,
    #[serde(default)]
    tcp: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawKv {
    bucket: String,
    #[serde(default)]
    backend: Backend,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDir {
    host_path: PathBuf,
    guest_path: String,
    #[serde(default)]
    read_only: bool,
}

/// Largest memory limit accepted (4 GiB: a 32-bit guest cannot address more).
const MAX_MEMORY_MIB: u64 = 4096;

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            component: None,
            key: None,
            message: format!("cannot read config file: {e}"),
        })?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_owned());
        Self::parse(&text, path, &base)
    }

    /// Parses config text as if it were the file `file`, resolving relative paths against
    /// `base`.
    pub fn parse(text: &str, file: &Path, base: &Path) -> Result<Self, ConfigError> {
        let err = |component: Option<&str>, key: Option<String>, message: String| ConfigError {
            file: file.to_owned(),
            component: component.map(str::to_owned),
            key,
            message,
        };
        let de = serde_norway::Deserializer::from_str(text);
        let raw: RawFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            err(
                None,
                (path != ".").then_some(path),
                e.into_inner().to_string(),
            )
        })?;
        if raw.api_version != API_VERSION {
            return Err(err(
                None,
                Some("apiVersion".into()),
                format!("expected {API_VERSION:?}, found {:?}", raw.api_version),
            ));
        }
        if raw.kind != KIND {
            return Err(err(
                None,
                Some("kind".into()),
                format!("expected {KIND:?}, found {:?}", raw.kind),
            ));
        }
        let data_dir = base.join(
            raw.data_dir
                .unwrap_or_else(|| PathBuf::from(".wasmplug/data")),
        );
        let cache_dir = match raw.cache_dir {
            Some(d) => Some(base.join(d)),
            None => default_cache_dir(),
        };

        let mut names = BTreeSet::new();
        let mut components = Vec::with_capacity(raw.components.len());
        for (i, value) in raw.components.into_iter().enumerate() {
            let name = match value.get("name") {
                Some(serde_norway::Value::String(s)) => s.clone(),
                Some(_) => {
                    return Err(err(
                        None,
                        Some(format!("components[{i}].name")),
                        "must be a string".into(),
                    ));
                }
                None => {
                    return Err(err(
                        None,
                        Some(format!("components[{i}]")),
                        "missing key `name`".into(),
                    ));
                }
            };
            let c = Some(name.as_str());
            validate_name(&name).map_err(|m| err(c, Some("name".into()), m))?;
            if !names.insert(name.clone()) {
                return Err(err(
                    c,
                    Some("name".into()),
                    "duplicate component name".into(),
                ));
            }
            let rc: RawComponent = serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                err(c, (path != ".").then_some(path), e.into_inner().to_string())
            })?;
            components
                .push(resolve_component(&name, rc, base).map_err(|(key, m)| err(c, Some(key), m))?);
        }
        if components.is_empty() {
            return Err(err(
                None,
                Some("components".into()),
                "no components configured".into(),
            ));
        }
        Ok(Config {
            file: file.to_owned(),
            data_dir,
            cache_dir,
            components,
        })
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentConfig> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// `$WASMPLUG_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmplug`, else `~/.cache/wasmplug`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("WASMPLUG_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("wasmplug"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("wasmplug"))
}

/// Names become socket file names and daprd component types: keep them to what both accept.
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        return Err(format!(
            "{name:?} is not a valid name: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
        ));
    }
    Ok(())
}

fn resolve_component(
    name: &str,
    rc: RawComponent,
    base: &Path,
) -> Result<ComponentConfig, (String, String)> {
    let wasm = base.join(&rc.wasm);

    let mut seen = BTreeSet::new();
    let mut metadata = Vec::with_capacity(rc.metadata.len());
    for (i, nv) in rc.metadata.into_iter().enumerate() {
        if !seen.insert(nv.name.clone()) {
            return Err((
                format!("metadata[{i}].name"),
                format!("duplicate metadata name {:?}", nv.name),
            ));
        }
        metadata.push((nv.name, nv.value));
    }

    let mut limits = Limits::default();
    if let Some(mib) = rc.limits.memory_mib {
        if mib == 0 || mib > MAX_MEMORY_MIB {
            return Err((
                "limits.memoryMiB".into(),
                format!("must be between 1 and {MAX_MEMORY_MIB}, got {mib}"),
            ));
        }
        limits.memory_bytes = usize::try_from(mib << 20).map_err(|_| {
            (
                "limits.memoryMiB".into(),
                "too large for this platform".into(),
            )
        })?;
    }
    if let Some(t) = rc.limits.call_timeout {
        let d = humantime::parse_duration(&t).map_err(|e| {
            (
                "limits.callTimeout".to_string(),
                format!("{t:?} is not a duration like `5s` or `250ms`: {e}"),
            )
        })?;
        if d.is_zero() || d > Duration::from_secs(3600) {
            return Err((
                "limits.callTimeout".into(),
                format!("must be between 1ms and 1h, got {t:?}"),
            ));
        }
        limits.call_timeout = d;
    }

    let g = rc.grants;
    let mut buckets = BTreeSet::new();
    let mut key_value = Vec::new();
    for (i, kv) in g.key_value.into_iter().enumerate() {
        if kv.bucket.is_empty() {
            return Err((
                format!("grants.keyValue[{i}].bucket"),
                "must not be empty".into(),
            ));
        }
        if !buckets.insert(kv.bucket.clone()) {
            return Err((
                format!("grants.keyValue[{i}].bucket"),
                format!("bucket {:?} granted twice", kv.bucket),
            ));
        }
        key_value.push(KeyValueGrant {
            bucket: kv.bucket,
            backend: kv.backend,
        });
    }
    let mut dirs = Vec::new();
    let mut guest_paths = BTreeSet::new();
    for (i, d) in g.dirs.into_iter().enumerate() {
        let host_path = base.join(&d.host_path);
        if !host_path.is_dir() {
            return Err((
                format!("grants.dirs[{i}].hostPath"),
                format!("{} is not a directory", host_path.display()),
            ));
        }
        if d.guest_path.is_empty() {
            return Err((
                format!("grants.dirs[{i}].guestPath"),
                "must not be empty".into(),
            ));
        }
        if !guest_paths.insert(d.guest_path.clone()) {
            return Err((
                format!("grants.dirs[{i}].guestPath"),
                format!("{:?} granted twice", d.guest_path),
            ));
        }
        dirs.push(DirGrant {
            host_path,
            guest_path: d.guest_path,
            read_only: d.read_only,
        });
    }
    let mut env = Vec::new();
    let mut env_names = BTreeSet::new();
    for (i, nv) in g.env.into_iter().enumerate() {
        if nv.name.is_empty() || nv.name.contains('=') {
            return Err((
                format!("grants.env[{i}].name"),
                format!("{:?} is not a valid variable name", nv.name),
            ));
        }
        if !env_names.insert(nv.name.clone()) {
            return Err((
                format!("grants.env[{i}].name"),
                format!("{:?} granted twice", nv.name),
            ));
        }
        env.push((nv.name, nv.value));
    }
    let mut tcp = Vec::new();
    for (i, peer) in g.tcp.into_iter().enumerate() {
        let addrs: Vec<SocketAddr> = peer
            .to_socket_addrs()
            .map_err(|e| {
                (
                    format!("grants.tcp[{i}]"),
                    format!("{peer:?} is not a reachable host:port: {e}"),
                )
            })?
            .collect();
        if addrs.is_empty() {
            return Err((
                format!("grants.tcp[{i}]"),
                format!("{peer:?} resolved to no addresses"),
            ));
        }
        tcp.push(TcpGrant { peer, addrs });
    }
    let _ = name;
    Ok(ComponentConfig {
        name: name.to_owned(),
        block: rc.block,
        wasm,
        metadata,
        limits,
        grants: Grants {
            key_value,
            dirs,
            env,
            tcp,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/cfg/wasmplug.yaml"), Path::new("/cfg"))
    }

    const HEAD: &str = "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n"
        ))
        .unwrap();
        let s = &c.components[0];
        assert_eq!(s.wasm, Path::new("/cfg/a.wasm"));
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.grants, Grants::default());
        assert_eq!(c.data_dir, Path::new("/cfg/.wasmplug/data"));
    }

    #[test]
    fn unknown_key_names_component_and_key() {
        let e = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n    grants:\n      keyValue:\n        - bucket: b\n          bakend: memory\n"
        ))
        .unwrap_err();
        assert_eq!(e.component.as_deref(), Some("s"));
        assert_eq!(e.key.as_deref(), Some("grants.keyValue[0].bakend"));
        assert!(e.message.contains("unknown field `bakend`"), "{e}");
        assert!(
            e.to_string()
                .starts_with("/cfg/wasmplug.yaml: component \"s\""),
            "{e}"
        );
    }

    #[test]
    fn duplicate_names_and_bad_values_are_rejected() {
        let dup = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n  - name: s\n    type: state\n    wasm: b.wasm\n"
        ))
        .unwrap_err();
        assert!(dup.message.contains("duplicate component name"), "{dup}");
        let bad_type = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: queue\n    wasm: a.wasm\n"
        ))
        .unwrap_err();
        assert_eq!(bad_type.key.as_deref(), Some("type"), "{bad_type}");
        let bad_timeout = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n    limits:\n      callTimeout: soon\n"
        ))
        .unwrap_err();
        assert_eq!(
            bad_timeout.key.as_deref(),
            Some("limits.callTimeout"),
            "{bad_timeout}"
        );
        let bad_name = parse(&format!(
            "{HEAD}components:\n  - name: ../x\n    type: state\n    wasm: a.wasm\n"
        ))
        .unwrap_err();
        assert_eq!(bad_name.key.as_deref(), Some("name"), "{bad_name}");
        let bad_kind =
            parse("apiVersion: wasmplug.dev/v1alpha1\nkind: Component\ncomponents: []\n")
                .unwrap_err();
        assert_eq!(bad_kind.key.as_deref(), Some("kind"), "{bad_kind}");
    }
}
