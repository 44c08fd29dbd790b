//! Replicas behave as one store: three `wasmplug serve` processes, each with its own socket
//! folder, on one config whose buckets live in one Redis (a server, or a 3-master Cluster),
//! driven the way daprd drives them (raw protocol calls, `x-component-instance`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis_harness::{Options, RedisCluster, RedisServer};
use tonic::Code;
use tonic::transport::Channel;
use wasmplug::proto as pb;

use crate::bridge::{assert_etag_shape, get, init, raw, req, set};
use crate::support;

type Client = pb::state_store_client::StateStoreClient<Channel>;

/// The Dapr instance name every replica's clients use: one app, several pods.
const APP: &str = "orders-app";

/// One `wasmplug serve` process with its own socket folder.
pub struct Replica {
    child: Child,
    folder: tempfile::TempDir,
}

impl Replica {
    /// Starts `wasmplug serve config` and waits until `component`'s socket answers.
    pub async fn start(config: &Path, component: &str) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(folder.path().join("serve.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
            .arg("serve")
            .arg(config)
            .arg("--sockets-folder")
            .arg(folder.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut replica = Self { child, folder };
        replica.wait_ready(component).await;
        replica
    }

    async fn wait_ready(&mut self, component: &str) {
        let socket = self.socket(component);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("wasmplug serve exited with {status}:\n{}", self.log());
            }
            if socket.exists()
                && wasmplug::blocks::state::grpc::connect_socket(&socket)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} never answered:\n{}", socket.display(), self.log());
    }

    /// The socket of `component`.
    pub fn socket(&self, component: &str) -> PathBuf {
        self.folder.path().join(format!("{component}.sock"))
    }

    /// What the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.folder.path().join("serve.log")).unwrap_or_default()
    }

    /// Kills the process at once, as `kill -9` would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `keyValueStores` entry named `shared` on these URLs.
pub fn shared_store(urls: &[String], cluster: bool) -> String {
    format!(
        "keyValueStores:\n  - name: shared\n    type: redis\n    url: {:?}\n    cluster: {cluster}\n    timeout: 1s\n",
        urls.join(",")
    )
}

/// A config file in `dir` with `components` (whose grants say `store: shared`) and `store`.
pub fn shared_config(dir: &Path, components: &str, store: &str) -> PathBuf {
    support::write_config(dir, &format!("{components}{store}"))
}

/// A state-store entry of `guest`, its bucket `state` in the shared store.
fn shared_state_entry(name: &str, guest: &str) -> String {
    format!(
        "  - name: {name}\n    type: state\n    wasm: {:?}\n    metadata:\n      - name: bucket\n        value: state\n    grants:\n      keyValue:\n        - bucket: state\n          store: shared\n",
        support::guest(guest)
    )
}

/// Three replicas of `component` on `config`, each initialised for [`APP`] once, as daprd
/// does per pod.
async fn three_replicas(config: &Path, component: &str) -> Vec<Replica> {
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let r = Replica::start(config, component).await;
        init(&mut raw(&r.socket(component)).await, APP).await;
        replicas.push(r);
    }
    replicas
}

/// The counter at `key`, and the etag to write it back with (none when absent).
async fn read_counter(c: &mut Client, key: &str) -> (u64, Option<String>) {
    let r = c.get(req(get(key), APP)).await.unwrap().into_inner();
    match r.etag {
        Some(etag) => (
            std::str::from_utf8(&r.data).unwrap().parse().unwrap(),
            Some(etag.value),
        ),
        None => (0, None),
    }
}

/// A write that succeeds only if nobody wrote `key` since `etag` was read (first-write
/// when there is none yet).
fn guarded(key: &str, value: u64, etag: Option<&str>) -> pb::SetRequest {
    let mut s = set(key, &value.to_string(), etag);
    if etag.is_none() {
        s.options = Some(pb::StateOptions {
            concurrency: pb::state_options::StateConcurrency::ConcurrencyFirstWrite as i32,
            consistency: 0,
        });
    }
    s
}

