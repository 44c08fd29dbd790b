//! State get/set on a Redis key-value store: the state-store guest in process and over the
//! bridge, against the floor, a native program issuing the same Redis commands with the
//! same client crate (`HMGET` for a get, the commit script for a set); and `state-redis`,
//! the guest that speaks RESP to Redis itself on Dapr's `state.redis` layout (one `EVAL` per
//! get and per set), in process and over the bridge, against the same floor.
//!
//! Run (after `cargo xtask build-guests`; needs `redis-server`):
//!
//! ```sh
//! cargo xtask bench redis
//! ```
//!
//! One Redis server on a free port (no persistence, so the numbers are the host's, not the
//! disk's). Every cell is measured in 3 rounds interleaved with the other cells; a round
//! runs for `WASMPLUG_BENCH_SECS / 3` seconds (default 1 s) after a short warm-up. A cell
//! reports the median over rounds of: p50 and p99 latency of single ops, and ops/s of all
//! callers together. 100 keys, 100-byte values. Callers are tokio tasks; with 16 they share
//! what each target shares in production: one multiplexed Redis connection (native), one
//! component instance (in process), one Dapr instance over 16 gRPC connections (bridge).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use wasmplug::blocks::state::{GetRequest, GrpcStateStore, Metadata, SetRequest, StateStore};

const VALUE_LEN: usize = 100;
const KEYS: usize = 100;
const ROUNDS: usize = 3;
const CALLERS: [usize; 2] = [1, 16];

fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn round_time() -> Duration {
    if smoke() {
        return Duration::from_millis(30);
    }
    let secs: f64 = std::env::var("WASMPLUG_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs / ROUNDS as f64)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Native,
    InProcess,
    Bridge,
    GuestResp,
    GuestRespBridge,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Self::Native => "(a) native redis client",
            Self::InProcess => "(b) wasm, in process",
            Self::Bridge => "(c) wasm, over the bridge",
            Self::GuestResp => "(d) state-redis, RESP in the guest",
            Self::GuestRespBridge => "(e) state-redis, over the bridge",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Get,
    Set,
}

/// What one caller calls.
#[derive(Clone)]
enum Caller {
    Native(ConnectionManager, Arc<redis::Script>),
    Store(Arc<dyn StateStore>),
}

fn key(i: usize) -> String {
    format!("key-{}", i % KEYS)
}

impl Caller {
    async fn call(&mut self, op: Op, i: usize) {
        let value = vec![b'v'; VALUE_LEN];
        match (self, op) {
            (Self::Native(con, _), Op::Get) => {
                let entry = format!("wasmplug:{{native/bench/state}}:k:{}", key(i));
                let r: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                    .arg(entry)
                    .arg("v")
                    .arg("ver")
                    .query_async(con)
                    .await
                    .unwrap();
                assert_eq!(r[0].as_ref().unwrap().len(), VALUE_LEN);
            }
            (Self::Native(con, script), Op::Set) => {
                let k = key(i);
                let _: redis::Value = script
                    .key("wasmplug:{native/bench/state}:seq")
                    .key("wasmplug:{native/bench/state}:keys")
                    .key(format!("wasmplug:{{native/bench/state}}:k:{k}"))
                    .arg("")
                    .arg(&k)
                    .arg("s")
                    .arg(value)
                    .invoke_async(con)
                    .await
                    .unwrap();
            }
            (Self::Store(s), Op::Get) => {
                let item = s.get(GetRequest::new(key(i))).await.unwrap().unwrap();
                assert_eq!(item.data.len(), VALUE_LEN);
            }
            (Self::Store(s), Op::Set) => {
                s.set(SetRequest::new(key(i), value)).await.unwrap();
            }
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Stats {
    p50_us: f64,
    p99_us: f64,
    ops_per_s: f64,
}

/// `callers` tasks call `op` for `time`; every op is timed.
async fn round(caller: &Caller, op: Op, callers: usize, time: Duration) -> Stats {
    let warm_until = Instant::now() + time / 5;
    let mut tasks = Vec::new();
    for c in 0..callers {
        let mut caller = caller.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = c * 7;
            while Instant::now() < warm_until {
                caller.call(op, i).await;
                i += 1;
            }
            let until = Instant::now() + time;
            let mut lat = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                caller.call(op, i).await;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by(f64::total_cmp);
    let pick = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize];
    Stats {
        p50_us: pick(0.5),
        p99_us: pick(0.99),
        ops_per_s: all.len() as f64 / time.as_secs_f64(),
    }
}

fn config(dir: &Path, url: &str, port: u16) -> PathBuf {
    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests");
    let wasm = guests.join("state-store.wasm");
    let resp = guests.join("state-redis.wasm");
    assert!(
        wasm.is_file() && resp.is_file(),
        "build the guests first: cargo xtask build-guests"
    );
    let path = dir.join("wasmplug.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ndataDir: data\nkeyValueStores:\n  - name: shared\n    type: redis\n    url: {url}\ncomponents:\n  - name: s\n    type: state\n    wasm: {wasm:?}\n    grants:\n      keyValue:\n        - bucket: state\n          store: shared\n  - name: r\n    type: state\n    wasm: {resp:?}\n    metadata:\n      - name: redisHost\n        value: 127.0.0.1:{port}\n    grants:\n      tcp:\n        - 127.0.0.1:{port}\n"
        ),
    )
    .unwrap();
    path
}

fn median(v: &[Stats], f: fn(&Stats) -> f64) -> f64 {
    let mut x: Vec<f64> = v.iter().map(f).collect();
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let redis = redis_harness::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let host =
        Arc::new(wasmplug::Host::load(config(dir.path(), &redis.url(), redis.port())).unwrap());

    let client = redis::Client::open(redis.url()).unwrap();
    let con = ConnectionManager::new(client).await.unwrap();
    let script = Arc::new(redis::Script::new(include_str!(
        "../src/kv/redis/commit.lua"
    )));
    let native = Caller::Native(con, script);

    let in_process: Arc<dyn StateStore> = Arc::new(host.state_store("s").await.unwrap());
    let in_process = Caller::Store(in_process);

    let sockets = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn({
        let host = host.clone();
        let path = sockets.path().to_owned();
        async move {
            wasmplug::bridge::serve(host, &path, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let over_bridge = async |name: &str| {
        let socket = sockets.path().join(format!("{name}.sock"));
        while !socket.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let client = GrpcStateStore::connect(&socket, "bench").await.unwrap();
        client.init(Metadata::new()).await.unwrap();
        Caller::Store(Arc::new(client))
    };
    let bridge = over_bridge("s").await;
    let guest_resp: Arc<dyn StateStore> = Arc::new(host.state_store("r").await.unwrap());
    let guest_resp = Caller::Store(guest_resp);
    let guest_resp_bridge = over_bridge("r").await;

    // Seed every key in every target's namespace.
    for caller in [
        &native,
        &in_process,
        &bridge,
        &guest_resp,
        &guest_resp_bridge,
    ] {
        let mut c = caller.clone();
        for i in 0..KEYS {
            c.call(Op::Set, i).await;
        }
    }

    let targets = [
        (Target::Native, native),
        (Target::InProcess, in_process),
        (Target::Bridge, bridge),
        (Target::GuestResp, guest_resp),
        (Target::GuestRespBridge, guest_resp_bridge),
    ];
    let time = round_time();
    let mut results: Vec<((Target, Op, usize), Vec<Stats>)> = Vec::new();
    for _ in 0..ROUNDS {
        for op in [Op::Get, Op::Set] {
            for callers in CALLERS {
                for (target, caller) in &targets {
                    let s = round(caller, op, callers, time).await;
                    let cell = (*target, op, callers);
                    match results.iter_mut().find(|(k, _)| *k == cell) {
                        Some((_, v)) => v.push(s),
                        None => results.push((cell, vec![s])),
                    }
                }
            }
        }
    }

    println!("\nstate on Redis ({VALUE_LEN} B values, {ROUNDS} interleaved rounds of {time:?})\n");
    println!(
        "| op | callers | target | p50 µs | p99 µs | ops/s | vs native |\n|---|---|---|---|---|---|---|"
    );
    for op in [Op::Get, Op::Set] {
        for callers in CALLERS {
            let find = |t: Target| {
                let v = &results
                    .iter()
                    .find(|(k, _)| *k == (t, op, callers))
                    .unwrap()
                    .1;
                Stats {
                    p50_us: median(v, |s| s.p50_us),
                    p99_us: median(v, |s| s.p99_us),
                    ops_per_s: median(v, |s| s.ops_per_s),
                }
            };
            let floor = find(Target::Native);
            for t in [
                Target::Native,
                Target::InProcess,
                Target::Bridge,
                Target::GuestResp,
                Target::GuestRespBridge,
            ] {
                let s = find(t);
                let versus = if callers == 1 {
                    format!("latency {:.2}x", s.p50_us / floor.p50_us)
                } else {
                    format!("throughput {:.2}x", s.ops_per_s / floor.ops_per_s)
                };
                println!(
                    "| {op:?} | {callers} | {} | {:.1} | {:.1} | {:.0} | {versus} |",
                    t.label(),
                    s.p50_us,
                    s.p99_us,
                    s.ops_per_s
                );
            }
        }
    }
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
