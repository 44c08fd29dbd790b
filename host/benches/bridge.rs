//! Bridge latency and throughput: what serving a component over Dapr's pluggable-components
//! gRPC protocol costs, measured against two baselines in the same run.
//!
//! Run (after `cargo xtask build-guests`):
//!
//! ```sh
//! cargo bench -p wasmplug --bench bridge
//! ```
//!
//! Every cell is measured in 3 rounds, interleaved with the other cells so that drift and
//! other load on the machine spread over all of them; a round measures for 1 s after 0.5 s
//! of warm-up. A cell reports the median of its rounds' figures, and the range of the
//! rounds' median latencies shows how steady the machine was. `WASMPLUG_BENCH_SECS`
//! (default 3) sets the measured seconds per cell, split over the rounds.
//!
//! Three servers, each on its own UNIX socket in a temp dir:
//! - **wasm**: the bridge over the state-store guest with a `memory` bucket: exactly the
//!   routes `wasmplug serve` builds (`grpc::routes(bridge::state_factory(..))` served by
//!   `bridge::serve_routes` on a socket from `bridge::bind`);
//! - **native**: the same routes over the native in-memory reference store, so the difference
//!   to **wasm** is the guest;
//! - **echo**: a raw UDS request/response echo of length-prefixed (u32 LE) frames, with a
//!   120-byte payload (about a gRPC Get answer for a 100-byte value): the IPC floor, so the
//!   difference to **native** is gRPC/HTTP/2 plus the adapter.
//!
//! Clients of wasm/native are [`GrpcStateStore`]s (one connection each), all addressing the
//! Dapr instance `bench`, which is initialised once and seeded with 100 keys; they get/set
//! `key-{i % 100}` with a 100-byte value. With 16 clients there are 16 connections, each
//! driven by its own task. Every op is timed; a cell reports the median and p99 of those
//! latencies and the completed ops per second of all clients together.
//!
//! Servers and clients share one process and one tokio runtime with 2 worker threads, so the
//! numbers include both sides' CPU time on the same cores.

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

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use wasmplug::blocks::state::grpc::{SharedStateStore, routes};
use wasmplug::blocks::state::{GetRequest, GrpcStateStore, Metadata, SetRequest, StateStore};
use wasmplug::bridge::state_factory;

const VALUE_LEN: usize = 100;
const KEYS: usize = 100;
const ECHO_PAYLOAD: usize = 120;
const WORKER_THREADS: usize = 2;
/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
/// and then it only does a short smoke pass (everything runs, nothing is measured seriously).
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn warmup() -> Duration {
    if smoke() {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(500)
    }
}
const ROUNDS: usize = 3;
const CLIENTS: [usize; 2] = [1, 16];
const INSTANCE: &str = "bench";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Wasm,
    Native,
    Echo,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Self::Wasm => "(a) bridge, wasm guest",
            Self::Native => "(b) tonic, native store",
            Self::Echo => "(c) raw UDS echo",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    Echo,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
            Self::Echo => "echo",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    median_ns: f64,
    p99_ns: f64,
    ops_per_s: f64,
}

#[derive(Debug)]
struct Row {
    server: Server,
    op: Op,
    clients: usize,
    /// One per round.
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
        }
    }

    /// The lowest and highest median latency of the rounds, in µs.
    fn median_range_us(&self) -> (f64, f64) {
        let it = self.rounds.iter().map(|s| s.median_ns / 1000.0);
        (
            it.clone().fold(f64::INFINITY, f64::min),
            it.fold(0.0, f64::max),
        )
    }
}

/// One connection to one of the servers.
enum Client {
    Grpc {
        store: GrpcStateStore,
        keys: Arc<Vec<String>>,
        value: Vec<u8>,
    },
    Echo {
        stream: BufReader<UnixStream>,
        frame: Vec<u8>,
        reply: Vec<u8>,
    },
}

impl Client {
    async fn connect(server: Server, socket: &Path, keys: &Arc<Vec<String>>) -> Self {
        match server {
            Server::Wasm | Server::Native => Self::Grpc {
                store: GrpcStateStore::connect(socket, INSTANCE)
                    .await
                    .expect("connect"),
                keys: keys.clone(),
                value: vec![b'v'; VALUE_LEN],
            },
            Server::Echo => {
                let mut frame = Vec::with_capacity(4 + ECHO_PAYLOAD);
                frame.extend_from_slice(&u32::try_from(ECHO_PAYLOAD).unwrap().to_le_bytes());
                frame.extend((0..ECHO_PAYLOAD).map(|i| (i % 251) as u8));
                Self::Echo {
                    stream: BufReader::new(UnixStream::connect(socket).await.expect("connect")),
                    frame,
                    reply: vec![0; ECHO_PAYLOAD],
                }
            }
        }
    }

