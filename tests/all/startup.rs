//! Ready before daprd looks (dapr/dapr#6180: daprd lists its sockets folder once, at its
//! start): `wasmplug serve` binds every socket and answers reflection before it compiles
//! anything, and block calls that arrive while the components load wait for them.

use std::process::{Command, Stdio};
use std::time::Duration;

use wasmplug::blocks::state::{GetRequest, GrpcStateStore, Metadata, SetRequest, StateStore};

use crate::output_binding::reflected_services;
use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_started_with_the_server_finds_every_component() {
    // A cold compile cache of its own: compiling the Python store takes seconds, far longer
    // than the moment daprd waits before it lists the folder.
    let dir = tempfile::tempdir().unwrap();
    let components = format!(
        "{}  - name: py\n    type: state\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: state\n          backend: memory\n  - name: events\n    type: pubsub\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: pubsub\n          backend: memory\n  - name: upper\n    type: bindings\n    wasm: {:?}\n",
        support::state_store_entry("rust", "memory"),
        support::guest("py-state-store"),
        support::guest("pubsub-kv"),
        support::guest("c-upper"),
    );
    let config = dir.path().join("wasmplug.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ndataDir: data\ncacheDir: {:?}\ncomponents:\n{components}",
            dir.path().join("cold-cache")
        ),
    )
    .unwrap();
    let folder = dir.path().join("sockets");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
        .arg("serve")
        .arg(&config)
        .arg("--sockets-folder")
        .arg(&folder)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // daprd's own start-up before it lists the folder, shortened: it is longer in reality.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut found: Vec<String> = std::fs::read_dir(&folder)
        .expect("the sockets folder exists when daprd looks")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".sock")
                .map(str::to_owned)
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        ["events", "py", "rust", "upper"],
        "listed once, at start"
    );

    // Reflection answers at once, with exactly the right services, before anything compiled.
    let state = "dapr.proto.components.v1.StateStore";
    for (name, service) in [
        ("rust", state),
        ("py", state),
        ("events", "dapr.proto.components.v1.PubSub"),
        ("upper", "dapr.proto.components.v1.OutputBinding"),
    ] {
        let services = reflected_services(&folder.join(format!("{name}.sock"))).await;
        assert!(
            services.iter().any(|s| s == service),
            "{name}: {services:?}"
        );
        assert!(
            !services.iter().any(|s| s.contains("InputBinding")),
            "{name}: only what the component exports: {services:?}"
        );
    }

    // Calls made now wait for their component instead of failing.
    for name in ["rust", "py"] {
        let store = GrpcStateStore::connect(&folder.join(format!("{name}.sock")), "app")
            .await
            .unwrap();
        store.init(Metadata::new()).await.unwrap();
        store
            .set(SetRequest::new("k", b"v".to_vec()))
            .await
            .unwrap();
        let item = store.get(GetRequest::new("k")).await.unwrap();
        assert_eq!(item.unwrap().data, b"v");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn export_names_read_before_compiling_match_the_compiled_component() {
    let engine = wasmplug::Runtime::shared();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let scanned = wasmplug::runtime::inspect::exported_services(&bytes).unwrap();
        let compiled = engine
            .compile("scan", &path, &bytes, Some(&support::cache_dir()))
            .unwrap()
            .0;
        let info = wasmplug::runtime::ComponentInfo::of(engine.engine(), &compiled);
        assert_eq!(scanned, info.services, "{}", path.display());
        // Cut anywhere, the bytes are an error, never a panic or a wrong answer.
        for cut in [9, bytes.len() / 3, bytes.len() - 1] {
            assert!(
                wasmplug::runtime::inspect::exported_services(&bytes[..cut]).is_err(),
                "{} cut at {cut}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} guests in {}", dir.display());
}
