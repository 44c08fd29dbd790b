//! Bad wasm and bad config give clear errors naming the component and the cause.

use std::process::Command;

use wasmplug::{Error, Host};

use crate::support;

fn entry(name: &str, wasm: &std::path::Path, grants: &str) -> String {
    format!("  - name: {name}\n    type: state\n    wasm: {wasm:?}\n{grants}")
}

fn load_err(components: &str) -> String {
    let cfg = support::config(components);
    match Host::load(&cfg.path) {
        Ok(_) => panic!("config should have been rejected:\n{components}"),
        Err(e) => e.to_string(),
    }
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_wasm_is_rejected_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "text",
            b"hello, not wasm".to_vec(),
            "not a WebAssembly file",
        ),
        (
            "module",
            wat::parse_str("(module)").unwrap(),
            "core WebAssembly module, not a component",
        ),
        (
            "empty-component",
            wat::parse_str("(component)").unwrap(),
            "exports no known building block",
        ),
        (
            "unknown-import",
            wat::parse_str(r#"(component (import "acme:db/query@1.0.0" (instance)))"#).unwrap(),
            "imports `acme:db/query@1.0.0`, which wasmplug does not provide",
        ),
    ];
    for (name, bytes, expected) in cases {
        let wasm = write(dir.path(), &format!("{name}.wasm"), &bytes);
        let e = load_err(&entry(name, &wasm, ""));
        assert!(e.contains(expected), "{name}: {e}");
        assert!(
            e.contains(&format!("component {name:?}")),
            "{name}: error names the component: {e}"
        );
    }
    // A truncated real component.
    let real = std::fs::read(support::guest("state-store")).unwrap();
    let wasm = write(dir.path(), "truncated.wasm", &real[..real.len() / 2]);
    let e = load_err(&entry("truncated", &wasm, ""));
    assert!(e.contains("invalid component"), "{e}");
    // A missing file.
    let e = load_err(&entry("missing", &dir.path().join("nope.wasm"), ""));
    assert!(e.contains("cannot read the .wasm file"), "{e}");
}

#[test]
fn imports_need_grants() {
    let e = load_err(&entry("nokv", &support::guest("state-store"), ""));
    assert!(e.contains("component \"nokv\""), "{e}");
    assert!(e.contains("wasmplug:dapr/keyvalue-"), "{e}");
    assert!(e.contains("grants.keyValue"), "{e}");
}

#[test]
fn bad_config_names_file_component_and_key() {
    let cfg = support::config(&format!(
        "  - name: s\n    type: state\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: state\n          backend: cloud\n",
        support::guest("state-store")
    ));
    match Host::load(&cfg.path) {
        Err(Error::Config(e)) => {
            assert_eq!(e.file, cfg.path);
            assert_eq!(e.component.as_deref(), Some("s"));
            assert_eq!(e.key.as_deref(), Some("grants.keyValue[0].backend"));
            assert!(e.message.contains("unknown variant `cloud`"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let e = load_err(&format!(
        "  - name: s\n    type: state\n    wasm: {:?}\n    grants:\n      dirs:\n        - hostPath: does-not-exist\n          guestPath: /d\n",
        support::guest("state-store")
    ));
    assert!(
        e.contains("grants.dirs[0].hostPath") && e.contains("is not a directory"),
        "{e}"
    );
    let missing = Host::load("/definitely/not/here.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("/definitely/not/here.yaml")
            && missing.contains("cannot read config file"),
        "{missing}"
    );
}

#[tokio::test]
async fn a_bad_component_loses_nothing_already_stored() {
    use wasmplug::blocks::state::*;
    let cfg = support::config(&support::state_store_entry("keep", "durable"));
    {
        let host = support::load(&cfg);
        host.state_store("keep")
            .await
            .unwrap()
            .set(SetRequest::new("k", "v"))
            .await
            .unwrap();
    }
    // The same config plus a broken component: the load fails as a whole...
    let bad = cfg.dir.path().join("bad.wasm");
    std::fs::write(&bad, b"junk").unwrap();
    support::write_config(
        cfg.dir.path(),
        &format!(
            "{}{}",
            support::state_store_entry("keep", "durable"),
            entry("bad", &bad, "")
        ),
    );
    assert!(Host::load(&cfg.path).is_err());
    // ...and once fixed, the data is all there.
    support::write_config(
        cfg.dir.path(),
        &support::state_store_entry("keep", "durable"),
    );
    let host = support::load(&cfg);
    assert_eq!(
        host.state_store("keep")
            .await
            .unwrap()
            .get(GetRequest::new("k"))
            .await
            .unwrap()
            .unwrap()
            .data,
        b"v"
    );
}

#[test]
fn compile_cache_skips_cranelift_on_a_second_start() {
    use wasmplug::runtime::{CacheOutcome, Runtime};
    let cache = tempfile::tempdir().unwrap();
    let path = support::guest("state-store");
    let bytes = std::fs::read(&path).unwrap();
    let first = Runtime::new().unwrap();
    assert_eq!(
        first
            .compile("s", &path, &bytes, Some(cache.path()))
            .unwrap()
            .1,
        CacheOutcome::Compiled
    );
    assert_eq!(
        first
            .compile("s", &path, &bytes, Some(cache.path()))
            .unwrap()
            .1,
        CacheOutcome::Memory
    );
    let second = Runtime::new().unwrap();
    assert_eq!(
        second
            .compile("s", &path, &bytes, Some(cache.path()))
            .unwrap()
            .1,
        CacheOutcome::Disk
    );
    // A corrupt cache entry is ignored and replaced, never trusted.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes.truncate(mid);
        std::fs::write(&path, bytes).unwrap();
    }
    let third = Runtime::new().unwrap();
    assert_eq!(
        third
            .compile("s", &path, &bytes, Some(cache.path()))
            .unwrap()
            .1,
        CacheOutcome::Compiled
    );
    let fourth = Runtime::new().unwrap();
    assert_eq!(
        fourth
            .compile("s", &path, &bytes, Some(cache.path()))
            .unwrap()
            .1,
        CacheOutcome::Disk
    );
}

#[test]
fn check_command_reports_blocks_and_imports() {
    let bin = env!("CARGO_BIN_EXE_wasmplug");
    let out = Command::new(bin)
        .arg("check")
        .arg(support::guest("state-store"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("implements: state (state, wasmplug:dapr/state-store@0.1.0)"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("wasmplug:dapr/keyvalue-store@0.1.0 (host key-value, needs grants.keyValue)"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, expected) in [
        ("junk.wasm", b"junk".to_vec(), "not a WebAssembly file"),
        (
            "empty.wasm",
            wat::parse_str("(component)").unwrap(),
            "exports no known building block",
        ),
    ] {
        let p = write(dir.path(), name, &bytes);
        let out = Command::new(bin).arg("check").arg(&p).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} must fail");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}
