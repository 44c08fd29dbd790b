//! Resolving `keyValueStores`: named stores a `grants.keyValue` entry may choose with
//! `store:`. Today the one type is `redis` (a server, or a Cluster with `cluster: true`).
//! `durable` and `memory` are built in and cannot be redefined.
//!
//! ```yaml
//! keyValueStores:
//!   - name: shared
//!     type: redis
//!     url: redis://127.0.0.1:6379/0    # or urlFromEnv: REDIS_URL
//!     cluster: false                   # true: url lists the seed nodes, comma-separated
//!     timeout: 2s                      # connect and per-operation timeout
//!     connections: 1                   # multiplexed connections (single server)
//!     minReplicas: 0                   # WAIT for this many replicas after each commit
//!     tls:                             # for rediss:// URLs, all optional
//!       caFile: ca.pem
//!       certFile: client.pem
//!       keyFile: client.key
//! ```

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::error::Invalid;
use super::raw::{RawStore, RawTls};
use crate::kv::redis::{RedisConfig, TlsFiles, redact};

/// The names a grant may use without defining them.
pub(super) const BUILT_IN: [&str; 2] = ["durable", "memory"];
/// Most connections one store may open to a single server.
const MAX_CONNECTIONS: usize = 64;
/// Longest store timeout accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// Every store, in file order; keys are relative to the file.
pub(super) fn resolve_stores(
    raw: Vec<RawStore>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<RedisConfig>, Invalid> {
    let mut names = BTreeSet::new();
    let mut stores = Vec::with_capacity(raw.len());
    for (i, s) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("keyValueStores[{i}].{key}");
        if s.name.is_empty() {
            return Err(Invalid::new(at("name"), "must not be empty"));
        }
        if BUILT_IN.contains(&s.name.as_str()) {
            return Err(Invalid::new(
                at("name"),
                format!("{:?} is a built-in store and cannot be redefined", s.name),
            ));
        }
        if !names.insert(s.name.clone()) {
            return Err(Invalid::new(
                at("name"),
                format!("store {:?} defined twice", s.name),
            ));
        }
        stores.push(store(s, &at, base, env)?);
    }
    Ok(stores)
}

