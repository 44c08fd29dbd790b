//! The bridge, tested the way daprd uses it: real UNIX sockets in temp dirs, discovery by
//! listing the folder and asking reflection v1alpha, raw protocol calls for wire shapes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tonic::{Code, Request};
use tonic_types::StatusExt;
use wasmplug::blocks::state::{GrpcStateStore, Metadata, StateStore};
use wasmplug::bridge::INSTANCE_HEADER;
use wasmplug::proto as pb;

use crate::support;

/// A running `serve` on a temp folder.
pub struct Served {
    pub folder: tempfile::TempDir,
    _cfg: support::TempConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), wasmplug::bridge::BridgeError>>>,
}

impl Served {
    pub fn socket(&self, name: &str) -> PathBuf {
        self.folder.path().join(format!("{name}.sock"))
    }

    pub async fn client(&self, name: &str, instance: &str) -> GrpcStateStore {
        GrpcStateStore::connect(&self.socket(name), instance)
            .await
            .unwrap()
    }

    pub async fn stop(mut self) -> Result<(), wasmplug::bridge::BridgeError> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }
}

pub async fn serve(components: &str) -> Served {
    let cfg = support::config(components);
    let folder = tempfile::tempdir().unwrap();
    let host = Arc::new(support::load(&cfg));
    let names: Vec<String> = host.components().map(|c| c.name().to_owned()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let path = folder.path().to_owned();
    let task = tokio::spawn(async move {
        wasmplug::bridge::serve(host, &path, async {
            let _ = rx.await;
        })
        .await
    });
    for n in names {
        let p = folder.path().join(format!("{n}.sock"));
        for _ in 0..500 {
            if p.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(p.exists(), "socket {} never appeared", p.display());
    }
    Served {
        folder,
        _cfg: cfg,
        stop: Some(tx),
        task: Some(task),
    }
}

pub fn req<T>(msg: T, instance: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert(INSTANCE_HEADER, instance.parse().unwrap());
    r
}

pub async fn raw(
    path: &Path,
) -> pb::state_store_client::StateStoreClient<tonic::transport::Channel> {
    pb::state_store_client::StateStoreClient::new(
        wasmplug::blocks::state::grpc::connect_socket(path)
            .await
            .unwrap(),
    )
}

pub async fn init(
    client: &mut pb::state_store_client::StateStoreClient<tonic::transport::Channel>,
    instance: &str,
) {
    let msg = pb::InitRequest {
        metadata: Some(pb::MetadataRequest {
            properties: HashMap::new(),
        }),
    };
    client.init(req(msg, instance)).await.unwrap();
}

pub fn set(key: &str, value: &str, etag: Option<&str>) -> pb::SetRequest {
    pb::SetRequest {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        etag: etag.map(|v| pb::Etag { value: v.into() }),
        options: Some(pb::StateOptions::default()),
        ..Default::default()
    }
}

pub fn get(key: &str) -> pb::GetRequest {
    pb::GetRequest {
        key: key.into(),
        ..Default::default()
    }
}

pub fn assert_etag_shape(s: &tonic::Status, code: Code) {
    assert_eq!(s.code(), code, "{s:?}");
    let bad = s
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("BadRequest detail missing: {s:?}"));
    assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
    assert_eq!(bad.field_violations[0].field, "etag");
    let details = s.get_error_details_vec();
    assert_eq!(details.len(), 1, "exactly one detail: {details:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_as_daprd_does_it() {
    let served = serve(&format!(
        "{}{}",
        support::state_store_entry("orders", "memory"),
        support::state_store_entry("carts", "memory")
    ))
    .await;
    // A stray non-socket file and a directory are skipped by daprd, as here.
    std::fs::write(served.folder.path().join("notes.txt"), "x").unwrap();
    std::fs::create_dir(served.folder.path().join("sub")).unwrap();

    let mut found = Vec::new();
    for entry in std::fs::read_dir(served.folder.path()).unwrap() {
        let entry = entry.unwrap();
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let meta = entry.metadata().unwrap();
        if !meta.file_type().is_socket() {
            continue;
        }
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o666,
            "sockets must be usable by daprd's uid"
        );
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let channel = wasmplug::blocks::state::grpc::connect_socket(&path)
            .await
            .unwrap();

        // daprd: jhump grpcreflect NewClientV1Alpha → list_services.
        use tonic_reflection::pb::v1alpha as ra;
        let mut client = ra::server_reflection_client::ServerReflectionClient::new(channel.clone());
        let request = ra::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(ra::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        let Some(ra::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
            resp.message_response
        else {
            panic!("unexpected reflection answer {resp:?}")
        };
        let services: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for s in [
            "dapr.proto.components.v1.StateStore",
            "dapr.proto.components.v1.TransactionalStateStore",
            "dapr.proto.components.v1.QueriableStateStore",
            "dapr.proto.components.v1.TransactionalStoreMultiMaxSize",
        ] {
            assert!(
                services.iter().any(|x| x == s),
                "{name}: {s} not advertised in {services:?}"
            );
        }
        assert!(
            !services.iter().any(|x| x.contains("PubSub")),
            "only what this socket serves: {services:?}"
        );

        // Newer tools use reflection v1; health is served too.
        use tonic_reflection::pb::v1 as r1;
        let mut v1 = r1::server_reflection_client::ServerReflectionClient::new(channel.clone());
        let request = r1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let mut stream = v1
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner();
        assert!(stream.message().await.unwrap().is_some());
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "dapr.proto.components.v1.StateStore".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            status.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        found.push(name);
    }
    found.sort();
    assert_eq!(found, ["carts", "orders"]);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_shapes_match_daprd() {
    let served = serve(&support::state_store_entry("wire", "memory")).await;
    let mut c = raw(&served.socket("wire")).await;

    // Before Init: a clear error.
    let e = c.get(req(get("k"), "app")).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("not initialised"), "{e:?}");
    assert_eq!(
        e.get_details_error_info().unwrap().reason,
        "NOT_INITIALIZED"
    );

    init(&mut c, "app").await;
    let features = c
        .features(req(pb::FeaturesRequest {}, "app"))
        .await
        .unwrap()
        .into_inner()
        .features;
    assert!(
        features.contains(&"ETAG".to_owned()) && features.contains(&"TRANSACTIONAL".to_owned()),
        "{features:?}"
    );

    // Missing key: OK, empty data, no etag message at all.
    let r = c
        .get(req(get("missing"), "app"))
        .await
        .unwrap()
        .into_inner();
    assert!(r.data.is_empty() && r.etag.is_none(), "{r:?}");

    c.set(req(set("k", "v", None), "app")).await.unwrap();
    let r = c.get(req(get("k"), "app")).await.unwrap().into_inner();
    let etag = r.etag.clone().expect("etag").value;
    assert_eq!(r.data, b"v");

    // Etag mismatch on Set and BulkSet: FAILED_PRECONDITION + one BadRequest(etag).
    let e = c
        .set(req(set("k", "x", Some("bad-etag")), "app"))
        .await
        .unwrap_err();
    assert_etag_shape(&e, Code::FailedPrecondition);
    let e = c
        .bulk_set(req(
            pb::BulkSetRequest {
                items: vec![set("a", "1", None), set("k", "x", Some("999"))],
                options: None,
            },
            "app",
        ))
        .await
        .unwrap_err();
    assert_etag_shape(&e, Code::FailedPrecondition);
    // Delete with a wrong etag: one of daprd's two etag shapes.
    let e = c
        .delete(req(
            pb::DeleteRequest {
                key: "k".into(),
                etag: Some(pb::Etag {
                    value: "999".into(),
                }),
                ..Default::default()
            },
            "app",
        ))
        .await
        .unwrap_err();
    assert!(matches!(
        e.code(),
        Code::FailedPrecondition | Code::InvalidArgument
    ));
    assert_etag_shape(&e, e.code());

    // First write: create only.
    let mut fw = set("fw", "1", None);
    fw.options = Some(pb::StateOptions {
        concurrency: pb::state_options::StateConcurrency::ConcurrencyFirstWrite as i32,
        consistency: 0,
    });
    c.set(req(fw.clone(), "app")).await.unwrap();
    assert_etag_shape(
        &c.set(req(fw, "app")).await.unwrap_err(),
        Code::FailedPrecondition,
    );

    // TTL: ttlExpireTime in Get and BulkGet; non-integer rejected.
    let mut ttl = set("ttl", "x", None);
    ttl.metadata.insert("ttlInSeconds".into(), "100".into());
    c.set(req(ttl.clone(), "app")).await.unwrap();
    let r = c.get(req(get("ttl"), "app")).await.unwrap().into_inner();
    assert!(
        humantime::parse_rfc3339_weak(&r.metadata["ttlExpireTime"]).is_ok(),
        "{r:?}"
    );
    ttl.metadata.insert("ttlInSeconds".into(), "foo".into());
    assert_eq!(
        c.set(req(ttl, "app")).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    // BulkGet: request order, missing keys included with empty error.
    let items = c
        .bulk_get(req(
            pb::BulkGetRequest {
                items: vec![get("ttl"), get("nope"), get("k")],
                options: None,
            },
            "app",
        ))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(
        items.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        ["ttl", "nope", "k"]
    );
    assert!(items[0].metadata.contains_key("ttlExpireTime"));
    assert!(items[1].data.is_empty() && items[1].etag.is_none() && items[1].error.is_empty());
    assert_eq!(items[2].etag.as_ref().unwrap().value, etag);

    // Transactions: order (delete k1, set k2, delete k2, set k3) and atomicity.
    use pb::transactional_state_operation::Request as Op;
    let mut tx = pb::transactional_state_store_client::TransactionalStateStoreClient::new(
        wasmplug::blocks::state::grpc::connect_socket(&served.socket("wire"))
            .await
            .unwrap(),
    );
    let op = |r: Op| pb::TransactionalStateOperation { request: Some(r) };
    let del = |k: &str| pb::DeleteRequest {
        key: k.into(),
        ..Default::default()
    };
    c.set(req(set("k1", "1", None), "app")).await.unwrap();
    tx.transact(req(
        pb::TransactionalStateRequest {
            operations: vec![
                op(Op::Delete(del("k1"))),
                op(Op::Set(set("k2", "2", None))),
                op(Op::Delete(del("k2"))),
                op(Op::Set(set("k3", "3", None))),
            ],
            metadata: HashMap::new(),
        },
        "app",
    ))
    .await
    .unwrap();
    assert!(
        c.get(req(get("k1"), "app"))
            .await
            .unwrap()
            .into_inner()
            .etag
            .is_none()
    );
    assert!(
        c.get(req(get("k2"), "app"))
            .await
            .unwrap()
            .into_inner()
            .etag
            .is_none()
    );
    assert_eq!(
        c.get(req(get("k3"), "app"))
            .await
            .unwrap()
            .into_inner()
            .data,
        b"3"
    );
    let e = tx
        .transact(req(
            pb::TransactionalStateRequest {
                operations: vec![
                    op(Op::Set(set("k4", "4", None))),
                    op(Op::Set(set("k3", "x", Some("bad-etag")))),
                ],
                metadata: HashMap::new(),
            },
            "app",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        c.get(req(get("k4"), "app"))
            .await
            .unwrap()
            .into_inner()
            .etag
            .is_none(),
        "failed transaction applied nothing"
    );
    let e = tx
        .transact(req(
            pb::TransactionalStateRequest {
                operations: vec![pb::TransactionalStateOperation { request: None }],
                metadata: HashMap::new(),
            },
            "app",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // Query unsupported → UNIMPLEMENTED; MultiMaxSize unlimited → <= 0; Ping.
    let mut q = pb::queriable_state_store_client::QueriableStateStoreClient::new(
        wasmplug::blocks::state::grpc::connect_socket(&served.socket("wire"))
            .await
            .unwrap(),
    );
    assert_eq!(
        q.query(req(pb::QueryRequest::default(), "app"))
            .await
            .unwrap_err()
            .code(),
        Code::Unimplemented
    );
    let mut m =
        pb::transactional_store_multi_max_size_client::TransactionalStoreMultiMaxSizeClient::new(
            wasmplug::blocks::state::grpc::connect_socket(&served.socket("wire"))
                .await
                .unwrap(),
        );
    assert!(
        m.multi_max_size(req(pb::MultiMaxSizeRequest {}, "app"))
            .await
            .unwrap()
            .into_inner()
            .max_size
            <= 0
    );
    c.ping(req(pb::PingRequest {}, "app")).await.unwrap();
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_through_client_adapter_and_bridge() {
    let served = serve(&support::state_store_entry("contract", "durable")).await;
    let store = served.client("contract", "dapr-app").await;
    store.init(Metadata::new()).await.unwrap();
    crate::state_contract::contract(&store).await;
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_names_are_isolated() {
    use wasmplug::blocks::state::{GetRequest, SetRequest};
    let served = serve(&support::state_store_entry("multi", "durable")).await;
    let a = served.client("multi", "orders-a").await;
    let b = served.client("multi", "orders-b").await;
    a.init(Metadata::new()).await.unwrap();
    // b is not initialised yet: its calls fail even though a's work.
    assert!(b.get(GetRequest::new("k")).await.is_err());
    b.init(Metadata::new()).await.unwrap();
    a.set(SetRequest::new("k", "a")).await.unwrap();
    b.set(SetRequest::new("k", "b")).await.unwrap();
    assert_eq!(
        a.get(GetRequest::new("k")).await.unwrap().unwrap().data,
        b"a"
    );
    assert_eq!(
        b.get(GetRequest::new("k")).await.unwrap().unwrap().data,
        b"b"
    );
    // Re-Init (daprd hot reload) keeps the instance's data.
    a.init(Metadata::new()).await.unwrap();
    assert_eq!(
        a.get(GetRequest::new("k")).await.unwrap().unwrap().data,
        b"a"
    );
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_clients_lose_nothing() {
    use wasmplug::blocks::state::{GetRequest, SetRequest};
    let served = serve(&support::state_store_entry("busy", "memory")).await;
    let first = served.client("busy", "app").await;
    first.init(Metadata::new()).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..32 {
        let client = served.client("busy", "app").await;
        tasks.spawn(async move {
            // 200 ops per client: 100 writes, each read back.
            for i in 0..100 {
                let key = format!("c{c}-k{i}");
                client
                    .set(SetRequest::new(key.clone(), format!("{c}:{i}")))
                    .await
                    .unwrap();
                let got = client.get(GetRequest::new(key)).await.unwrap().unwrap();
                assert_eq!(got.data, format!("{c}:{i}").as_bytes());
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let keys: Vec<GetRequest> = (0..32)
        .flat_map(|c| (0..100).map(move |i| GetRequest::new(format!("c{c}-k{i}"))))
        .collect();
    let items = first.bulk_get(keys).await.unwrap();
    assert_eq!(items.len(), 3200);
    assert!(
        items.iter().all(|i| i.item.is_some()),
        "every acknowledged write is there"
    );
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_live_and_foreign_socket_files() {
    let folder = tempfile::tempdir().unwrap();
    // Stale: a socket file nobody listens on is replaced.
    let stale = folder.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let listener = wasmplug::bridge::bind(&stale).await.unwrap();
    drop(listener);
    // Live: a socket with a server behind it is never stolen.
    let live = folder.path().join("live.sock");
    let _server = std::os::unix::net::UnixListener::bind(&live).unwrap();
    let e = wasmplug::bridge::bind(&live).await.unwrap_err().to_string();
    assert!(e.contains("live server"), "{e}");
    assert!(live.exists());
    // Foreign: a regular file is never deleted.
    let file = folder.path().join("file.sock");
    std::fs::write(&file, "keep me").unwrap();
    let e = wasmplug::bridge::bind(&file).await.unwrap_err().to_string();
    assert!(e.contains("not a socket"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_calls_and_removes_sockets() {
    use wasmplug::blocks::state::GetRequest;
    let served = serve(&format!(
        "  - name: slow\n    type: state\n    wasm: {:?}\n    limits:\n      callTimeout: 500ms\n{}",
        support::guest("hostile"),
        support::state_store_entry("other", "memory")
    ))
    .await;
    let slow = served.client("slow", "app").await;
    slow.init(Metadata::new()).await.unwrap();
    let socket = served.socket("slow");
    let in_flight = tokio::spawn(async move { slow.get(GetRequest::new("loop")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let folder = served.folder.path().to_owned();
    served.stop().await.unwrap();
    // The call that was running got its answer (the guest's deadline), not a broken pipe.
    match in_flight.await.unwrap() {
        Err(wasmplug::StateError::Other(m)) => {
            assert!(m.contains("DeadlineExceeded") && m.contains("slow"), "{m}")
        }
        other => panic!("in-flight call: {other:?}"),
    }
    assert!(!socket.exists(), "socket removed");
    assert!(!folder.join("other.sock").exists(), "every socket removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_guest_fails_one_call_only() {
    let served = serve(&format!(
        "  - name: trappy\n    type: state\n    wasm: {:?}\n",
        support::guest("hostile")
    ))
    .await;
    let mut c = raw(&served.socket("trappy")).await;
    init(&mut c, "app").await;
    let e = c.get(req(get("panic"), "app")).await.unwrap_err();
    assert_eq!(e.code(), Code::Internal);
    assert!(
        e.message().contains("trappy") && e.message().contains("trapped"),
        "{e:?}"
    );
    let e = c.get(req(get("bomb"), "app")).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    // Same connection, next call: served by a fresh instance.
    let r = c.get(req(get("fine"), "app")).await.unwrap().into_inner();
    assert!(r.etag.is_none());
    served.stop().await.unwrap();
}
