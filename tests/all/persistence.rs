//! Durable host buckets survive a host restart, and a `kill -9` of the server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use wasmplug::blocks::state::*;

use crate::replicas::Replica;
use crate::support;

#[tokio::test]
async fn state_survives_a_host_restart() {
    let cfg = support::config(&support::state_store_entry("persist", "durable"));
    let etag = {
        let host = support::load(&cfg);
        let s = host.state_store("persist").await.unwrap();
        s.set(SetRequest::new("order", "42").with_content_type("text/plain"))
            .await
            .unwrap();
        s.set(SetRequest::new("temp", "x")).await.unwrap();
        s.delete(DeleteRequest::new("temp")).await.unwrap();
        s.get(GetRequest::new("order"))
            .await
            .unwrap()
            .unwrap()
            .etag
            .unwrap()
    };
    // Everything from the first host is dropped (bucket files closed); start again.
    let host = support::load(&cfg);
    let s = host.state_store("persist").await.unwrap();
    let item = s
        .get(GetRequest::new("order"))
        .await
        .unwrap()
        .expect("survived the restart");
    assert_eq!(item.data, b"42");
    assert_eq!(item.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        item.etag.as_deref(),
        Some(etag.as_str()),
        "etags survive too"
    );
    assert_eq!(
        s.get(GetRequest::new("temp")).await.unwrap(),
        None,
        "deletes are durable"
    );
    // Versions keep increasing across restarts: a new write never reuses an old etag.
    s.set(SetRequest::new("order", "43").with_etag(&etag))
        .await
        .unwrap();
    let next = s
        .get(GetRequest::new("order"))
        .await
        .unwrap()
        .unwrap()
        .etag
        .unwrap();
    assert_ne!(next, etag);
    assert!(
        cfg.dir
            .path()
            .join("data/persist/default/state.redb")
            .is_file(),
        "bucket file where documented"
    );
}

#[tokio::test]
async fn memory_buckets_do_not_survive_a_restart() {
    let cfg = support::config(&support::state_store_entry("volatile", "memory"));
    {
        let host = support::load(&cfg);
        let s = host.state_store("volatile").await.unwrap();
        s.set(SetRequest::new("k", "v")).await.unwrap();
        assert!(s.get(GetRequest::new("k")).await.unwrap().is_some());
    }
    let host = support::load(&cfg);
    let s = host.state_store("volatile").await.unwrap();
    assert_eq!(s.get(GetRequest::new("k")).await.unwrap(), None);
}

/// Writers of the kill test, and the keys each one cycles through.
const WRITERS: usize = 16;
const KEYS_PER_WRITER: u64 = 4;

/// What one writer of the kill test saw.
struct WriterLog {
    /// Each key's last acknowledged value.
    acked: HashMap<String, u64>,
    /// The write that was under way when the server went away: it may or may not have landed.
    in_flight: (String, u64),
    /// How many writes were acknowledged.
    writes: u64,
}

/// Sets its own keys to 1, 2, 3, ... (each key gets every `KEYS_PER_WRITER`th number) until a
/// write fails, which it takes to mean the server is gone.
async fn write_until_refused(socket: PathBuf, writer: usize) -> WriterLog {
    let store = GrpcStateStore::connect(&socket, "default").await.unwrap();
    let mut acked = HashMap::new();
    let mut seq = 0_u64;
    loop {
        seq += 1;
        let key = format!("w{writer:02}-k{}", seq % KEYS_PER_WRITER);
        if store
            .set(SetRequest::new(key.clone(), seq.to_string()))
            .await
            .is_err()
        {
            return WriterLog {
                acked,
                in_flight: (key, seq),
                writes: seq - 1,
            };
        }
        acked.insert(key, seq);
    }
}

/// `wasmplug serve` killed with SIGKILL while 16 clients write to one durable bucket: after
/// a restart on the same data dir, every key holds its last acknowledged value, or the one
/// write its writer had under way at the kill. An acknowledgement means durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_durable_writes_survive_kill_9_under_load() {
    let cfg = support::config(&support::state_store_entry("crashy", "durable"));
    let mut server = Replica::start(&cfg.path, "crashy").await;
    let socket = server.socket("crashy");
    let setup = GrpcStateStore::connect(&socket, "default").await.unwrap();
    setup.init(Metadata::new()).await.unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until_refused(socket.clone(), w)))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    let mut logs = Vec::new();
    for w in writers {
        let log = tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("a writer kept going after the server was killed")
            .unwrap();
        logs.push(log);
    }
    // The kill came under load: every writer had written each of its keys, and was still
    // writing (each stops only when a write fails).
    let writes: Vec<u64> = logs.iter().map(|l| l.writes).collect();
    assert!(
        writes.iter().all(|&n| n > KEYS_PER_WRITER),
        "acknowledged writes per writer: {writes:?}"
    );

    // Start again on the same data dir: what was acknowledged is there.
    let server = Replica::start(&cfg.path, "crashy").await;
    let store = GrpcStateStore::connect(&server.socket("crashy"), "default")
        .await
        .unwrap();
    store.init(Metadata::new()).await.unwrap();
    for log in &logs {
        for (key, &acked) in &log.acked {
            let item = store.get(GetRequest::new(key.clone())).await.unwrap();
            let found: Option<u64> =
                item.map(|i| std::str::from_utf8(&i.data).unwrap().parse().unwrap());
            let (in_flight_key, in_flight) = &log.in_flight;
            assert!(
                found == Some(acked) || (key == in_flight_key && found == Some(*in_flight)),
                "{key}: acknowledged {acked} (then attempted {in_flight} on {in_flight_key}), found {found:?}"
            );
        }
    }
}
