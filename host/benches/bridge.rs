//! Bridge latency, throughput and server CPU: `wasmplug serve` against a bare, hand-written
//! tonic state store, measured side by side in one run.
//!
//! Run (after `cargo xtask build-guests`):
//!
//! ```sh
//! cargo xtask bench bridge        # or: cargo bench -p wasmplug --bench bridge -- --bench
//! ```
//!
//! Every server is its own process, as it is next to daprd, so its CPU time can be read off
//! `/proc/<pid>/task/*/schedstat` (nanoseconds, every thread) and divided by the calls it
//! answered in the measured window:
//! - **bare**: a bare tonic server (`Server::builder().add_service(StateStoreServer)`) over a
//!   `Mutex<HashMap>`, on tokio's default multi-threaded runtime: the hand-written reference
//!   a Dapr user could write in Rust without us;
//! - **adapter**: our gRPC adapter and routes (reflection, health, instance multiplexing)
//!   over the native in-memory reference store, same runtime: the bridge without wasm;
//! - **wasm**: `wasmplug serve` itself (the binary) over the state-store guest with a
//!   `memory` bucket, one instance (`concurrency: 1`);
//! - **wasm pool**: the same with `concurrency: 16`, so 16 calls run in the guest at once;
//! - **wasm durable** / **durable pool**: the same guest on a `durable` bucket (redb, every
//!   acknowledged Set on disk), one instance and a pool of 16.
//!
//! Clients are `GrpcStateStore`s (tonic, one HTTP/2 connection each, the call shape daprd
//! uses: unary calls with `x-component-instance`), in this process on its own 2-thread
//! runtime, all addressing Dapr instance `bench`, initialised once and seeded with 100 keys;
//! they get/set `key-{i % 100}` with a 100-byte value. Client and server share the machine's
//! cores, as daprd and its components do.
//!
//! Every cell is measured in 3 rounds interleaved with the other cells, so drift spreads over
//! all of them; a round measures for 1 s after 0.5 s of warm-up (`WASMPLUG_BENCH_SECS`,
//! default 3, sets the measured seconds per cell). A cell reports the median over its rounds.
//! `WASMPLUG_BENCH_ONLY=wasm,bare` limits the run to some servers (e.g. to profile one with
//! `perf record -p`; each server's pid is printed at start).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::{Request, Response, Status};
use wasmplug::blocks::state::grpc::{SharedStateStore, routes};
use wasmplug::blocks::state::{GetRequest, GrpcStateStore, Metadata, SetRequest, StateStore};
use wasmplug::proto as pb;

