//! `wasmplug new`: what it refuses, and the state stores it generates in every language.
//! (That the output-binding projects build, serve and answer is `docs.rs`: the guides run it.)

use std::path::{Path, PathBuf};
use std::process::Command;

use wasmplug::Host;
use wasmplug::blocks::Metadata;
use wasmplug::blocks::state::{
    DeleteRequest, GetRequest, SetRequest, StateError, StateStore, TransactOperation,
    TransactRequest,
};

#[test]
fn new_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(&["new", "cobol", "bindings", "x"]);
    assert!(!ok && err.contains("unknown language"), "{err}");
    let (ok, err) = run(&["new", "rust", "bindings", "Bad_Name"]);
    assert!(!ok && err.contains("not a valid component name"), "{err}");
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    std::fs::write(dir.path().join("taken/file"), "x").unwrap();
    let (ok, err) = run(&["new", "rust", "bindings", "taken"]);
    assert!(!ok && err.contains("not empty"), "{err}");
}

/// Generates `wasmplug new <lang> <block> <name>` in a temp dir and builds it with its own
/// `build.sh` (toolchains shared with `cargo xtask build-guests`). Returns the temp dir and
/// the project folder.
fn generate_and_build(lang: &str, block: &str, name: &str) -> (tempfile::TempDir, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
        .args(["new", lang, block, name, "--dir"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wasmplug new {lang} {block}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let build = Command::new(project.join("build.sh"))
        .env("WASMPLUG_TOOLCHAINS", root.join("target/toolchains"))
        .env("CARGO_TARGET_DIR", root.join("target/scaffold-test"))
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{lang} {block} build.sh failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(project.join(format!("{name}.wasm")).is_file());
    (dir, project)
}

/// What every generated state store promises (features ETAG and TRANSACTIONAL): etags as
/// versions, first-write, ordered all-or-nothing bulk writes and transactions.
async fn state_template_contract(store: &dyn StateStore) {
    let mut features = store.features().await.unwrap();
    features.sort();
    assert_eq!(features, ["ETAG", "TRANSACTIONAL"]);
    assert_eq!(store.get(GetRequest::new("k")).await.unwrap(), None);

    store.set(SetRequest::new("k", "v1")).await.unwrap();
    let first = store.get(GetRequest::new("k")).await.unwrap().unwrap();
    assert_eq!(first.data, b"v1");
    let etag1 = first.etag.clone().expect("an etag");
    store
        .set(SetRequest::new("k", "v2").with_etag(&etag1))
        .await
        .unwrap();
    let second = store.get(GetRequest::new("k")).await.unwrap().unwrap();
    assert_eq!(second.data, b"v2");
    let etag2 = second.etag.clone().unwrap();
    assert_ne!(etag1, etag2, "a write changes the etag");

    // Stale and malformed etags, and first-write on an existing key, are refused; nothing changes.
    assert!(matches!(
        store
            .set(SetRequest::new("k", "stale").with_etag(&etag1))
            .await,
        Err(StateError::EtagMismatch(_))
    ));
    assert!(matches!(
        store
            .set(SetRequest::new("k", "bad").with_etag("not-a-version"))
            .await,
        Err(StateError::EtagInvalid(_))
    ));
    assert!(matches!(
        store.set(SetRequest::new("k", "again").first_write()).await,
        Err(StateError::EtagMismatch(_))
    ));
    assert!(matches!(
        store
            .delete(DeleteRequest::new("k").with_etag(&etag1))
            .await,
        Err(StateError::EtagMismatch(_))
    ));
    assert_eq!(
        store.get(GetRequest::new("k")).await.unwrap().unwrap().data,
        b"v2"
    );
    store
        .set(SetRequest::new("fresh", "x").first_write())
        .await
        .unwrap();

    // Bulk reads keep the order; missing keys have no item.
    let items = store
        .bulk_get(vec![
            GetRequest::new("fresh"),
            GetRequest::new("missing"),
            GetRequest::new("k"),
        ])
        .await
        .unwrap();
    let keys: Vec<_> = items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["fresh", "missing", "k"]);
    assert!(items[1].item.is_none());
    assert_eq!(items[2].item.as_ref().unwrap().data, b"v2");

    // A transaction applies in order, or not at all.
    store
        .transact(TransactRequest {
            operations: vec![
                TransactOperation::Set(SetRequest::new("a", "1")),
                TransactOperation::Set(SetRequest::new("a", "2")),
                TransactOperation::Delete(DeleteRequest::new("fresh")),
            ],
            metadata: Metadata::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.get(GetRequest::new("a")).await.unwrap().unwrap().data,
        b"2"
    );
    assert_eq!(store.get(GetRequest::new("fresh")).await.unwrap(), None);
    assert!(
        store
            .transact(TransactRequest {
                operations: vec![
                    TransactOperation::Set(SetRequest::new("b", "never")),
                    TransactOperation::Delete(DeleteRequest::new("k").with_etag(&etag1)),
                ],
                metadata: Metadata::new(),
            })
            .await
            .is_err()
    );
    assert_eq!(store.get(GetRequest::new("b")).await.unwrap(), None);
    assert!(store.get(GetRequest::new("k")).await.unwrap().is_some());

    // Bulk writes are one commit too.
    assert!(
        store
            .bulk_set(vec![
                SetRequest::new("c", "never"),
                SetRequest::new("k", "stale").with_etag(&etag1),
            ])
            .await
            .is_err()
    );
    assert_eq!(store.get(GetRequest::new("c")).await.unwrap(), None);
    store
        .bulk_delete(vec![DeleteRequest::new("a"), DeleteRequest::new("k")])
        .await
        .unwrap();
    assert_eq!(store.get(GetRequest::new("a")).await.unwrap(), None);
    assert_eq!(store.get(GetRequest::new("k")).await.unwrap(), None);
    store
        .set(SetRequest::new("kept", "across restarts"))
        .await
        .unwrap();
}

/// The generated state store, served from its generated config as is, meets the template
/// contract, and its data survives a restart (the config grants a durable bucket).
async fn check_state_template(lang: &str) {
    let (_dir, project) = generate_and_build(lang, "state", "orders");
    let config = project.join("wasmplug.yaml");
    {
        let host = Host::load(&config).unwrap_or_else(|e| panic!("{lang}: {e}"));
        state_template_contract(&host.state_store("orders").await.unwrap()).await;
    }
    let host = Host::load(&config).unwrap();
    let store = host.state_store("orders").await.unwrap();
    let kept = store.get(GetRequest::new("kept")).await.unwrap();
    assert_eq!(kept.unwrap().data, b"across restarts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_rust_state_store_meets_its_contract() {
    check_state_template("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_python_state_store_meets_its_contract() {
    check_state_template("python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_js_state_store_meets_its_contract() {
    check_state_template("js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_c_state_store_meets_its_contract() {
    check_state_template("c").await;
}
