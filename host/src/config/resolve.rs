//! Turning one raw component into a [`ComponentConfig`]: its `.wasm` path, `metadata` and
//! `limits` here, its `grants` in [`super::grants`]. Rules run in file order (metadata,
//! limits, grants) and the first broken one is the error.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::BlockKind;
use super::error::Invalid;
use super::grants::resolve_grants;
use super::model::{ComponentConfig, DEFAULT_IDLE_TIMEOUT, Limits};
use super::raw::{NameValue, RawComponent, RawLimits};

/// Largest memory limit accepted (4 GiB: a 32-bit guest cannot address more).
const MAX_MEMORY_MIB: u64 = 4096;
/// Longest call timeout accepted.
const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(3600);

/// Resolves one component, relative paths against `base`. The error's key is relative to
/// the component. `stores` are the names of the configured key-value stores.
pub(super) fn resolve_component(
    raw: RawComponent,
    base: &Path,
    stores: &BTreeSet<String>,
) -> Result<ComponentConfig, Invalid> {
    Ok(ComponentConfig {
        wasm: base.join(&raw.wasm),
        metadata: resolve_metadata(raw.metadata)?,
        concurrency: concurrency(raw.concurrency)?,
        limits: resolve_limits(raw.limits, raw.block)?,
        grants: resolve_grants(raw.grants, base, stores)?,
        name: raw.name,
        block: raw.block,
    })
}

/// `metadata`: pairs in file order; a name may appear once. Any string is a name or value.
fn resolve_metadata(pairs: Vec<NameValue>) -> Result<Vec<(String, String)>, Invalid> {
    let mut seen = BTreeSet::new();
    let mut metadata = Vec::with_capacity(pairs.len());
    for (i, NameValue { name, value }) in pairs.into_iter().enumerate() {
        if !seen.insert(name.clone()) {
            return Err(Invalid::new(
                format!("metadata[{i}].name"),
                format!("duplicate metadata name {name:?}"),
            ));
        }
        metadata.push((name, value));
    }
    Ok(metadata)
}

/// `limits`: each one set is checked, each one unset is the default.
fn resolve_limits(raw: RawLimits, block: BlockKind) -> Result<Limits, Invalid> {
    let defaults = Limits::default();
    Ok(Limits {
        memory_bytes: match raw.memory_mib {
            Some(mib) => memory_bytes(mib)?,
            None => defaults.memory_bytes,
        },
        call_timeout: match raw.call_timeout {
            Some(text) => call_timeout(&text)?,
            None => defaults.call_timeout,
        },
        max_instances: match raw.max_instances {
            Some(n) => bounded("limits.maxInstances", n, MAX_INSTANCES)?,
            None => defaults.max_instances,
        },
        idle_timeout: match raw.idle_timeout {
            Some(text) => idle_timeout(&text)?,
            None => match block {
                BlockKind::State | BlockKind::SecretStores => Some(DEFAULT_IDLE_TIMEOUT),
                BlockKind::PubSub | BlockKind::Bindings => None,
            },
        },
    })
}

/// Most instances one pool may hold.
const MAX_CONCURRENCY: u64 = 64;
/// Most Dapr instance names one socket may keep.
const MAX_INSTANCES: u64 = 100_000;

/// `concurrency`: 1 (the default) to [`MAX_CONCURRENCY`].
fn concurrency(n: Option<u64>) -> Result<usize, Invalid> {
    n.map_or(Ok(1), |n| bounded("concurrency", n, MAX_CONCURRENCY))
}

/// A count between 1 and `max`.
fn bounded(key: &str, n: u64, max: u64) -> Result<usize, Invalid> {
    if n == 0 || n > max {
        return Err(Invalid::new(
            key,
            format!("must be between 1 and {max}, got {n}"),
        ));
    }
    usize::try_from(n).map_err(|_| Invalid::new(key, "too large for this platform"))
}

