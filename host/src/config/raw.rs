//! The file as written: serde shapes mirroring the YAML key for key. Every struct denies
//! unknown fields, so a misspelt key is an error naming it rather than a silently ignored
//! setting. Values are checked and made absolute later, in [`super::resolve`].

use std::path::PathBuf;

use serde::Deserialize;

use super::BlockKind;

/// The whole file. Components stay untyped here so each can be read on its own, with
/// errors naming it (see [`super::load`]).
///
/// The name shows in one error (`invalid type: sequence, expected struct RawFile`), so a
/// rename changes that text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawFile {
    pub(super) api_version: String,
    pub(super) kind: String,
    #[serde(default)]
    pub(super) data_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) cache_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) key_value_stores: Vec<RawStore>,
    #[serde(default)]
    pub(super) components: Vec<serde_norway::Value>,
}

/// One `keyValueStores` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawStore {
    pub(super) name: String,
    #[serde(rename = "type")]
    #[expect(
        dead_code,
        reason = "one store type today; parsing it refuses any other"
    )]
    pub(super) kind: RawStoreType,
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) url_from_env: Option<String>,
    #[serde(default)]
    pub(super) cluster: bool,
    #[serde(default)]
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) connections: Option<usize>,
    #[serde(default)]
    pub(super) min_replicas: Option<u32>,
    #[serde(default)]
    pub(super) tls: Option<RawTls>,
}

/// The `type` of a store.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawStoreType {
    Redis,
}

/// `keyValueStores[].tls`: PEM files, relative to the config file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawTls {
    #[serde(default)]
    pub(super) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) cert_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) key_file: Option<PathBuf>,
}

/// One entry of `components`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawComponent {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) block: BlockKind,
    pub(super) wasm: PathBuf,
    #[serde(default)]
    pub(super) metadata: Vec<NameValue>,
    #[serde(default)]
    pub(super) concurrency: Option<u64>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) grants: RawGrants,
}

/// A `name`/`value` pair: a metadata item or an environment variable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NameValue {
    pub(super) name: String,
    pub(super) value: String,
}

/// `limits`: each unset one takes its default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawLimits {
    #[serde(rename = "memoryMiB")]
    pub(super) memory_mib: Option<u64>,
    pub(super) call_timeout: Option<String>,
    pub(super) max_instances: Option<u64>,
    pub(super) idle_timeout: Option<String>,
}

/// `grants`: each list defaults to empty (nothing granted).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawGrants {
    #[serde(default)]
    pub(super) key_value: Vec<RawKv>,
    #[serde(default)]
    pub(super) dirs: Vec<RawDir>,
    #[serde(default)]
    pub(super) env: Vec<NameValue>,
    #[serde(default)]
    pub(super) tcp: Vec<String>,
}

/// One `grants.keyValue` entry: `store` names a built-in or configured store; `backend`
/// (the older key) a built-in one. Neither: durable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawKv {
    pub(super) bucket: String,
    #[serde(default)]
    pub(super) backend: Option<RawBackend>,
    #[serde(default)]
    pub(super) store: Option<String>,
}

/// The built-in stores, as `backend:` names them.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawBackend {
    Durable,
    Memory,
}

/// One `grants.dirs` entry; read-write unless `readOnly`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawDir {
    pub(super) host_path: PathBuf,
    pub(super) guest_path: String,
    #[serde(default)]
    pub(super) read_only: bool,
}

#[cfg(test)]
mod tests {
    use crate::config::test_util::{
        HEAD, at, component, entry, entry_error, error, file_error, rejected,
    };
    use crate::kv::Backend;

