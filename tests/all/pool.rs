//! Instance pools (`concurrency`), the call deadline counted from arrival, cancelled calls
//! and idle eviction, driven through the hostile guest: `await:ADDR` parks a call on a
//! silent TCP peer, `calls` counts the calls its instance has answered.

use std::time::{Duration, Instant};

use wasmplug::blocks::state::*;
use wasmplug::runtime::FaultKind;

use crate::support;

struct Fixture {
    _cfg: support::TempConfig,
    host: wasmplug::Host,
    /// Accepts connections and never writes: a call awaiting it parks until its deadline.
    _peer: std::net::TcpListener,
    park: String,
}

/// The hostile guest as component `hostile`, with `extra` component keys and `limits`.
fn fixture(extra: &str, limits: &str) -> Fixture {
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = peer.local_addr().unwrap();
    let components = format!(
        "  - name: hostile\n    type: state\n    wasm: {:?}\n{extra}    limits:\n      callTimeout: 1s\n{limits}    grants:\n      tcp:\n        - {addr}\n",
        support::guest("hostile")
    );
    let cfg = support::config(&components);
    let host = support::load(&cfg);
    Fixture {
        _cfg: cfg,
        host,
        _peer: peer,
        park: format!("await:{addr}"),
    }
}

async fn calls(s: &WasmStateStore) -> u64 {
    let item = s.get(GetRequest::new("calls")).await.unwrap().unwrap();
    String::from_utf8(item.data).unwrap().parse().unwrap()
}

fn fault(r: Result<Option<StateItem>, StateError>) -> wasmplug::ComponentError {
    match r {
        Err(StateError::Component(e)) => e,
        other => panic!("expected a component fault, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_runs_calls_at_once() {
    for (concurrency, third_waits) in [(1, true), (3, false)] {
        let f = fixture(&format!("    concurrency: {concurrency}\n"), "");
        let store = f.host.state_store("hostile").await.unwrap();
        let parked: Vec<_> = (0..2)
            .map(|_| {
                let (store, key) = (store.clone(), f.park.clone());
                tokio::spawn(async move { store.get(GetRequest::new(key)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let started = Instant::now();
        let third = tokio::time::timeout(
            Duration::from_millis(500),
            store.get(GetRequest::new("calls")),
        )
        .await;
        if third_waits {
            assert!(
                third.is_err(),
                "one instance, parked: the third call queues"
            );
        } else {
            let answered = third.expect("a free pooled instance answers at once");
            assert!(answered.unwrap().is_some());
            assert!(started.elapsed() < Duration::from_millis(500));
        }
        for p in parked {
            let e = fault(p.await.unwrap());
            assert_eq!(e.kind, FaultKind::Deadline, "{e}");
        }
        // Every instance serves again.
        assert!(calls(&store).await >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_timeout_counts_the_wait_for_an_instance() {
    let f = fixture("", "");
    let store = f.host.state_store("hostile").await.unwrap();
    let started = Instant::now();
    // Eight calls on one instance, each parked until its deadline: served one after the
    // other, the last would end after 8 s. Every one ends within its own 1 s instead.
    let queued: Vec<_> = (0..8)
        .map(|_| {
            let (store, key) = (store.clone(), f.park.clone());
            tokio::spawn(async move { store.get(GetRequest::new(key)).await })
        })
        .collect();
    let mut waited_out = 0;
    for q in queued {
        let e = fault(q.await.unwrap());
        assert_eq!(e.kind, FaultKind::Deadline, "{e}");
        if e.message
            .contains("no instance became free within the 1s call limit")
        {
            waited_out += 1;
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1800), "{took:?}");
    assert!(waited_out >= 1, "some calls failed waiting, saying so");
    assert!(calls(&store).await >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_leaves_the_next_caller_a_working_instance() {
    let f = fixture("", "");
    let store = f.host.state_store("hostile").await.unwrap();
    assert_eq!(calls(&store).await, 1);
    // The caller gives up while the guest is inside the call (as daprd's timeouts do).
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        store.get(GetRequest::new(&f.park)),
    )
    .await;
    assert!(cancelled.is_err(), "the parked call was still running");
    // The next, unrelated call is answered, by a fresh instance (the abandoned one is gone).
    for expected in 1..=3 {
        assert_eq!(calls(&store).await, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_instance_is_dropped_and_rebuilt_by_the_next_call() {
    let f = fixture("", "      idleTimeout: 1s\n");
    let store = f.host.state_store("hostile").await.unwrap();
    assert_eq!(calls(&store).await, 1);
    assert_eq!(calls(&store).await, 2);
    // Idle past the timeout (the sweeper runs about once a second): the instance is dropped,
    // and with it what the guest kept in its memory (here, its call counter).
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(calls(&store).await, 1, "a fresh instance answers");
    assert_eq!(calls(&store).await, 2);
}