/// `limits.idleTimeout`: a duration of at least a second, or `never` (also `0`).
fn idle_timeout(text: &str) -> Result<Option<Duration>, Invalid> {
    const KEY: &str = "limits.idleTimeout";
    if text == "never" || text == "0" {
        return Ok(None);
    }
    let idle = humantime::parse_duration(text).map_err(|e| {
        Invalid::new(
            KEY,
            format!("{text:?} is not a duration like `10m`, or `never`: {e}"),
        )
    })?;
    if idle < Duration::from_secs(1) {
        return Err(Invalid::new(
            KEY,
            format!("must be at least 1s (or `never`), got {text:?}"),
        ));
    }
    Ok(Some(idle))
}

/// `limits.memoryMiB`: 1 to [`MAX_MEMORY_MIB`], in bytes.
fn memory_bytes(mib: u64) -> Result<usize, Invalid> {
    const KEY: &str = "limits.memoryMiB";
    if mib == 0 || mib > MAX_MEMORY_MIB {
        return Err(Invalid::new(
            KEY,
            format!("must be between 1 and {MAX_MEMORY_MIB}, got {mib}"),
        ));
    }
    usize::try_from(mib << 20).map_err(|_| Invalid::new(KEY, "too large for this platform"))
}

/// `limits.callTimeout`: a humantime duration, not zero and at most an hour.
fn call_timeout(text: &str) -> Result<Duration, Invalid> {
    const KEY: &str = "limits.callTimeout";
    let timeout = humantime::parse_duration(text).map_err(|e| {
        Invalid::new(
            KEY,
            format!("{text:?} is not a duration like `5s` or `250ms`: {e}"),
        )
    })?;
    if timeout.is_zero() || timeout > MAX_CALL_TIMEOUT {
        return Err(Invalid::new(
            KEY,
            format!("must be between 1ms and 1h, got {text:?}"),
        ));
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::{at, component, component_in, entry, error, rejected};

    /// Component `s` with `wasm: <wasm>`, resolved against `/cfg`.
    fn wasm(wasm: &str) -> std::path::PathBuf {
        entry(&format!("name: s\ntype: state\nwasm: {wasm:?}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .wasm
    }

    #[test]
    fn wasm_path_resolves_against_the_config_files_directory() {
        assert_eq!(wasm("a.wasm"), Path::new("/cfg/a.wasm"));
        assert_eq!(wasm("../x/a.wasm"), Path::new("/cfg/../x/a.wasm"));
        assert_eq!(wasm("/abs/a.wasm"), Path::new("/abs/a.wasm"));
        let dir = tempfile::tempdir().unwrap();
        let c = component_in(dir.path(), "").unwrap();
        assert_eq!(c.wasm, dir.path().join("a.wasm"));
    }

    #[test]
    fn wasm_path_is_required_but_not_checked_here() {
        let e = entry("name: s\ntype: state").unwrap_err();
        assert_eq!(e, error(Some("s"), None, "missing field `wasm`"));
        // Today an empty path is accepted as the base directory itself; loading the
        // component, not the config, then fails on it.
        assert_eq!(wasm(""), Path::new("/cfg/"));
    }

    #[test]
    fn metadata_keeps_pairs_in_file_order() {
        let c = component(
            "metadata:\n  - name: b\n    value: two\n  - name: a\n    value: \"1\"\n  - name: \"\"\n    value: \"\"",
        );
        let pairs = [("b", "two"), ("a", "1"), ("", "")].map(|(n, v)| (n.to_owned(), v.to_owned()));
        assert_eq!(c.metadata, pairs);
    }

    #[test]
    fn metadata_name_may_appear_once() {
        assert_eq!(
            rejected(
                "metadata:\n  - name: a\n    value: x\n  - name: b\n    value: y\n  - name: a\n    value: z"
            ),
            at("metadata[2].name", "duplicate metadata name \"a\"")
        );
    }

    #[test]
    fn memory_mib_is_1_to_4096() {
        let bytes = |mib: u64| {
            component(&format!("limits:\n  memoryMiB: {mib}"))
                .limits
                .memory_bytes
        };
        assert_eq!(bytes(1), 1 << 20);
        assert_eq!(bytes(4096), 4096 << 20);
        for mib in [0, 4097] {
            assert_eq!(
                rejected(&format!("limits:\n  memoryMiB: {mib}")),
                at(
                    "limits.memoryMiB",
                    &format!("must be between 1 and 4096, got {mib}")
                )
            );
        }
    }

    #[test]
    fn call_timeout_must_parse_as_a_duration() {
        assert_eq!(
            rejected("limits:\n  callTimeout: soon"),
            at(
                "limits.callTimeout",
                "\"soon\" is not a duration like `5s` or `250ms`: expected number at 0"
            )
        );
        assert_eq!(
            rejected("limits:\n  callTimeout: \"\""),
            at(
                "limits.callTimeout",
                "\"\" is not a duration like `5s` or `250ms`: value was empty"
            )
        );
    }

    #[test]
    fn call_timeout_is_above_zero_and_at_most_an_hour() {
        let timeout = |t: &str| {
            component(&format!("limits:\n  callTimeout: {t}"))
                .limits
                .call_timeout
        };
        assert_eq!(timeout("250ms"), Duration::from_millis(250));
        assert_eq!(timeout("1h"), Duration::from_secs(3600));
        // Below the 1ms the message names, but not zero: accepted today.
        assert_eq!(timeout("500us"), Duration::from_micros(500));
        for t in ["0s", "1h 1s"] {
            assert_eq!(
                rejected(&format!("limits:\n  callTimeout: {t}")),
                at(
                    "limits.callTimeout",
                    &format!("must be between 1ms and 1h, got {t:?}")
                )
            );
        }
    }

    #[test]
    fn concurrency_is_1_to_64_and_defaults_to_1() {
        assert_eq!(component("").concurrency, 1);
        assert_eq!(component("concurrency: 16").concurrency, 16);
        for n in [0, 65] {
            assert_eq!(
                rejected(&format!("concurrency: {n}")),
                at("concurrency", &format!("must be between 1 and 64, got {n}"))
            );
        }
    }

    #[test]
    fn instance_cap_and_idle_timeout_are_checked() {
        let l = component("limits:\n  maxInstances: 5000\n  idleTimeout: 30s").limits;
        assert_eq!(l.max_instances, 5000);
        assert_eq!(l.idle_timeout, Some(Duration::from_secs(30)));
        assert_eq!(
            component("limits:\n  idleTimeout: never")
                .limits
                .idle_timeout,
            None
        );
        // `component` makes a state store: idle instances are dropped after 10 minutes.
        assert_eq!(
            component("").limits.idle_timeout,
            Some(DEFAULT_IDLE_TIMEOUT)
        );
        assert_eq!(
            rejected("limits:\n  maxInstances: 0"),
            at("limits.maxInstances", "must be between 1 and 100000, got 0")
        );
        assert_eq!(
            rejected("limits:\n  idleTimeout: 10ms"),
            at(
                "limits.idleTimeout",
                "must be at least 1s (or `never`), got \"10ms\""
            )
        );
    }

    #[test]
    fn unset_limits_keep_their_defaults() {
        let only_memory = component("limits:\n  memoryMiB: 8").limits;
        assert_eq!(only_memory.call_timeout, Limits::default().call_timeout);
        let only_timeout = component("limits:\n  callTimeout: 1s").limits;
        assert_eq!(only_timeout.memory_bytes, Limits::default().memory_bytes);
    }

    #[test]
    fn first_broken_rule_wins_metadata_then_limits_then_grants() {
        let dup_metadata = "metadata:\n  - name: a\n    value: x\n  - name: a\n    value: y\n";
        let bad_memory = "limits:\n  memoryMiB: 0\n  callTimeout: soon\n";
        let bad_bucket = "grants:\n  keyValue:\n    - bucket: \"\"\n";
        let e = rejected(&format!("{dup_metadata}{bad_memory}{bad_bucket}"));
        assert_eq!(e.key.as_deref(), Some("metadata[1].name"));
        let e = rejected(&format!("{bad_memory}{bad_bucket}"));
        assert_eq!(e.key.as_deref(), Some("limits.memoryMiB"));
        let e = rejected(&format!("limits:\n  callTimeout: soon\n{bad_bucket}"));
        assert_eq!(e.key.as_deref(), Some("limits.callTimeout"));
    }
}
