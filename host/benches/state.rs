//! State-store latency: the Rust wasm guest vs the native in-memory reference, same run.
//!
//! Run: `cargo xtask bench` (builds the guests, then `cargo bench -p wasmplug --bench state`).
//! Prints a table of per-operation latency (median and p99 over batches) for get and set of
//! a 100-byte value, in-process, and the wasm/native ratio.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

mod support;

use std::path::Path;

use support::measure::{Stats, budget, measure};

use wasmplug::blocks::state::{GetRequest, MemoryStateStore, Metadata, SetRequest, StateStore};

const VALUE_LEN: usize = 100;

async fn bench_store(
    name: &str,
    store: &dyn StateStore,
    set_batch: u32,
    rows: &mut Vec<(String, &'static str, Stats)>,
) {
    let value = vec![b'x'; VALUE_LEN];
    store.init(Metadata::new()).await.ok();
    for k in 0..100 {
        store
            .set(SetRequest::new(format!("key-{k}"), value.clone()))
            .await
            .expect("seed");
    }
    let get = measure(1000, budget(), |i| {
        let req = GetRequest::new(format!("key-{}", i % 100));
        async move {
            let item = store.get(req).await.expect("get").expect("present");
            assert_eq!(item.data.len(), VALUE_LEN);
        }
    })
    .await;
    rows.push((name.to_owned(), "get", get));
    let set = measure(set_batch, budget(), |i| {
        let req = SetRequest::new(format!("key-{}", i % 100), value.clone());
        async move { store.set(req).await.expect("set") }
    })
    .await;
    rows.push((name.to_owned(), "set", set));
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let guest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/state-store.wasm");
        assert!(guest.is_file(), "{} missing: run `cargo xtask bench`", guest.display());
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("bench.yaml");
        let mut components = String::new();
        for (name, backend) in [("wasm-memory", "memory"), ("wasm-durable", "durable")] {
            components.push_str(&format!(
                "  - name: {name}\n    type: state\n    wasm: {guest:?}\n    grants:\n      keyValue:\n        - bucket: state\n          backend: {backend}\n"
            ));
        }
        std::fs::write(
            &config,
            format!("apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ndataDir: data\ncomponents:\n{components}"),
        )
        .expect("write config");
        let host = wasmplug::Host::load(&config).expect("load");

        let mut rows = Vec::new();
        let native = MemoryStateStore::new();
        bench_store("native reference", &native, 1000, &mut rows).await;
        let wasm_mem = host.state_store("wasm-memory").await.expect("wasm-memory");
        bench_store("wasm guest, memory bucket", &wasm_mem, 1000, &mut rows).await;
        let wasm_durable = host.state_store("wasm-durable").await.expect("wasm-durable");
        bench_store("wasm guest, durable bucket", &wasm_durable, 10, &mut rows).await;

        println!();
        println!("state store, 100-byte values, in-process, one caller (per-op latency over batches)");
        println!("{:<30} {:>4} {:>12} {:>12} {:>14} {:>12}", "implementation", "op", "median", "p99", "ops/s", "vs native");
        for (name, op, s) in &rows {
            let native = rows.iter().find(|(n, o, _)| n == "native reference" && o == op).map(|r| r.2.median_ns).unwrap_or(f64::NAN);
            println!(
                "{:<30} {:>4} {:>9.2} µs {:>9.2} µs {:>14.0} {:>11.1}x",
                name,
                op,
                s.median_ns / 1000.0,
                s.p99_ns / 1000.0,
                s.ops_per_s,
                s.median_ns / native
            );
        }
    });
}
