//! Resolving `grants`: each kind is a list checked entry by entry, in the order key-value,
//! dirs, env, tcp; the first broken rule is the error. Nothing is granted twice.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::error::Invalid;
use super::model::{DirGrant, Grants, KeyValueGrant, TcpGrant};
use super::raw::{NameValue, RawBackend, RawDir, RawGrants, RawKv};
use crate::kv::Backend;

/// Resolves every grant of one component, host paths against `base`; `stores` are the
/// names of the configured key-value stores.
pub(super) fn resolve_grants(
    raw: RawGrants,
    base: &Path,
    stores: &BTreeSet<String>,
) -> Result<Grants, Invalid> {
    Ok(Grants {
        key_value: key_value(raw.key_value, stores)?,
        dirs: dirs(raw.dirs, base)?,
        env: env(raw.env)?,
        tcp: tcp(raw.tcp)?,
    })
}

/// `grants.keyValue`: a non-empty bucket name, each granted once whatever its store, and
/// a store that is built in or configured.
fn key_value(raw: Vec<RawKv>, stores: &BTreeSet<String>) -> Result<Vec<KeyValueGrant>, Invalid> {
    let mut buckets = BTreeSet::new();
    let mut grants = Vec::with_capacity(raw.len());
    for (i, raw) in raw.into_iter().enumerate() {
        let backend = kv_backend(i, &raw, stores)?;
        let bucket = raw.bucket;
        let key = format!("grants.keyValue[{i}].bucket");
        if bucket.is_empty() {
            return Err(Invalid::new(key, "must not be empty"));
        }
        if !buckets.insert(bucket.clone()) {
            return Err(Invalid::new(
                key,
                format!("bucket {bucket:?} granted twice"),
            ));
        }
        grants.push(KeyValueGrant { bucket, backend });
    }
    Ok(grants)
}

/// Where entry `i` of `grants.keyValue` keeps its data.
fn kv_backend(i: usize, raw: &RawKv, stores: &BTreeSet<String>) -> Result<Backend, Invalid> {
    let key = || format!("grants.keyValue[{i}].store");
    match (&raw.store, raw.backend) {
        (Some(_), Some(_)) => Err(Invalid::new(key(), "set store or backend, not both")),
        (None, Some(RawBackend::Memory)) => Ok(Backend::Memory),
        (None, Some(RawBackend::Durable) | None) => Ok(Backend::Durable),
        (Some(name), None) => match name.as_str() {
            "durable" => Ok(Backend::Durable),
            "memory" => Ok(Backend::Memory),
            _ if stores.contains(name) => Ok(Backend::Redis(name.clone())),
            _ => Err(Invalid::new(
                key(),
                format!(
                    "no key-value store {name:?}: define it under keyValueStores, or use durable or memory"
                ),
            )),
        },
    }
}

/// `grants.dirs`: see [`dir`]; each guest path granted once.
fn dirs(raw: Vec<RawDir>, base: &Path) -> Result<Vec<DirGrant>, Invalid> {
    let mut guest_paths = BTreeSet::new();
    let mut grants = Vec::with_capacity(raw.len());
    for (i, d) in raw.into_iter().enumerate() {
        let grant = dir(i, d, base)?;
        if !guest_paths.insert(grant.guest_path.clone()) {
            return Err(Invalid::new(
                format!("grants.dirs[{i}].guestPath"),
                format!("{:?} granted twice", grant.guest_path),
            ));
        }
        grants.push(grant);
    }
    Ok(grants)
}

/// Entry `i` of `grants.dirs`: the host path (against `base`) must be an existing
/// directory now, and the guest path must not be empty.
fn dir(i: usize, raw: RawDir, base: &Path) -> Result<DirGrant, Invalid> {
    let host_path = base.join(&raw.host_path);
    if !host_path.is_dir() {
        return Err(Invalid::new(
            format!("grants.dirs[{i}].hostPath"),
            format!("{} is not a directory", host_path.display()),
        ));
    }
    if raw.guest_path.is_empty() {
        return Err(Invalid::new(
            format!("grants.dirs[{i}].guestPath"),
            "must not be empty",
        ));
    }
    Ok(DirGrant {
        host_path,
        guest_path: raw.guest_path,
        read_only: raw.read_only,
    })
}