const VALUE_LEN: usize = 100;
const KEYS: usize = 100;
const CLIENT_THREADS: usize = 2;
const ROUNDS: usize = 3;
const CLIENTS: [usize; 2] = [1, 16];
const POOL: usize = 16;
const INSTANCE: &str = "bench";

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
/// and then it only does a short smoke pass (everything runs, nothing is measured seriously).
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn warmup() -> Duration {
    Duration::from_millis(if smoke() { 20 } else { 500 })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Server {
    Bare,
    Adapter,
    Wasm,
    WasmPool,
    Durable,
    DurablePool,
}

impl Server {
    const ALL: [Server; 6] = [
        Server::Bare,
        Server::Adapter,
        Server::Wasm,
        Server::WasmPool,
        Server::Durable,
        Server::DurablePool,
    ];

    fn id(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Adapter => "adapter",
            Self::Wasm => "wasm",
            Self::WasmPool => "wasm-pool",
            Self::Durable => "durable",
            Self::DurablePool => "durable-pool",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Bare => "bare tonic, native map",
            Self::Adapter => "our adapter, native map",
            Self::Wasm => "wasm, memory bucket",
            Self::WasmPool => "wasm pool 16, memory",
            Self::Durable => "wasm, durable bucket",
            Self::DurablePool => "wasm pool 16, durable",
        }
    }

    /// The `wasmplug serve` config line that differs: bucket backend and pool size.
    fn wasm_setup(self) -> Option<(&'static str, usize)> {
        match self {
            Self::Bare | Self::Adapter => None,
            Self::Wasm => Some(("memory", 1)),
            Self::WasmPool => Some(("memory", POOL)),
            Self::Durable => Some(("durable", 1)),
            Self::DurablePool => Some(("durable", POOL)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    median_ns: f64,
    p99_ns: f64,
    ops_per_s: f64,
    /// Server CPU time (all threads) per completed call.
    cpu_ns_per_call: f64,
}

#[derive(Debug)]
struct Row {
    server: Server,
    op: Op,
    clients: usize,
    rounds: Vec<Stats>,
}

impl Row {
    /// The median over the rounds of each figure.
    fn stats(&self) -> Stats {
        let median = |f: fn(&Stats) -> f64| {
            let mut v: Vec<f64> = self.rounds.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Stats {
            median_ns: median(|s| s.median_ns),
            p99_ns: median(|s| s.p99_ns),
            ops_per_s: median(|s| s.ops_per_s),
            cpu_ns_per_call: median(|s| s.cpu_ns_per_call),
        }
    }
}

// ---- the bare tonic server (and the adapter one), run as child processes of this binary ------

/// A hand-written Dapr state store: Init, Features, Ping, Get and Set over a locked map.
#[derive(Debug, Default)]
struct Bare {
    map: Mutex<HashMap<String, (Vec<u8>, u64)>>,
}

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::state_store_server::StateStore for Bare {
    async fn init(&self, _: Request<pb::InitRequest>) -> R<pb::InitResponse> {
        Ok(Response::new(pb::InitResponse {}))
    }
    async fn features(&self, _: Request<pb::FeaturesRequest>) -> R<pb::FeaturesResponse> {
        Ok(Response::new(pb::FeaturesResponse {
            features: vec!["ETAG".into()],
        }))
    }
    async fn delete(&self, r: Request<pb::DeleteRequest>) -> R<pb::DeleteResponse> {
        self.map.lock().unwrap().remove(&r.into_inner().key);
        Ok(Response::new(pb::DeleteResponse {}))
    }
    async fn get(&self, r: Request<pb::GetRequest>) -> R<pb::GetResponse> {
        let key = r.into_inner().key;
        let map = self.map.lock().unwrap();
        let (data, etag) = map
            .get(&key)
            .map(|(d, v)| {
                (
                    d.clone(),
                    Some(pb::Etag {
                        value: v.to_string(),
                    }),
                )
            })
            .unwrap_or_default();
        Ok(Response::new(pb::GetResponse {
            data,
            etag,
            metadata: HashMap::new(),
            content_type: String::new(),
        }))
    }
    async fn set(&self, r: Request<pb::SetRequest>) -> R<pb::SetResponse> {
        let r = r.into_inner();
        let mut map = self.map.lock().unwrap();
        let version = map.get(&r.key).map_or(1, |(_, v)| v + 1);
        map.insert(r.key, (r.value, version));
        Ok(Response::new(pb::SetResponse {}))
    }
    async fn ping(&self, _: Request<pb::PingRequest>) -> R<pb::PingResponse> {
        Ok(Response::new(pb::PingResponse {}))
    }
    async fn bulk_delete(&self, _: Request<pb::BulkDeleteRequest>) -> R<pb::BulkDeleteResponse> {
        Err(Status::unimplemented("bulk delete"))
    }
    async fn bulk_get(&self, _: Request<pb::BulkGetRequest>) -> R<pb::BulkGetResponse> {
        Err(Status::unimplemented("bulk get"))
    }
    async fn bulk_set(&self, _: Request<pb::BulkSetRequest>) -> R<pb::BulkSetResponse> {
        Err(Status::unimplemented("bulk set"))
    }
}

/// Runs `--serve-bare SOCKET` / `--serve-adapter SOCKET` (this binary, re-executed).
fn serve_child(kind: &str, socket: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = UnixListener::bind(socket).expect("bind");
        let incoming = UnixListenerStream::new(listener);
        match kind {
            "--serve-bare" => tonic::transport::Server::builder()
                .add_service(pb::state_store_server::StateStoreServer::new(
                    Bare::default(),
                ))
                .serve_with_incoming(incoming)
                .await
                .expect("serve"),
            _ => {
                let routes = routes(wasmplug::bridge::Instances::new("adapter", |_| {
                    Ok(Arc::new(wasmplug::MemoryStateStore::new()) as SharedStateStore)
                }))
                .await;
                tonic::transport::Server::builder()
                    .add_routes(routes)
                    .serve_with_incoming(incoming)
                    .await
                    .expect("serve");
            }
        }
    });
}

/// A server process, killed when dropped.
struct Proc {
    child: Child,
    socket: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// CPU time of every thread of the process, in ns.
    fn cpu_ns(&self) -> u64 {
        let tasks = format!("/proc/{}/task", self.child.id());
        let Ok(dir) = std::fs::read_dir(tasks) else {
            return 0;
        };
        dir.filter_map(Result::ok)
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

fn guest() -> PathBuf {
    let guest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/state-store.wasm");
    assert!(
        guest.is_file(),
        "{} missing: run `cargo xtask build-guests` first",
        guest.display()
    );
    guest
}

/// Starts `server` with its socket in `dir`, and waits until the socket answers.
async fn start(server: Server, dir: &Path) -> Proc {
    start_with(server, dir, "").await
}

/// [`start`], with `limits` (YAML lines under `limits:`) for a wasm server.
async fn start_with(server: Server, dir: &Path, limits: &str) -> Proc {
    let folder = dir.join(server.id());
    std::fs::create_dir_all(&folder).unwrap();
    let child = match server.wasm_setup() {
        None => {
            let socket = folder.join("state.sock");
            let flag = match server {
                Server::Bare => "--serve-bare",
                _ => "--serve-adapter",
            };
            Command::new(std::env::current_exe().unwrap())
                .arg(flag)
                .arg(&socket)
                .spawn()
                .expect("spawn server")
        }
        Some((backend, concurrency)) => {
            let config = folder.join("wasmplug.yaml");
            std::fs::write(
                &config,
                format!(
                    "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ndataDir: data\ncomponents:\n  - name: state\n    type: state\n    wasm: {:?}\n{}    limits:\n      maxInstances: 100000\n{limits}    grants:\n      keyValue:\n        - bucket: state\n          backend: {backend}\n",
                    guest(),
                    if concurrency > 1 { format!("    concurrency: {concurrency}\n") } else { String::new() }
                ),
            )
            .unwrap();
            Command::new(env!("CARGO_BIN_EXE_wasmplug"))
                .args(["serve", "--sockets-folder"])
                .arg(&folder)
                .arg(&config)
                .env("WASMPLUG_LOG", "warn")
                .spawn()
                .expect("spawn wasmplug serve")
        }
    };
    let proc = Proc {
        child,
        socket: folder.join("state.sock"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(store) = GrpcStateStore::connect(&proc.socket, INSTANCE).await
            && store.init(Metadata::new()).await.is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "{} did not start", server.id());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proc
}

// ---- measuring --------------------------------------------------------------------------------

struct Client {
    store: GrpcStateStore,
    keys: Arc<Vec<String>>,
    value: Vec<u8>,
}

impl Client {
    async fn call(&mut self, op: Op, i: usize) {
        let key = self.keys[i % KEYS].clone();
        match op {
            Op::Get => {
                let item = self
                    .store
                    .get(GetRequest::new(key))
                    .await
                    .expect("get")
                    .expect("seeded key present");
                assert_eq!(item.data.len(), VALUE_LEN);
            }
            Op::Set => self
                .store
                .set(SetRequest::new(key, self.value.clone()))
                .await
                .expect("set"),
        }
    }
}

/// Drives `client` until `end`, timing every op; keeps the ops that ran wholly in
/// `[start, end]`.
async fn drive(mut client: Client, op: Op, first: usize, start: Instant, end: Instant) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut i = first;
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        client.call(op, i).await;
        let done = Instant::now();
        if t >= start && done <= end {
            latencies.push(u64::try_from((done - t).as_nanos()).unwrap_or(u64::MAX));
        }
        i = i.wrapping_add(1);
    }
    latencies
}

async fn run_cell(
    proc: &Proc,
    op: Op,
    clients: usize,
    window: Duration,
    keys: &Arc<Vec<String>>,
) -> Stats {
    let mut connected = Vec::with_capacity(clients);
    for _ in 0..clients {
        connected.push(Client {
            store: GrpcStateStore::connect(&proc.socket, INSTANCE)
                .await
                .expect("connect"),
            keys: keys.clone(),
            value: vec![b'v'; VALUE_LEN],
        });
    }
    let start = Instant::now() + warmup();
    let end = start + window;
    let tasks: Vec<_> = connected
        .into_iter()
        .enumerate()
        .map(|(n, client)| tokio::spawn(drive(client, op, n * 7, start, end)))
        .collect();
    tokio::time::sleep_until(start.into()).await;
    let cpu_start = proc.cpu_ns();
    tokio::time::sleep_until(end.into()).await;
    let cpu = proc.cpu_ns().saturating_sub(cpu_start);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    assert!(!all.is_empty(), "no op completed in the window");
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize] as f64;
    Stats {
        median_ns: pick(0.5),
        p99_ns: pick(0.99),
        ops_per_s: all.len() as f64 / window.as_secs_f64(),
        cpu_ns_per_call: cpu as f64 / all.len() as f64,
    }
}

/// Writes every key once.
async fn seed(socket: &Path, keys: &[String]) {
    let store = GrpcStateStore::connect(socket, INSTANCE)
        .await
        .expect("connect");
    for k in keys {
        store
            .set(SetRequest::new(k.clone(), vec![b'v'; VALUE_LEN]))
            .await
            .expect("seed");
    }
}

fn window() -> Duration {
    std::env::var("WASMPLUG_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(
            if smoke() {
                Duration::from_millis(150)
            } else {
                Duration::from_secs(3)
            },
            Duration::from_secs_f64,
        )
}

fn selected() -> Vec<Server> {
    let only = std::env::var("WASMPLUG_BENCH_ONLY").unwrap_or_default();
    let wanted: Vec<&str> = only.split(',').filter(|s| !s.is_empty()).collect();
    let mut servers: Vec<Server> = Server::ALL
        .into_iter()
        .filter(|s| wanted.is_empty() || wanted.contains(&s.id()))
        .collect();
    // Ratios need the bare baseline.
    if !servers.contains(&Server::Bare) {
        servers.insert(0, Server::Bare);
    }
    servers
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, socket] = &args[..]
        && flag.starts_with("--serve-")
    {
        serve_child(flag, Path::new(socket));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("key-{i}")).collect());
        let window = window();
        let servers = selected();
        let mut procs = Vec::new();
        for &s in &servers {
            let p = start(s, dir.path()).await;
            seed(&p.socket, &keys).await;
            eprintln!("server {:<13} pid {}", s.id(), p.child.id());
            procs.push((s, p));
        }

        let mut rows = Vec::new();
        for clients in CLIENTS {
            for op in [Op::Get, Op::Set] {
                for &(server, _) in &procs {
                    rows.push(Row {
                        server,
                        op,
                        clients,
                        rounds: Vec::new(),
                    });
                }
            }
        }
        let round_window = window / u32::try_from(ROUNDS).unwrap();
        for _ in 0..ROUNDS {
            for row in &mut rows {
                let proc = &procs.iter().find(|(s, _)| *s == row.server).unwrap().1;
                let stats = run_cell(proc, row.op, row.clients, round_window, &keys).await;
                row.rounds.push(stats);
            }
        }
        drop(procs);
        print_table(&rows, window);
        many_instances(dir.path()).await;
        startup(dir.path()).await;
    });
}