    async fn call(&mut self, op: Op, i: usize) {
        match (self, op) {
            (Self::Grpc { store, keys, .. }, Op::Get) => {
                let item = store
                    .get(GetRequest::new(keys[i % KEYS].clone()))
                    .await
                    .expect("get")
                    .expect("seeded key present");
                assert_eq!(item.data.len(), VALUE_LEN);
            }
            (Self::Grpc { store, keys, value }, Op::Set) => {
                store
                    .set(SetRequest::new(keys[i % KEYS].clone(), value.clone()))
                    .await
                    .expect("set");
            }
            (
                Self::Echo {
                    stream,
                    frame,
                    reply,
                },
                Op::Echo,
            ) => {
                stream.get_mut().write_all(frame).await.expect("echo write");
                let mut len = [0u8; 4];
                stream.read_exact(&mut len).await.expect("echo read");
                assert_eq!(u32::from_le_bytes(len) as usize, ECHO_PAYLOAD);
                stream.read_exact(reply).await.expect("echo read");
                debug_assert_eq!(&reply[..], &frame[4..]);
            }
            _ => unreachable!("op does not match the server"),
        }
    }
}

// ---- the echo server --------------------------------------------------------------------------

async fn echo_server(listener: UnixListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            // A closed connection ends the task; nothing else can fail here.
            let _ = echo_connection(stream).await;
        });
    }
}

/// Answers each length-prefixed frame with the same frame, written with one syscall.
async fn echo_connection(stream: UnixStream) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut frame = Vec::new();
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).await?;
        let n = u32::from_le_bytes(len) as usize;
        frame.clear();
        frame.extend_from_slice(&len);
        frame.resize(4 + n, 0);
        stream.read_exact(&mut frame[4..]).await?;
        stream.get_mut().write_all(&frame).await?;
    }
}

// ---- measuring --------------------------------------------------------------------------------

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
    server: Server,
    socket: &Path,
    op: Op,
    clients: usize,
    window: Duration,
    keys: &Arc<Vec<String>>,
) -> Stats {
    let mut connected = Vec::with_capacity(clients);
    for _ in 0..clients {
        connected.push(Client::connect(server, socket, keys).await);
    }
    let start = Instant::now() + warmup();
    let end = start + window;
    let tasks: Vec<_> = connected
        .into_iter()
        .enumerate()
        .map(|(n, client)| tokio::spawn(drive(client, op, n * 7, start, end)))
        .collect();
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
    }
}

// ---- setup ------------------------------------------------------------------------------------

/// Loads the state-store guest as component `wasm` with an in-memory bucket.
fn load_host(dir: &Path) -> Arc<wasmplug::Host> {
    let guest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/state-store.wasm");
    assert!(
        guest.is_file(),
        "{} missing: run `cargo xtask build-guests` first",
        guest.display()
    );
    let config = dir.join("bench.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ndataDir: data\ncomponents:\n  - name: wasm\n    type: state\n    wasm: {guest:?}\n    grants:\n      keyValue:\n        - bucket: state\n          backend: memory\n"
        ),
    )
    .expect("write config");
    Arc::new(wasmplug::Host::load(&config).expect("load config"))
}