/// `grants.env`: a name that is not empty and has no `=`, each granted once; any value.
fn env(raw: Vec<NameValue>) -> Result<Vec<(String, String)>, Invalid> {
    let mut names = BTreeSet::new();
    let mut vars = Vec::with_capacity(raw.len());
    for (i, NameValue { name, value }) in raw.into_iter().enumerate() {
        let key = format!("grants.env[{i}].name");
        if name.is_empty() || name.contains('=') {
            return Err(Invalid::new(
                key,
                format!("{name:?} is not a valid variable name"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(Invalid::new(key, format!("{name:?} granted twice")));
        }
        vars.push((name, value));
    }
    Ok(vars)
}

/// `grants.tcp`: see [`tcp_peer`]. The same peer may be listed twice.
fn tcp(raw: Vec<String>) -> Result<Vec<TcpGrant>, Invalid> {
    raw.into_iter()
        .enumerate()
        .map(|(i, peer)| tcp_peer(i, peer))
        .collect()
}

/// Entry `i` of `grants.tcp`: `host:port`, where host is an IP address (IPv6 in brackets)
/// or a DNS host name. A name is not resolved here: the sandbox resolves it each time the
/// guest connects (a Kubernetes Service may not exist yet, or move), see `runtime::network`.
fn tcp_peer(i: usize, peer: String) -> Result<TcpGrant, Invalid> {
    let key = format!("grants.tcp[{i}]");
    let bad = |why: &str| Invalid::new(key.as_str(), format!("{peer:?} is not a host:port: {why}"));
    let Some((host, port)) = peer.rsplit_once(':') else {
        return Err(bad("no port"));
    };
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => return Err(bad("the port must be a number from 1 to 65535")),
    };
    let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address in brackets"))?
            .to_string()
    } else if host.parse::<Ipv4Addr>().is_ok() {
        host.to_owned()
    } else if is_host_name(host) {
        host.to_ascii_lowercase()
    } else {
        return Err(bad(
            "the host must be an IP address or a DNS name (letters, digits, '-', '.')",
        ));
    };
    Ok(TcpGrant { peer, host, port })
}

/// A DNS host name: dot-separated labels of 1-63 letters, digits and '-', not starting or
/// ending with '-', at most 253 characters.
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::{at, component, component_in, rejected};
    use crate::kv::Backend;

    /// A directory with a subdirectory `sub` and a file `file`, as the config's base.
    fn base() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        dir
    }

    #[test]
    fn key_value_grants_keep_order_and_backend() {
        let c = component(
            "grants:\n  keyValue:\n    - bucket: b\n      backend: memory\n    - bucket: a",
        );
        let expected =
            [("b", Backend::Memory), ("a", Backend::Durable)].map(|(bucket, backend)| {
                KeyValueGrant {
                    bucket: bucket.into(),
                    backend,
                }
            });
        assert_eq!(c.grants.key_value, expected);
    }

    #[test]
    fn bucket_must_not_be_empty() {
        assert_eq!(
            rejected("grants:\n  keyValue:\n    - bucket: \"\""),
            at("grants.keyValue[0].bucket", "must not be empty")
        );
    }

    #[test]
    fn bucket_is_granted_once_whatever_the_backend() {
        assert_eq!(
            rejected(
                "grants:\n  keyValue:\n    - bucket: b\n    - bucket: b\n      backend: memory"
            ),
            at("grants.keyValue[1].bucket", "bucket \"b\" granted twice")
        );
    }

    #[test]
    fn dir_host_path_resolves_against_the_base() {
        let dir = base();
        let abs = dir.path().join("sub");
        let body = format!(
            "grants:\n  dirs:\n    - hostPath: sub\n      guestPath: /rel\n      readOnly: true\n    - hostPath: {abs:?}\n      guestPath: /abs"
        );
        let c = component_in(dir.path(), &body).unwrap();
        let expected = [("/rel", true), ("/abs", false)].map(|(guest, read_only)| DirGrant {
            host_path: abs.clone(),
            guest_path: guest.into(),
            read_only,
        });
        assert_eq!(c.grants.dirs, expected);
    }

    #[test]
    fn dir_host_path_must_be_an_existing_directory() {
        let dir = base();
        for host in ["nope", "file"] {
            let body = format!("grants:\n  dirs:\n    - hostPath: {host}\n      guestPath: /d");
            let e = component_in(dir.path(), &body).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("grants.dirs[0].hostPath"));
            assert_eq!(
                e.message,
                format!("{} is not a directory", dir.path().join(host).display())
            );
        }
    }

    #[test]
    fn dir_guest_path_must_not_be_empty_and_is_checked_after_the_host_path() {
        let dir = base();
        let e = component_in(
            dir.path(),
            "grants:\n  dirs:\n    - hostPath: sub\n      guestPath: \"\"",
        )
        .unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.message.as_str()),
            (Some("grants.dirs[0].guestPath"), "must not be empty")
        );
        let e = component_in(
            dir.path(),
            "grants:\n  dirs:\n    - hostPath: nope\n      guestPath: \"\"",
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("grants.dirs[0].hostPath"));
    }

    #[test]
    fn dir_guest_path_is_granted_once() {
        let dir = base();
        let e = component_in(
            dir.path(),
            "grants:\n  dirs:\n    - hostPath: sub\n      guestPath: /d\n    - hostPath: .\n      guestPath: /d",
        )
        .unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.message.as_str()),
            (Some("grants.dirs[1].guestPath"), "\"/d\" granted twice")
        );
    }

    #[test]
    fn env_keeps_pairs_in_order_and_any_value() {
        let c = component(
            "grants:\n  env:\n    - name: B\n      value: \"1\"\n    - name: A\n      value: \"\"",
        );
        let expected = [("B", "1"), ("A", "")].map(|(n, v)| (n.to_owned(), v.to_owned()));
        assert_eq!(c.grants.env, expected);
    }

    #[test]
    fn env_name_is_not_empty_and_has_no_equals_sign() {
        for name in ["", "A=B"] {
            assert_eq!(
                rejected(&format!(
                    "grants:\n  env:\n    - name: {name:?}\n      value: x"
                )),
                at(
                    "grants.env[0].name",
                    &format!("{name:?} is not a valid variable name")
                )
            );
        }
    }

    #[test]
    fn env_name_is_granted_once() {
        assert_eq!(
            rejected(
                "grants:\n  env:\n    - name: A\n      value: x\n    - name: A\n      value: y"
            ),
            at("grants.env[1].name", "\"A\" granted twice")
        );
    }

    /// The (host, port) `peer` is granted as.
    fn tcp_grant(peer: &str) -> (String, u16) {
        let c = component(&format!("grants:\n  tcp:\n    - {peer:?}"));
        assert_eq!(c.grants.tcp.len(), 1);
        assert_eq!(c.grants.tcp[0].peer, peer);
        (c.grants.tcp[0].host.clone(), c.grants.tcp[0].port)
    }

    #[test]
    fn tcp_ip_and_port_is_its_own_address() {
        assert_eq!(tcp_grant("127.0.0.1:6379"), ("127.0.0.1".into(), 6379));
        assert_eq!(tcp_grant("[::1]:80"), ("::1".into(), 80));
    }

    #[test]
    fn tcp_host_name_is_kept_for_the_sandbox_to_resolve_on_connect() {
        // Not resolved at load: a name that does not resolve yet is still a valid grant.
        assert_eq!(
            tcp_grant("Redis-Master.default.svc.cluster.local:6379"),
            ("redis-master.default.svc.cluster.local".into(), 6379)
        );
        assert_eq!(
            tcp_grant("no-such-host.invalid:80"),
            ("no-such-host.invalid".into(), 80)
        );
    }

    #[test]
    fn tcp_peer_must_be_host_colon_port() {
        let cases = [
            ("nohost", "no port"),
            ("", "no port"),
            (
                "127.0.0.1:99999",
                "the port must be a number from 1 to 65535",
            ),
            ("127.0.0.1:abc", "the port must be a number from 1 to 65535"),
            ("127.0.0.1:0", "the port must be a number from 1 to 65535"),
            (
                "[::1:80",
                "the host must be an IP address or a DNS name (letters, digits, '-', '.')",
            ),
            ("[zz]:80", "not an IPv6 address in brackets"),
            (
                "a_b:80",
                "the host must be an IP address or a DNS name (letters, digits, '-', '.')",
            ),
            (
                "-a.b:80",
                "the host must be an IP address or a DNS name (letters, digits, '-', '.')",
            ),
            (
                ":80",
                "the host must be an IP address or a DNS name (letters, digits, '-', '.')",
            ),
        ];
        for (peer, why) in cases {
            assert_eq!(
                rejected(&format!("grants:\n  tcp:\n    - {peer:?}")),
                at(
                    "grants.tcp[0]",
                    &format!("{peer:?} is not a host:port: {why}")
                ),
                "{peer}"
            );
        }
    }

    #[test]
    fn tcp_peer_may_be_listed_twice() {
        let c = component("grants:\n  tcp:\n    - 127.0.0.1:80\n    - 127.0.0.1:80");
        assert_eq!(c.grants.tcp.len(), 2);
    }

    #[test]
    fn first_broken_grant_wins_key_value_then_dirs_then_env_then_tcp() {
        let kv = "  keyValue:\n    - bucket: \"\"\n";
        let dirs = "  dirs:\n    - hostPath: /nonexistent-wasmplug-dir\n      guestPath: /d\n";
        let env = "  env:\n    - name: \"\"\n      value: x\n";
        let tcp = "  tcp:\n    - nohost\n";
        let key = |grants: &str| rejected(&format!("grants:\n{grants}")).key;
        assert_eq!(
            key(&format!("{tcp}{env}{dirs}{kv}")).as_deref(),
            Some("grants.keyValue[0].bucket")
        );
        assert_eq!(
            key(&format!("{tcp}{env}{dirs}")).as_deref(),
            Some("grants.dirs[0].hostPath")
        );
        assert_eq!(
            key(&format!("{tcp}{env}")).as_deref(),
            Some("grants.env[0].name")
        );
        assert_eq!(key(tcp).as_deref(), Some("grants.tcp[0]"));
    }
}