// ---- start-up -----------------------------------------------------------------------------------

/// `wasmplug serve` on the quickstart and polyglot examples (copied into a temp dir, guests
/// from `target/guests`, compile cache warmed by a first start): from spawning the process
/// to every socket accepting connections, and to the `wasmplug ready` line (every component
/// loaded). Median of 5 starts.
async fn startup(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guests = root.join("target/guests");
    println!("start-up of `wasmplug serve` from spawn, compile cache warm (median of 5)");
    println!();
    println!(
        "| {:<10} | {:>7} | {:>16} | {:>20} |",
        "example", "sockets", "all listening", "every component ready"
    );
    println!("|{:-<12}|{:-<9}|{:-<18}|{:-<22}|", "", "", "", "");
    for example in ["quickstart", "polyglot"] {
        let yaml = std::fs::read_to_string(root.join(format!("examples/{example}/wasmplug.yaml")))
            .expect("example config")
            .replace("../../target/guests/", &format!("{}/", guests.display()));
        let base = dir.join(format!("startup-{example}"));
        for d in ["files/py", "files/js", "secrets"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        let config = base.join("wasmplug.yaml");
        std::fs::write(&config, yaml).unwrap();
        let names: Vec<String> = wasmplug::config::Config::load(&config)
            .expect("example config loads")
            .components
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let (mut listening, mut ready) = (Vec::new(), Vec::new());
        let runs = if smoke() { 2 } else { 6 };
        for run in 0..runs {
            let folder = base.join(format!("sockets-{run}"));
            let spawned = Instant::now();
            let mut child = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
                .args(["serve", "--sockets-folder"])
                .arg(&folder)
                .arg(&config)
                .env("WASMPLUG_LOG", "info")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn wasmplug serve");
            let stderr = child.stderr.take().unwrap();
            let ready_line = std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr).lines() {
                    if line.ok()?.contains("wasmplug ready") {
                        return Some(spawned.elapsed());
                    }
                }
                None
            });
            let sockets: Vec<PathBuf> = names
                .iter()
                .map(|n| folder.join(format!("{n}.sock")))
                .collect();
            let mut pending = sockets.clone();
            while !pending.is_empty() {
                let mut still = Vec::new();
                for p in pending {
                    if std::os::unix::net::UnixStream::connect(&p).is_err() {
                        still.push(p);
                    }
                }
                pending = still;
                if !pending.is_empty() {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                assert!(
                    spawned.elapsed() < Duration::from_secs(120),
                    "{example}: sockets never appeared"
                );
            }
            let all_listening = spawned.elapsed();
            let loaded = ready_line.join().unwrap().expect("a ready line");
            let _ = child.kill();
            let _ = child.wait();
            // The first start fills the compile cache; it is not counted.
            if run > 0 {
                listening.push(all_listening);
                ready.push(loaded);
            }
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort_unstable();
            v[v.len() / 2].as_secs_f64() * 1000.0
        };
        println!(
            "| {:<10} | {:>7} | {:>13.1} ms | {:>17.1} ms |",
            example,
            names.len(),
            median(&mut listening),
            median(&mut ready)
        );
    }
    println!();
}