    #[test]
    fn unknown_file_key_is_named() {
        let e = file_error(&format!(
            "{HEAD}bogus: 1\ncomponents:\n  - name: s\n    type: state\n    wasm: a.wasm\n"
        ));
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: key `bogus`: unknown field `bogus`, expected one of `apiVersion`, `kind`, `dataDir`, `cacheDir`, `keyValueStores`, `components` at line 3 column 1"
        );
    }

    #[test]
    fn unknown_component_key_is_named() {
        assert_eq!(
            rejected("extra: 1"),
            at(
                "extra",
                "unknown field `extra`, expected one of `name`, `type`, `wasm`, `metadata`, `concurrency`, `limits`, `grants`"
            )
        );
    }

    #[test]
    fn unknown_nested_keys_are_named_by_their_path() {
        let cases = [
            (
                "metadata:\n  - name: a\n    value: x\n    other: y",
                "metadata[0].other",
                "unknown field `other`, expected `name` or `value`",
            ),
            (
                "limits:\n  memoryMib: 4",
                "limits.memoryMib",
                "unknown field `memoryMib`, expected one of `memoryMiB`, `callTimeout`, `maxInstances`, `idleTimeout`",
            ),
            (
                "grants:\n  files: []",
                "grants.files",
                "unknown field `files`, expected one of `keyValue`, `dirs`, `env`, `tcp`",
            ),
            (
                "grants:\n  keyValue:\n    - bucket: b\n      bakend: memory",
                "grants.keyValue[0].bakend",
                "unknown field `bakend`, expected one of `bucket`, `backend`, `store`",
            ),
        ];
        for (body, key, message) in cases {
            assert_eq!(rejected(body), at(key, message), "{body}");
        }
    }

    #[test]
    fn missing_file_fields_name_no_key() {
        let e = file_error("kind: Components\ncomponents: []\n");
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: missing field `apiVersion`"
        );
        let e = file_error("apiVersion: wasmplug.dev/v1alpha1\ncomponents: []\n");
        assert_eq!(e.to_string(), "/cfg/wasmplug.yaml: missing field `kind`");
        let e = file_error("");
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: missing field `apiVersion`"
        );
    }

    #[test]
    fn missing_component_fields_name_the_enclosing_key() {
        let missing_type = entry_error("name: s\nwasm: a.wasm");
        assert_eq!(missing_type, error(Some("s"), None, "missing field `type`"));
        let missing_wasm = entry_error("name: s\ntype: state");
        assert_eq!(missing_wasm, error(Some("s"), None, "missing field `wasm`"));
        let cases = [
            (
                "metadata:\n  - name: a",
                "metadata[0]",
                "missing field `value`",
            ),
            (
                "grants:\n  keyValue:\n    - backend: memory",
                "grants.keyValue[0]",
                "missing field `bucket`",
            ),
            (
                "grants:\n  dirs:\n    - guestPath: /data",
                "grants.dirs[0]",
                "missing field `hostPath`",
            ),
            (
                "grants:\n  dirs:\n    - hostPath: /tmp",
                "grants.dirs[0]",
                "missing field `guestPath`",
            ),
            (
                "grants:\n  env:\n    - name: A",
                "grants.env[0]",
                "missing field `value`",
            ),
        ];
        for (body, key, message) in cases {
            assert_eq!(rejected(body), at(key, message), "{body}");
        }
    }

    #[test]
    fn values_of_the_wrong_shape_are_named() {
        let cases = [
            (
                "metadata: {}",
                "metadata",
                "invalid type: map, expected a sequence",
            ),
            (
                "metadata:\n  - name: a\n    value: 5",
                "metadata[0].value",
                "invalid type: integer `5`, expected a string",
            ),
            (
                "limits:\n  memoryMiB: -1",
                "limits.memoryMiB",
                "invalid value: integer `-1`, expected u64",
            ),
            (
                "limits:\n  memoryMiB: abc",
                "limits.memoryMiB",
                "invalid type: string \"abc\", expected u64",
            ),
            (
                "limits:\n  callTimeout: 5",
                "limits.callTimeout",
                "invalid type: integer `5`, expected a string",
            ),
            (
                "grants:\n  dirs:\n    - hostPath: /tmp\n      guestPath: /d\n      readOnly: yes",
                "grants.dirs[0].readOnly",
                "invalid type: string \"yes\", expected a boolean",
            ),
            (
                "grants:\n  tcp: 127.0.0.1:80",
                "grants.tcp",
                "invalid type: string \"127.0.0.1:80\", expected a sequence",
            ),
        ];
        for (body, key, message) in cases {
            assert_eq!(rejected(body), at(key, message), "{body}");
        }
    }

    #[test]
    fn type_is_one_of_the_four_lowercase_blocks() {
        for (t, kind) in [
            ("state", crate::BlockKind::State),
            ("pubsub", crate::BlockKind::PubSub),
            ("bindings", crate::BlockKind::Bindings),
            ("secretstores", crate::BlockKind::SecretStores),
        ] {
            assert_eq!(
                entry_block(&format!("name: s\ntype: {t}\nwasm: a.wasm")),
                kind
            );
        }
        let expected = "expected one of `state`, `pubsub`, `bindings`, `secretstores`";
        for t in ["queue", "State"] {
            assert_eq!(
                entry_error(&format!("name: s\ntype: {t}\nwasm: a.wasm")),
                at("type", &format!("unknown variant `{t}`, {expected}"))
            );
        }
    }

    fn entry_block(text: &str) -> crate::BlockKind {
        entry(text).unwrap_or_else(|e| panic!("{e}")).block
    }

    #[test]
    fn optional_sections_default_to_nothing() {
        let c = component("metadata: []\nlimits: {}\ngrants: {}");
        assert!(c.metadata.is_empty());
        // A state store: idle instances are dropped after the default idle timeout.
        let idle = Some(crate::config::model::DEFAULT_IDLE_TIMEOUT);
        assert_eq!(
            c.limits,
            crate::config::Limits {
                idle_timeout: idle,
                ..crate::config::Limits::default()
            }
        );
        assert_eq!(c.grants, crate::config::Grants::default());
    }

    #[test]
    fn key_value_backend_defaults_to_durable() {
        let c = component(
            "grants:\n  keyValue:\n    - bucket: a\n    - bucket: b\n      backend: memory\n    - bucket: c\n      backend: durable",
        );
        let backends: Vec<_> = c
            .grants
            .key_value
            .iter()
            .map(|g| g.backend.clone())
            .collect();
        assert_eq!(
            backends,
            [Backend::Durable, Backend::Memory, Backend::Durable]
        );
        assert_eq!(
            rejected("grants:\n  keyValue:\n    - bucket: b\n      backend: cloud"),
            at(
                "grants.keyValue[0].backend",
                "unknown variant `cloud`, expected `durable` or `memory`"
            )
        );
    }

    #[test]
    fn dirs_are_read_write_unless_read_only() {
        let c = component(
            "grants:\n  dirs:\n    - hostPath: /\n      guestPath: /a\n    - hostPath: /\n      guestPath: /b\n      readOnly: true",
        );
        let read_only: Vec<_> = c.grants.dirs.iter().map(|d| d.read_only).collect();
        assert_eq!(read_only, [false, true]);
    }
}
