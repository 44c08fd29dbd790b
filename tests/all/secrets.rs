//! The secret-store contract, one body run against every implementation through the same
//! trait: the native reference, the `secretstore-file` guest in process, and the client
//! adapter talking to the bridge serving that guest. Plus what only the guest does (nested
//! files, `nestedSeparator`, `multiValued`) and the wire shapes daprd sees.

use std::collections::BTreeMap;
use std::path::Path;

use wasmplug::blocks::secrets::*;

use crate::bridge::serve;
use crate::support;

/// The flat file every implementation serves in the contract.
const FLAT: &[(&str, &str)] = &[
    ("db-password", "s3cret"),
    ("api-key", "k-123"),
    ("empty", ""),
    ("unicode ключ", "välue \"quoted\""),
];

fn flat_json() -> String {
    let map: BTreeMap<&str, &str> = FLAT.iter().copied().collect();
    serde_json::to_string(&map).unwrap()
}

fn md(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn secret(pairs: &[(&str, &str)]) -> Secret {
    md(pairs)
}

/// A temp dir holding `secrets.json` with `json`, to grant read-only as `/secrets`.
fn secrets_dir(json: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secrets.json"), json).unwrap();
    dir
}

const SECRETS_FILE: &str = "/secrets/secrets.json";

/// A secret-store component entry with the file guest, `dir` granted read-only as `/secrets`.
fn entry(name: &str, dir: &Path, metadata: &[(&str, &str)]) -> String {
    let mut md = format!("      - name: secretsFile\n        value: {SECRETS_FILE}\n");
    for (k, v) in metadata {
        md.push_str(&format!("      - name: {k}\n        value: {v:?}\n"));
    }
    format!(
        "  - name: {name}\n    type: secretstores\n    wasm: {:?}\n    metadata:\n{md}    grants:\n      dirs:\n        - hostPath: {:?}\n          guestPath: /secrets\n          readOnly: true\n",
        support::guest("secretstore-file"),
        dir
    )
}

/// The whole contract. `s` must be initialised over [`FLAT`].
async fn contract(s: &dyn SecretStore) {
    s.ping().await.unwrap();
    let features = s.features().await.unwrap();
    assert!(
        !features
            .iter()
            .any(|f| f == features::MULTIPLE_KEY_VALUES_PER_SECRET),
        "a flat store is single-valued: {features:?}"
    );

    for (name, value) in FLAT {
        assert_eq!(
            s.get(name, Metadata::new()).await.unwrap(),
            secret(&[(name, value)]),
            "secret {name:?} is the one pair named like it"
        );
    }
    // Request metadata is passed along and does not change the answer.
    assert_eq!(
        s.get("db-password", md(&[("version", "2")])).await.unwrap(),
        secret(&[("db-password", "s3cret")])
    );

    for missing in ["nope", "DB-PASSWORD", ""] {
        match s.get(missing, Metadata::new()).await {
            Err(BlockError::NotFound(m)) => {
                assert!(m.contains(&format!("{missing:?}")), "names the secret: {m}")
            }
            other => panic!("missing secret {missing:?}: {other:?}"),
        }
    }

    let all = s.bulk_get(Metadata::new()).await.unwrap();
    let want: BTreeMap<String, Secret> = FLAT
        .iter()
        .map(|(n, v)| (n.to_string(), secret(&[(n, v)])))
        .collect();
    assert_eq!(all, want);
}

#[tokio::test]
async fn native_reference_meets_the_contract() {
    let s = MemorySecretStore::new(FLAT.iter().copied());
    assert!(
        s.get("db-password", Metadata::new()).await.is_err(),
        "calls before init fail"
    );
    assert!(s.bulk_get(Metadata::new()).await.is_err());
    s.init(Metadata::new()).await.unwrap();
    contract(&s).await;
}

#[tokio::test]
async fn wasm_guest_meets_the_contract() {
    let dir = secrets_dir(&flat_json());
    let cfg = support::config(&entry("flat", dir.path(), &[]));
    let host = support::load(&cfg);
    let s = host.secret_store("flat").await.unwrap();
    contract(&s).await;

    let fresh = host.secret_store_instance("flat", "other").unwrap();
    match fresh.get("db-password", Metadata::new()).await {
        Err(BlockError::Component(e)) => {
            assert_eq!(e.kind, wasmplug::runtime::FaultKind::NotInitialized);
            assert!(e.to_string().contains("flat"), "{e}");
        }
        other => panic!("call before init: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_to_wasm_meets_the_contract() {
    let dir = secrets_dir(&flat_json());
    let served = serve(&entry("vault", dir.path(), &[])).await;
    let socket = served.socket("vault");

    // Discovered as daprd does it: reflection v1alpha advertises the SecretStore service.
    let services = crate::output_binding::reflected_services(&socket).await;
    assert!(
        services
            .iter()
            .any(|s| s == "dapr.proto.components.v1.SecretStore"),
        "{services:?}"
    );

    let s = GrpcSecretStore::connect(&socket, "vault").await.unwrap();
    match s.get("db-password", Metadata::new()).await {
        Err(BlockError::Component(e)) => {
            assert_eq!(e.kind, wasmplug::runtime::FaultKind::NotInitialized)
        }
        other => panic!("call before Init: {other:?}"),
    }
    // daprd sends the Dapr component's YAML metadata in Init (over the config's defaults).
    s.init(md(&[("secretsFile", SECRETS_FILE)])).await.unwrap();
    contract(&s).await;

    // The wire shape daprd decodes: a missing secret is NOT_FOUND naming it.
    let mut raw = wasmplug::proto::secret_store_client::SecretStoreClient::new(
        wasmplug::blocks::state::grpc::connect_socket(&socket)
            .await
            .unwrap(),
    );
    let mut req = tonic::Request::new(wasmplug::proto::GetSecretRequest {
        key: "nope".into(),
        metadata: Default::default(),
    });
    req.metadata_mut()
        .insert(wasmplug::bridge::INSTANCE_HEADER, "vault".parse().unwrap());
    let status = raw.get(req).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    assert!(status.message().contains("\"nope\""), "{status:?}");

    // An Init that fails in the guest (overriding the file with one outside the grant) is
    // reported, and leaves the instance unregistered.
    let other = GrpcSecretStore::connect(&socket, "other").await.unwrap();
    match other.init(md(&[("secretsFile", "/etc/passwd")])).await {
        Err(BlockError::Other(m)) => assert!(m.contains("/etc/passwd"), "{m}"),
        r => panic!("init outside the grant: {r:?}"),
    }
    assert!(other.ping().await.is_err());

    served.stop().await.unwrap();
}

/// Nested documents, `nestedSeparator` and `multiValued` (what only the guest implements),
/// through the in-process wasm path; multi-valued features also over the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_guest_flattens_nested_files() {
    let json = r#"{
        "token": "t0k",
        "db": {"user": "admin", "tls": {"key": "k", "ports": [5432, true, null]}}
    }"#;
    let dir = secrets_dir(json);
    let components = format!(
        "{}{}{}",
        entry("colon", dir.path(), &[]),
        entry("dotted", dir.path(), &[("nestedSeparator", ".")]),
        entry("multi", dir.path(), &[("multiValued", "true")]),
    );
    let cfg = support::config(&components);
    let host = support::load(&cfg);

    // Single-valued: every leaf is a secret named by its path (default separator `:`).
    let colon = host.secret_store("colon").await.unwrap();
    assert_eq!(
        colon.get("db:tls:key", Metadata::new()).await.unwrap(),
        secret(&[("db:tls:key", "k")])
    );
    assert!(matches!(
        colon.get("db", Metadata::new()).await,
        Err(BlockError::NotFound(_))
    ));
    let names: Vec<String> = colon
        .bulk_get(Metadata::new())
        .await
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        names,
        [
            "db:tls:key",
            "db:tls:ports:0",
            "db:tls:ports:1",
            "db:tls:ports:2",
            "db:user",
            "token"
        ]
    );

    let dotted = host.secret_store("dotted").await.unwrap();
    assert_eq!(
        dotted.get("db.user", Metadata::new()).await.unwrap(),
        secret(&[("db.user", "admin")])
    );
    assert_eq!(
        dotted.get("db.tls.ports.0", Metadata::new()).await.unwrap(),
        secret(&[("db.tls.ports.0", "5432")])
    );
    assert!(matches!(
        dotted.get("db:user", Metadata::new()).await,
        Err(BlockError::NotFound(_))
    ));
    assert!(dotted.features().await.unwrap().is_empty());

    // Multi-valued: one secret per top-level member, its leaves as pairs.
    let multi = host.secret_store("multi").await.unwrap();
    assert_eq!(
        multi.features().await.unwrap(),
        [features::MULTIPLE_KEY_VALUES_PER_SECRET]
    );
    let db = secret(&[
        ("user", "admin"),
        ("tls:key", "k"),
        ("tls:ports:0", "5432"),
        ("tls:ports:1", "true"),
        ("tls:ports:2", ""),
    ]);
    assert_eq!(multi.get("db", Metadata::new()).await.unwrap(), db);
    assert_eq!(
        multi.get("token", Metadata::new()).await.unwrap(),
        secret(&[("token", "t0k")])
    );
    assert!(matches!(
        multi.get("db:user", Metadata::new()).await,
        Err(BlockError::NotFound(_))
    ));
    let all = multi.bulk_get(Metadata::new()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["db"], db);

    // The same component over the bridge advertises the feature on the wire.
    drop(host);
    let served = serve(&entry("multi", dir.path(), &[("multiValued", "true")])).await;
    let s = GrpcSecretStore::connect(&served.socket("multi"), "multi")
        .await
        .unwrap();
    s.init(md(&[
        ("secretsFile", SECRETS_FILE),
        ("multiValued", "true"),
    ]))
    .await
    .unwrap();
    assert_eq!(
        s.features().await.unwrap(),
        [features::MULTIPLE_KEY_VALUES_PER_SECRET]
    );
    assert_eq!(s.get("db", Metadata::new()).await.unwrap(), db);
    served.stop().await.unwrap();
}

#[tokio::test]
async fn wasm_init_failures_are_clear() {
    let dir = secrets_dir("{\"a\": ");
    let components = format!(
        "{}{}",
        entry("broken", dir.path(), &[]),
        entry("bad-flag", dir.path(), &[("multiValued", "maybe")]),
    );
    let cfg = support::config(&components);
    let host = support::load(&cfg);
    let e = host.secret_store("broken").await.unwrap_err().to_string();
    assert!(
        e.contains("broken") && e.contains(SECRETS_FILE),
        "names the component and the file: {e}"
    );
    let e = host.secret_store("bad-flag").await.unwrap_err().to_string();
    assert!(e.contains("multiValued"), "names the key: {e}");
}