fn store(
    s: RawStore,
    at: &dyn Fn(&str) -> String,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RedisConfig, Invalid> {
    let (text, key) = match (s.url, s.url_from_env) {
        (Some(url), None) => (url, at("url")),
        (None, Some(var)) => match env(&var) {
            Some(url) if !url.is_empty() => (url, at("urlFromEnv")),
            _ => {
                return Err(Invalid::new(
                    at("urlFromEnv"),
                    format!("environment variable {var:?} is not set (or empty)"),
                ));
            }
        },
        (Some(_), Some(_)) => {
            return Err(Invalid::new(at("url"), "set url or urlFromEnv, not both"));
        }
        (None, None) => {
            return Err(Invalid::new(at("url"), "missing: set url or urlFromEnv"));
        }
    };
    let urls = urls(&text, s.cluster).map_err(|m| Invalid::new(key, m))?;
    let mut config = RedisConfig::new(s.name, urls);
    config.cluster = s.cluster;
    if let Some(t) = s.timeout {
        config.timeout = timeout(&t).map_err(|m| Invalid::new(at("timeout"), m))?;
    }
    if let Some(n) = s.connections {
        if n == 0 || n > MAX_CONNECTIONS {
            return Err(Invalid::new(
                at("connections"),
                format!("must be between 1 and {MAX_CONNECTIONS}, got {n}"),
            ));
        }
        config.connections = n;
    }
    config.min_replicas = s.min_replicas.unwrap_or(0);
    if let Some(tls) = s.tls {
        config.tls = Some(tls_files(tls, at, base)?);
    }
    Ok(config)
}

/// The URL, or with `cluster` the comma-separated seed nodes; each must parse as a Redis
/// URL. Messages show URLs with their password redacted.
fn urls(text: &str, cluster: bool) -> Result<Vec<String>, String> {
    let urls: Vec<String> = if cluster {
        text.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        vec![text.trim().to_owned()]
    };
    if urls.is_empty() {
        return Err("no seed node URL given".into());
    }
    if !cluster && text.contains(',') {
        return Err(format!(
            "{} lists several servers; set cluster: true for a Redis Cluster",
            redact(text)
        ));
    }
    for url in &urls {
        if let Err(e) = redis::IntoConnectionInfo::into_connection_info(url.as_str()) {
            return Err(format!(
                "{} is not a Redis URL like redis://[user:password@]host[:port][/db] or rediss://…: {}",
                redact(url),
                e.detail().unwrap_or("it does not parse")
            ));
        }
    }
    Ok(urls)
}

fn timeout(text: &str) -> Result<Duration, String> {
    let t = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like `2s` or `500ms`: {e}"))?;
    if t.is_zero() || t > MAX_TIMEOUT {
        return Err(format!("must be between 1ms and 10m, got {text:?}"));
    }
    Ok(t)
}

fn tls_files(tls: RawTls, at: &dyn Fn(&str) -> String, base: &Path) -> Result<TlsFiles, Invalid> {
    let read = |key: &str, path: &Path| {
        let path = base.join(path);
        std::fs::read(&path).map_err(|e| {
            Invalid::new(
                at(&format!("tls.{key}")),
                format!("cannot read {}: {e}", path.display()),
            )
        })
    };
    let ca = tls.ca_file.map(|p| read("caFile", &p)).transpose()?;
    let client = match (tls.cert_file, tls.key_file) {
        (Some(cert), Some(key)) => Some((read("certFile", &cert)?, read("keyFile", &key)?)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(Invalid::new(at("tls.keyFile"), "certFile needs a keyFile"));
        }
        (None, Some(_)) => {
            return Err(Invalid::new(at("tls.certFile"), "keyFile needs a certFile"));
        }
    };
    Ok(TlsFiles { ca, client })
}

#[cfg(test)]
mod tests {
    use crate::config::test_util::{HEAD, error, file_error, parse_with_env};
    use std::time::Duration;

    fn with_stores(stores: &str, grant: &str) -> String {
        format!(
            "{HEAD}keyValueStores:\n{stores}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n    grants:\n      keyValue:\n        - bucket: b\n{grant}"
        )
    }

    const SHARED: &str =
        "  - name: shared\n    type: redis\n    url: redis://:pw@127.0.0.1:6390/2\n";

    #[test]
    fn a_grant_chooses_a_named_store() {
        let text = with_stores(SHARED, "          store: shared\n");
        let c = parse_with_env(&text, &|_| None).unwrap();
        let store = &c.key_value_stores[0];
        assert_eq!(store.name, "shared");
        assert_eq!(store.urls, ["redis://:pw@127.0.0.1:6390/2"]);
        assert_eq!(store.timeout, Duration::from_secs(2));
        assert_eq!(store.connections, 1);
        assert_eq!(
            c.components[0].grants.key_value[0].backend,
            crate::kv::Backend::Redis("shared".into())
        );
    }

    #[test]
    fn settings_are_read_and_checked() {
        let stores = "  - name: shared\n    type: redis\n    urlFromEnv: MY_REDIS\n    timeout: 750ms\n    connections: 4\n    minReplicas: 1\n";
        let text = with_stores(stores, "          store: shared\n");
        let env = |v: &str| (v == "MY_REDIS").then(|| "redis://10.0.0.1:7000".to_owned());
        let c = parse_with_env(&text, &env).unwrap();
        let s = &c.key_value_stores[0];
        assert_eq!(
            (s.timeout, s.connections, s.min_replicas),
            (Duration::from_millis(750), 4, 1)
        );
        assert_eq!(s.urls, ["redis://10.0.0.1:7000"]);
        let cluster =
            "  - name: c\n    type: redis\n    cluster: true\n    url: redis://a:1, redis://b:2\n";
        let c = parse_with_env(&with_stores(cluster, "          store: c\n"), &|_| None).unwrap();
        assert_eq!(c.key_value_stores[0].urls, ["redis://a:1", "redis://b:2"]);
    }

    #[test]
    fn broken_stores_are_named_and_never_show_the_password() {
        let cases = [
            (
                "  - name: shared\n    type: redis\n    urlFromEnv: NOPE\n",
                "keyValueStores[0].urlFromEnv",
                "environment variable \"NOPE\" is not set (or empty)",
            ),
            (
                "  - name: shared\n    type: redis\n",
                "keyValueStores[0].url",
                "missing: set url or urlFromEnv",
            ),
            (
                "  - name: memory\n    type: redis\n    url: redis://h\n",
                "keyValueStores[0].name",
                "\"memory\" is a built-in store and cannot be redefined",
            ),
            (
                "  - name: shared\n    type: redis\n    url: redis://h\n    connections: 0\n",
                "keyValueStores[0].connections",
                "must be between 1 and 64, got 0",
            ),
            (
                "  - name: shared\n    type: redis\n    url: redis://h,redis://i\n",
                "keyValueStores[0].url",
                "redis://h,redis://i lists several servers; set cluster: true for a Redis Cluster",
            ),
        ];
        for (stores, key, message) in cases {
            let e = file_error(&with_stores(stores, "          store: shared\n"));
            assert_eq!(e, error(None, Some(key), message), "{stores}");
        }
        let bad = "  - name: shared\n    type: redis\n    url: \"http://:hunter2@h:1\"\n";
        let e = file_error(&with_stores(bad, "          store: shared\n"));
        assert_eq!(e.key.as_deref(), Some("keyValueStores[0].url"));
        assert!(
            e.message.contains("http://:***@h:1 is not a Redis URL"),
            "{e}"
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = file_error(&with_stores(
            "  - name: shared\n    type: memcached\n    url: redis://h\n",
            "",
        ));
        assert_eq!(e.key.as_deref(), Some("keyValueStores[0].type"), "{e}");
    }

    #[test]
    fn a_grant_naming_an_unknown_store_is_an_error_in_its_component() {
        let e = file_error(&with_stores(SHARED, "          store: elsewhere\n"));
        assert_eq!(
            e,
            error(
                Some("s"),
                Some("grants.keyValue[0].store"),
                "no key-value store \"elsewhere\": define it under keyValueStores, or use durable or memory"
            )
        );
        let e = file_error(&with_stores(
            SHARED,
            "          store: shared\n          backend: memory\n",
        ));
        assert_eq!(
            e,
            error(
                Some("s"),
                Some("grants.keyValue[0].store"),
                "set store or backend, not both"
            )
        );
    }
}
