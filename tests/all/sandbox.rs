//! Hostile guests: faults stay inside one call of one component, and nothing is reachable
//! without a grant.

use std::time::{Duration, Instant};

use wasmplug::blocks::state::*;
use wasmplug::runtime::FaultKind;

use crate::support;

fn hostile_entry(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    type: state\n    wasm: {:?}\n    limits:\n      memoryMiB: 32\n      callTimeout: 1s\n{extra}",
        support::guest("hostile")
    )
}

struct Fixture {
    _cfg: support::TempConfig,
    host: wasmplug::Host,
    shared: std::path::PathBuf,
    peer: std::net::TcpListener,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("hello.txt"), "hello from the host").unwrap();
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let granted = format!(
        "    grants:\n      dirs:\n        - hostPath: shared\n          guestPath: /data\n          readOnly: true\n      env:\n        - name: GREETING\n          value: hi\n      tcp:\n        - 127.0.0.1:{port}\n"
    );
    let components = format!(
        "{}{}{}",
        hostile_entry("hostile", ""),
        hostile_entry("granted", &granted),
        support::state_store_entry("good", "memory")
    );
    let path = support::write_config(dir.path(), &components);
    let host = wasmplug::Host::load(&path).unwrap();
    Fixture {
        _cfg: support::TempConfig { dir, path },
        host,
        shared,
        peer,
    }
}

async fn get(s: &WasmStateStore, key: &str) -> Result<Option<StateItem>, StateError> {
    s.get(GetRequest::new(key)).await
}

fn fault(r: Result<Option<StateItem>, StateError>) -> wasmplug::ComponentError {
    match r {
        Err(StateError::Component(e)) => e,
        other => panic!("expected a component fault, got {other:?}"),
    }
}

async fn good_store_still_serves(f: &Fixture) {
    let good = f.host.state_store("good").await.unwrap();
    good.set(SetRequest::new("alive", "yes")).await.unwrap();
    assert_eq!(get(&good, "alive").await.unwrap().unwrap().data, b"yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_deadline_and_others_keep_serving() {
    let f = fixture();
    let hostile = f.host.state_store("hostile").await.unwrap();
    let good = f.host.state_store("good").await.unwrap();
    let start = Instant::now();
    let looping = tokio::spawn({
        let hostile = hostile.clone();
        async move { get(&hostile, "loop").await }
    });
    // While the guest spins, another component answers promptly.
    tokio::time::sleep(Duration::from_millis(50)).await;
    good.set(SetRequest::new("during", "loop")).await.unwrap();
    assert_eq!(get(&good, "during").await.unwrap().unwrap().data, b"loop");
    assert!(
        !looping.is_finished(),
        "the good component answered while the hostile one was still spinning"
    );

    let e = fault(looping.await.unwrap());
    assert_eq!(e.kind, FaultKind::Deadline, "{e}");
    assert!(
        e.to_string().contains("\"hostile\""),
        "error names the component: {e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "deadline of 1s took {:?}",
        start.elapsed()
    );
    // The instance was rebuilt: the next call works.
    assert_eq!(get(&hostile, "anything").await.unwrap(), None);
    good_store_still_serves(&f).await;
}

#[tokio::test]
async fn memory_bomb_hits_the_limit() {
    let f = fixture();
    let hostile = f.host.state_store("hostile").await.unwrap();
    let e = fault(get(&hostile, "bomb").await);
    assert_eq!(e.kind, FaultKind::MemoryLimit, "{e}");
    assert!(e.message.contains("32 MiB"), "{e}");
    assert_eq!(get(&hostile, "anything").await.unwrap(), None);
    good_store_still_serves(&f).await;
}

/// A guest that never frees (as some language runtimes never free what the host passes in)
/// is replaced between calls before it reaches its limit: no call fails.
#[tokio::test]
async fn a_leaking_guest_is_replaced_between_calls_before_its_limit() {
    let f = fixture();
    let hostile = f.host.state_store("hostile").await.unwrap();
    // 96 MiB in 1 MiB steps through a 32 MiB limit.
    let mut restarts = 0;
    let mut previous = 0;
    for i in 0..96 {
        let leaked = get(&hostile, "leak:1048576").await;
        assert_eq!(
            leaked
                .unwrap_or_else(|e| panic!("call {i} failed: {e}"))
                .unwrap()
                .data,
            b"leaked"
        );
        let calls: u64 = String::from_utf8(get(&hostile, "calls").await.unwrap().unwrap().data)
            .unwrap()
            .parse()
            .unwrap();
        if calls < previous {
            restarts += 1;
        }
        previous = calls;
    }
    assert!(
        restarts >= 3,
        "96 MiB through a 32 MiB instance needs several fresh instances, saw {restarts} restarts"
    );
    // A real blow-up in one call is still a fault.
    assert_eq!(
        fault(get(&hostile, "bomb").await).kind,
        FaultKind::MemoryLimit
    );
}

#[tokio::test]
async fn panicking_guest_is_rebuilt() {
    let f = fixture();
    let hostile = f.host.state_store("hostile").await.unwrap();
    for _ in 0..3 {
        let e = fault(get(&hostile, "panic").await);
        assert_eq!(e.kind, FaultKind::Trap, "{e}");
        assert_eq!(e.operation, "get");
        assert_eq!(
            get(&hostile, "anything").await.unwrap(),
            None,
            "next call succeeds"
        );
    }
    good_store_still_serves(&f).await;
}

#[tokio::test]
async fn no_files_without_a_grant() {
    let f = fixture();
    let hostile = f.host.state_store("hostile").await.unwrap();
    let granted = f.host.state_store("granted").await.unwrap();
    // Positive control: the same guest reads a granted directory...
    let item = get(&granted, "read:/data/hello.txt")
        .await
        .unwrap()
        .expect("read");
    assert_eq!(item.data, b"hello from the host");
    // ...but not outside it, not read-only files for writing, and nothing at all ungranted.
    for key in [
        "read:/data/../../../../etc/hostname",
        "read:/etc/hostname",
        "read:hello.txt",
    ] {
        assert!(
            matches!(get(&granted, key).await, Err(StateError::Other(_))),
            "{key} must fail"
        );
    }
    assert!(
        matches!(
            get(&granted, "write:/data/new.txt").await,
            Err(StateError::Other(_))
        ),
        "read-only grant"
    );
    assert!(!f.shared.join("new.txt").exists());
    for key in ["read:/data/hello.txt", "read:/etc/hostname", "write:/tmp/x"] {
        assert!(
            matches!(get(&hostile, key).await, Err(StateError::Other(_))),
            "{key} must fail without grants"
        );
    }
}

#[tokio::test]
async fn no_sockets_without_a_grant() {
    let f = fixture();
    let addr = f.peer.local_addr().unwrap();
    let hostile = f.host.state_store("hostile").await.unwrap();
    let granted = f.host.state_store("granted").await.unwrap();
    let key = format!("connect:{addr}");
    let item = get(&granted, &key)
        .await
        .unwrap()
        .expect("granted peer connects");
    assert_eq!(item.data, b"connected");
    match get(&hostile, &key).await {
        Err(StateError::Other(m)) => assert!(m.contains("connect"), "{m}"),
        other => panic!("ungranted connect must fail: {other:?}"),
    }
    // A granted component still cannot reach an address it was not granted.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let key = format!("connect:{}", other.local_addr().unwrap());
    assert!(matches!(
        get(&granted, &key).await,
        Err(StateError::Other(_))
    ));
}

/// A peer granted by host name: the guest resolves it (only it) and connects to what it
/// resolves to now; other names cannot even be looked up, other ports stay closed.
#[tokio::test]
async fn a_peer_granted_by_name_resolves_on_connect_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let grants = format!("    grants:\n      tcp:\n        - LOCALHOST:{port}\n");
    let path = support::write_config(dir.path(), &hostile_entry("byname", &grants));
    let host = wasmplug::Host::load(&path).unwrap();
    let s = host.state_store("byname").await.unwrap();

    for key in [
        format!("connect:localhost:{port}"),
        format!("connect:127.0.0.1:{port}"),
    ] {
        let item = get(&s, &key)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert_eq!(item.expect("connected").data, b"connected", "{key}");
    }
    for key in [
        format!("connect:localhost:{other_port}"),
        format!("connect:127.0.0.1:{other_port}"),
        format!("connect:ip6-localhost:{port}"),
        format!("connect:example.invalid:{port}"),
    ] {
        match get(&s, &key).await {
            // Refused by the sandbox (lookup or connect), not by the resolver or the peer.
            Err(StateError::Other(m)) => assert!(m.contains("Permission denied"), "{key}: {m}"),
            other => panic!("{key} must be refused: {other:?}"),
        }
    }
}