/// Initialises the `bench` instance behind `socket` and writes every key once.
async fn seed(socket: &Path, keys: &[String]) {
    let store = GrpcStateStore::connect(socket, INSTANCE)
        .await
        .expect("connect");
    store.init(Metadata::new()).await.expect("init");
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

fn main() {
    // `cargo bench` passes `--bench`; there are no options.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = load_host(dir.path());
        let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("key-{i}")).collect());
        let window = window();

        // The servers.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stop = || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let socket = |name: &str| -> PathBuf { dir.path().join(format!("{name}.sock")) };
        let (wasm_sock, native_sock, echo_sock) =
            (socket("wasm"), socket("native"), socket("echo"));

        let wasm_routes = routes(state_factory(host.clone(), "wasm")).await;
        let native_routes = routes(wasmplug::bridge::Instances::new("native", |_| {
            Ok(Arc::new(wasmplug::MemoryStateStore::new()) as SharedStateStore)
        }))
        .await;
        let mut grpc_servers = Vec::new();
        for (path, r) in [(&wasm_sock, wasm_routes), (&native_sock, native_routes)] {
            let listener = wasmplug::bridge::bind(path).await.expect("bind");
            grpc_servers.push(tokio::spawn(wasmplug::bridge::serve_routes(
                listener,
                r,
                stop(),
            )));
        }
        let echo = tokio::spawn(echo_server(
            UnixListener::bind(&echo_sock).expect("bind echo"),
        ));

        seed(&wasm_sock, &keys).await;
        seed(&native_sock, &keys).await;

        // The cells, in rounds that interleave the servers so drift affects them alike.
        let mut cells = Vec::new();
        for clients in CLIENTS {
            for op in [Op::Get, Op::Set] {
                cells.push((Server::Wasm, &wasm_sock, op, clients));
                cells.push((Server::Native, &native_sock, op, clients));
            }
            cells.push((Server::Echo, &echo_sock, Op::Echo, clients));
        }
        let mut rows: Vec<Row> = cells
            .iter()
            .map(|&(server, _, op, clients)| Row {
                server,
                op,
                clients,
                rounds: Vec::new(),
            })
            .collect();
        let round_window = window / u32::try_from(ROUNDS).unwrap();
        for _ in 0..ROUNDS {
            for (row, &(server, path, op, clients)) in rows.iter_mut().zip(&cells) {
                let stats = run_cell(server, path, op, clients, round_window, &keys).await;
                row.rounds.push(stats);
            }
        }

        let _ = stop_tx.send(true);
        for s in grpc_servers {
            s.await.expect("server task").expect("server");
        }
        echo.abort();

        print_table(&rows, window);
    });
}

// ---- report -----------------------------------------------------------------------------------

fn print_table(rows: &[Row], window: Duration) {
    let find = |server: Server, op: Op, clients: usize| {
        rows.iter()
            .find(|r| r.server == server && r.op == op && r.clients == clients)
            .map(Row::stats)
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!();
    println!(
        "bridge: get/set of a {VALUE_LEN}-byte value over a UNIX socket; servers and clients in one process,"
    );
    println!(
        "one tokio runtime with {WORKER_THREADS} worker threads ({cores} CPUs available). Per cell {ROUNDS} interleaved \
         rounds of {:.1} s, each after {:.1} s warm-up;",
        window.as_secs_f64() / ROUNDS as f64,
        warmup().as_secs_f64()
    );
    println!(
        "figures are the median over the rounds; \"range\" is the lowest and highest round median."
    );
    println!(
        "N clients = N connections, one task each, all on Dapr instance {INSTANCE:?} (one guest instance for (a))."
    );
    println!(
        "Latency per op; ops/s = completed ops of all clients / time; echo payload {ECHO_PAYLOAD} B."
    );
    println!();
    println!(
        "{:<25} {:>4} {:>7} {:>10} {:>13} {:>9} {:>9}   {:<10} {:>7} {:>7}",
        "server", "op", "clients", "median µs", "range", "p99 µs", "ops/s", "vs", "median", "ops/s"
    );
    let mut sorted: Vec<&Row> = rows.iter().collect();
    let order = |s: Server| match s {
        Server::Wasm => 0,
        Server::Native => 1,
        Server::Echo => 2,
    };
    sorted.sort_by_key(|r| (order(r.server), r.op.label(), r.clients));
    for r in sorted {
        let stats = r.stats();
        let base = match r.server {
            Server::Wasm => find(Server::Native, r.op, r.clients).map(|b| ("native (b)", b)),
            Server::Native => find(Server::Echo, Op::Echo, r.clients).map(|b| ("echo (c)", b)),
            Server::Echo => None,
        };
        let ratio = base.map_or_else(String::new, |(name, b)| {
            format!(
                "{:<10} {:>6.2}x {:>6.2}x",
                name,
                stats.median_ns / b.median_ns,
                stats.ops_per_s / b.ops_per_s
            )
        });
        let (lo, hi) = r.median_range_us();
        let line = format!(
            "{:<25} {:>4} {:>7} {:>10.1} {:>13} {:>9.1} {:>9.0}   {}",
            r.server.label(),
            r.op.label(),
            r.clients,
            stats.median_ns / 1000.0,
            format!("{lo:.1}-{hi:.1}"),
            stats.p99_ns / 1000.0,
            stats.ops_per_s,
            ratio
        );
        println!("{}", line.trim_end());
    }
    println!();
    println!(
        "vs: this row's median latency and ops/s divided by those of the baseline row with the same clients"
    );
    println!(
        "    ((a) against (b): the cost of the wasm guest; (b) against (c): gRPC + adapter over raw IPC)."
    );
}