// ---- many Dapr instances on one socket -------------------------------------------------------

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `WASMPLUG_BENCH_INSTANCES` (default 1000) Dapr instance names, each initialised and used
/// once (a Set and a Get) on one `wasmplug serve` over the state-store guest, on a memory
/// and on a durable bucket: the server's RSS before and after, and per instance.
async fn many_instances(dir: &Path) {
    let n: usize = std::env::var("WASMPLUG_BENCH_INSTANCES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke() { 20 } else { 1000 });
    println!(
        "many instances: {n} x-component-instance names on one socket, each Init + Set + Get once"
    );
    println!();
    println!(
        "| {:<22} | {:>10} | {:>10} | {:>12} | {:>9} | {:>13} |",
        "server", "RSS before", "RSS after", "per instance", "time", "after idle 2s"
    );
    println!(
        "|{:-<24}|{:-<12}|{:-<12}|{:-<14}|{:-<11}|{:-<15}|",
        "", "", "", "", "", ""
    );
    for server in [Server::Wasm, Server::Durable] {
        let dir = dir.join(format!("many-{}", server.id()));
        let proc = start_with(server, &dir, "      idleTimeout: 2s\n").await;
        let channel = wasmplug::blocks::state::grpc::connect_socket(&proc.socket)
            .await
            .expect("connect");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss(proc.child.id());
        let started = Instant::now();
        for i in 0..n {
            let store = GrpcStateStore::new(channel.clone(), &format!("app-{i}")).expect("client");
            store.init(Metadata::new()).await.expect("init");
            store
                .set(SetRequest::new("k", vec![b'v'; VALUE_LEN]))
                .await
                .expect("set");
            store
                .get(GetRequest::new("k"))
                .await
                .expect("get")
                .expect("present");
        }
        let took = started.elapsed();
        let after = rss(proc.child.id());
        // Every instance has been idle past its timeout once the sweeper has run.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let evicted = rss(proc.child.id());
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        println!(
            "| {:<22} | {:>6.1} MiB | {:>6.1} MiB | {:>8.1} KiB | {:>7.2} s | {:>9.1} MiB |",
            server.label(),
            mib(before),
            mib(after),
            after.saturating_sub(before) as f64 / 1024.0 / n as f64,
            took.as_secs_f64(),
            mib(evicted)
        );
    }
    println!();
}

// ---- report -----------------------------------------------------------------------------------

fn print_table(rows: &[Row], window: Duration) {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!();
    println!(
        "bridge: state get/set of a {VALUE_LEN}-byte value over a UNIX socket, each server its own process; \
         clients in the bench process ({CLIENT_THREADS} threads); {cores} CPUs."
    );
    println!(
        "Per cell {ROUNDS} interleaved rounds of {:.1} s after {:.1} s warm-up; figures are medians over the rounds.",
        window.as_secs_f64() / ROUNDS as f64,
        warmup().as_secs_f64()
    );
    println!(
        "N clients = N connections; cpu/call = server process CPU time (all threads) / calls; x = against bare tonic."
    );
    println!();
    println!(
        "| {:<24} | {:>3} | {:>2} | {:>8} | {:>8} | {:>8} | {:>9} | {:>7} | {:>7} | {:>7} | {:>7} |",
        "server",
        "op",
        "N",
        "p50 µs",
        "p99 µs",
        "ops/s",
        "cpu/call",
        "p50 x",
        "p99 x",
        "ops x",
        "cpu x"
    );
    println!(
        "|{:-<26}|{:-<5}|{:-<4}|{:-<10}|{:-<10}|{:-<10}|{:-<11}|{:-<9}|{:-<9}|{:-<9}|{:-<9}|",
        "", "", "", "", "", "", "", "", "", "", ""
    );
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.op.label(), r.clients, r.server));
    for r in sorted {
        let s = r.stats();
        let bare = rows
            .iter()
            .find(|b| b.server == Server::Bare && b.op == r.op && b.clients == r.clients)
            .map(Row::stats)
            .unwrap_or(s);
        println!(
            "| {:<24} | {:>3} | {:>2} | {:>8.1} | {:>8.1} | {:>8.0} | {:>6.1} µs | {:>6.2}x | {:>6.2}x | {:>6.2}x | {:>6.2}x |",
            r.server.label(),
            r.op.label(),
            r.clients,
            s.median_ns / 1000.0,
            s.p99_ns / 1000.0,
            s.ops_per_s,
            s.cpu_ns_per_call / 1000.0,
            s.median_ns / bare.median_ns,
            s.p99_ns / bare.p99_ns,
            s.ops_per_s / bare.ops_per_s,
            s.cpu_ns_per_call / bare.cpu_ns_per_call,
        );
    }
    println!();
}