/// A guest parked in a host wait (reading from a peer that accepted and went silent, as a
/// hung Redis does) is not running wasm, so no epoch tick can stop it: the wall-clock bound
/// does, and the rebuilt instance serves the next call.
#[tokio::test]
async fn a_call_waiting_on_a_silent_peer_ends_at_its_deadline() {
    let f = fixture();
    let granted = f.host.state_store("granted").await.unwrap();
    let addr = f.peer.local_addr().unwrap();
    let start = Instant::now();
    let e = fault(get(&granted, &format!("await:{addr}")).await);
    let took = start.elapsed();
    assert_eq!(e.kind, FaultKind::Deadline, "{e}");
    assert!(
        e.to_string().contains("\"granted\""),
        "names the component: {e}"
    );
    // callTimeout is 1s; the error must come soon after it, not when the peer gives up.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    assert_eq!(get(&granted, "anything").await.unwrap(), None);
}

#[tokio::test]
async fn env_only_as_granted() {
    let f = fixture();
    let hostile = f.host.state_store("hostile").await.unwrap();
    let granted = f.host.state_store("granted").await.unwrap();
    assert_eq!(
        get(&granted, "env:GREETING").await.unwrap().unwrap().data,
        b"hi"
    );
    assert_eq!(get(&hostile, "env:GREETING").await.unwrap(), None);
    assert_eq!(
        get(&hostile, "env:PATH").await.unwrap(),
        None,
        "host env is never inherited"
    );
    assert_eq!(get(&granted, "env:HOME").await.unwrap(), None);
}

#[test]
fn guest_stderr_and_logs_go_to_tracing() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let f = fixture();
            let hostile = f.host.state_store("hostile").await.unwrap();
            assert_eq!(
                get(&hostile, "log:marker-123").await.unwrap().unwrap().data,
                b"logged"
            );
        });
    });
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("marker-123")).collect();
    assert!(
        lines.len() >= 2,
        "stderr line and log call both reach tracing:\n{out}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.contains("component=hostile") || l.contains("component=\"hostile\"")),
        "{out}"
    );
}