/// `per_replica` clients on each replica do etag-guarded read-modify-write increments of one
/// key until each has `writes` successful ones. Every losing write must get daprd's
/// etag-mismatch shape, and the final value must equal the number of successful writes.
async fn increments_across_replicas(
    replicas: &[Replica],
    component: &str,
    per_replica: usize,
    writes: u64,
) {
    let conflicts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for r in replicas {
        for _ in 0..per_replica {
            let socket = r.socket(component);
            let conflicts = conflicts.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = raw(&socket).await;
                let mut done = 0;
                while done < writes {
                    let (n, etag) = read_counter(&mut c, "counter").await;
                    match c
                        .set(req(guarded("counter", n + 1, etag.as_deref()), APP))
                        .await
                    {
                        Ok(_) => done += 1,
                        Err(e) => {
                            assert_etag_shape(&e, Code::FailedPrecondition);
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = replicas.len() as u64 * per_replica as u64 * writes;
    let mut c = raw(&replicas[0].socket(component)).await;
    assert_eq!(
        read_counter(&mut c, "counter").await.0,
        total,
        "no increment lost"
    );
    assert!(
        conflicts.load(Ordering::Relaxed) > 0,
        "the clients never raced, so the test proved nothing"
    );
}

/// For each of 10 keys, 12 clients spread over the replicas race a first-write: exactly one
/// wins, the others get the etag-mismatch shape.
async fn first_write_races(replicas: &[Replica], component: &str) {
    let mut tasks = Vec::new();
    for i in 0..12 {
        let socket = replicas[i % replicas.len()].socket(component);
        tasks.push(tokio::spawn(async move {
            let mut c = raw(&socket).await;
            let mut won = Vec::new();
            for k in 0..10 {
                let key = format!("fw-{k}");
                match c.set(req(guarded(&key, i as u64, None), APP)).await {
                    Ok(_) => won.push(k),
                    Err(e) => assert_etag_shape(&e, Code::FailedPrecondition),
                }
            }
            won
        }));
    }
    let mut winners = [0; 10];
    for t in tasks {
        for k in t.await.unwrap() {
            winners[k] += 1;
        }
    }
    assert_eq!(winners, [1; 10], "exactly one winner per key");
}

fn upsert(key: &str, value: &str, etag: Option<&str>) -> pb::TransactionalStateOperation {
    pb::TransactionalStateOperation {
        request: Some(pb::transactional_state_operation::Request::Set(set(
            key, value, etag,
        ))),
    }
}

/// Transactions from different processes apply whole or not at all: pairs written together
/// stay equal, and a transaction whose last operation fails its etag writes nothing.
async fn transactions_across_replicas(replicas: &[Replica], component: &str) {
    let mut tasks = Vec::new();
    for (i, r) in replicas.iter().enumerate() {
        let socket = r.socket(component);
        tasks.push(tokio::spawn(async move {
            let mut c = pb::transactional_state_store_client::TransactionalStateStoreClient::new(
                wasmplug::blocks::state::grpc::connect_socket(&socket)
                    .await
                    .unwrap(),
            );
            for n in 0..20 {
                let v = format!("{i}-{n}");
                let ok = pb::TransactionalStateRequest {
                    operations: vec![upsert("pair-a", &v, None), upsert("pair-b", &v, None)],
                    metadata: Default::default(),
                };
                c.transact(req(ok, APP)).await.unwrap();
                let doomed = pb::TransactionalStateRequest {
                    operations: vec![
                        upsert(&format!("never-{i}-{n}"), "x", None),
                        upsert("pair-a", "stale", Some("999999999")),
                    ],
                    metadata: Default::default(),
                };
                assert!(c.transact(req(doomed, APP)).await.is_err());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = raw(&replicas[2].socket(component)).await;
    let a = c
        .get(req(get("pair-a"), APP))
        .await
        .unwrap()
        .into_inner()
        .data;
    let b = c
        .get(req(get("pair-b"), APP))
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(!a.is_empty());
    assert_eq!(a, b, "both halves of the last transaction");
    for i in 0..3 {
        for n in 0..20 {
            let r = c
                .get(req(get(&format!("never-{i}-{n}")), APP))
                .await
                .unwrap();
            assert!(
                r.into_inner().etag.is_none(),
                "a failed transaction wrote never-{i}-{n}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis_are_one_state_store() {
    let redis = RedisServer::start_with(Options {
        appendonly: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(
        dir.path(),
        &shared_state_entry("orders", "state-store"),
        &shared_store(&[redis.url()], false),
    );
    let replicas = three_replicas(&config, "orders").await;
    increments_across_replicas(&replicas, "orders", 16, 3).await;
    first_write_races(&replicas, "orders").await;
    transactions_across_replicas(&replicas, "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_state_store_shares_state_across_processes_too() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(
        dir.path(),
        &shared_state_entry("py-orders", "py-state-store"),
        &shared_store(&[redis.url()], false),
    );
    let replicas = three_replicas(&config, "py-orders").await;
    increments_across_replicas(&replicas, "py-orders", 4, 3).await;
    first_write_races(&replicas, "py-orders").await;
    transactions_across_replicas(&replicas, "py-orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_a_redis_cluster_are_one_state_store() {
    let cluster = RedisCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(
        dir.path(),
        &shared_state_entry("orders", "state-store"),
        &shared_store(&cluster.urls(), true),
    );
    let replicas = three_replicas(&config, "orders").await;
    increments_across_replicas(&replicas, "orders", 8, 3).await;
    first_write_races(&replicas, "orders").await;
    transactions_across_replicas(&replicas, "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_fails_calls_in_bounded_time_and_loses_nothing_acknowledged() {
    const PASSWORD: &str = "pw-never-shown-7f3a";
    let mut redis = RedisServer::start_with(Options {
        appendonly: true,
        password: Some(PASSWORD.into()),
        ..Default::default()
    });
    assert!(redis.url().contains(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(
        dir.path(),
        &shared_state_entry("orders", "state-store"),
        &shared_store(&[redis.url()], false),
    );
    let replica = Replica::start(&config, "orders").await;
    let mut c = raw(&replica.socket("orders")).await;
    init(&mut c, APP).await;
    for i in 0..20 {
        c.set(req(set(&format!("k{i}"), "v", None), APP))
            .await
            .unwrap();
    }

    redis.kill();
    let started = Instant::now();
    let e = c.get(req(get("k1"), APP)).await.unwrap_err();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    assert_ne!(e.code(), Code::Ok);
    let message = e.message();
    assert!(
        message.contains("\"orders\""),
        "names the component: {message}"
    );
    assert!(
        message.contains("key-value store \"shared\""),
        "names the store: {message}"
    );
    let e = c.set(req(set("k1", "lost", None), APP)).await.unwrap_err();
    assert_ne!(e.code(), Code::Ok);

    redis.restart();
    // The host reconnects by itself: every acknowledged write is there, the refused one is not.
    let started = Instant::now();
    let value = loop {
        match c.get(req(get("k1"), APP)).await {
            Ok(r) => break r.into_inner().data,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no reconnect after 20 s: {e:?}\n{}", replica.log()),
        }
    };
    assert_eq!(value, b"v");
    for i in 0..20 {
        let r = c
            .get(req(get(&format!("k{i}")), APP))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.data, b"v", "k{i}");
    }
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(!replica.log().contains(PASSWORD), "{}", replica.log());
}
