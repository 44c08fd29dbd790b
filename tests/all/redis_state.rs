//! `state-redis`: the guest that talks RESP to Redis itself over granted TCP, on the data
//! layout of Dapr's native `state.redis` (a hash per key: `data`, `version`, `first-write`).
//! Every test starts its own `redis-server` (and fails, never skips, without one).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use redis_harness::{Options, RedisServer};
use wasmplug::blocks::state::*;

use crate::support;

/// A `state-redis` entry for `redis`, with `extra` metadata pairs and the tcp grant (unless
/// `grant` is false).
fn entry(name: &str, port: u16, extra: &[(&str, &str)], grant: bool) -> String {
    let mut metadata = format!("      - name: redisHost\n        value: 127.0.0.1:{port}\n");
    for (k, v) in extra {
        metadata.push_str(&format!("      - name: {k}\n        value: {v:?}\n"));
    }
    let grants = if grant {
        format!("    grants:\n      tcp:\n        - 127.0.0.1:{port}\n")
    } else {
        String::new()
    };
    format!(
        "  - name: {name}\n    type: state\n    wasm: {:?}\n    metadata:\n{metadata}{grants}",
        support::guest("state-redis")
    )
}

/// `HGETALL key` through `redis-cli`, as a map.
fn hgetall(redis: &RedisServer, key: &str) -> HashMap<String, String> {
    let out = redis.cli(&["HGETALL", key]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len() % 2, 0, "HGETALL {key}: {out:?}");
    lines
        .chunks(2)
        .map(|p| (p[0].to_owned(), p[1].to_owned()))
        .collect()
}

fn fields(map: &HashMap<String, String>) -> Vec<&str> {
    let mut f: Vec<&str> = map.keys().map(String::as_str).collect();
    f.sort_unstable();
    f
}

fn assert_mismatch<T: std::fmt::Debug>(r: Result<T, StateError>, what: &str) {
    match r {
        Err(StateError::EtagMismatch(_)) => {}
        other => panic!("{what}: expected an etag mismatch, got {other:?}"),
    }
}

async fn get(s: &WasmStateStore, key: &str) -> Option<StateItem> {
    s.get(GetRequest::new(key)).await.unwrap()
}

#[tokio::test]
async fn meets_the_contract_in_process() {
    let redis = RedisServer::start();
    let cfg = support::config(&entry("redis-state", redis.port(), &[], true));
    let host = support::load(&cfg);
    let s = host.state_store("redis-state").await.unwrap();
    crate::state_contract::contract(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meets_the_contract_through_the_bridge() {
    let redis = RedisServer::start();
    let served = crate::bridge::serve(&entry("redis-bridge", redis.port(), &[], true)).await;
    let store = served.client("redis-bridge", "dapr-app").await;
    store.init(Metadata::new()).await.unwrap();
    crate::state_contract::contract(&store).await;
    served.stop().await.unwrap();
}

/// Keys as Dapr's native component leaves them read right, and updating them follows Dapr's
/// version rule.
#[tokio::test]
async fn reads_and_updates_what_dapr_wrote() {
    let redis = RedisServer::start();
    let cfg = support::config(&entry("compat", redis.port(), &[], true));
    let host = support::load(&cfg);
    let s = host.state_store("compat").await.unwrap();

    // What Dapr's set script leaves: HSET data, HINCRBY version (7 writes), first-write on a
    // first-write set, then EXPIRE for a ttl.
    redis.cli(&[
        "HSET",
        "dapr-ttl",
        "data",
        r#"{"n":1}"#,
        "version",
        "7",
        "first-write",
        "0",
    ]);
    let before = SystemTime::now();
    assert_eq!(redis.cli(&["EXPIRE", "dapr-ttl", "100"]), "1");
    redis.cli(&["HSET", "dapr-plain", "data", "plain", "version", "1"]);
    // Before Dapr used hashes it wrote plain strings; it still reads them (no etag).
    redis.cli(&["SET", "dapr-legacy", "old"]);

    let item = get(&s, "dapr-ttl").await.expect("Dapr's key is found");
    assert_eq!(item.data, br#"{"n":1}"#);
    assert_eq!(item.etag.as_deref(), Some("7"), "the etag is the version");
    let exp = item
        .metadata
        .get(TTL_EXPIRE_TIME)
        .unwrap_or_else(|| panic!("ttlExpireTime missing: {item:?}"));
    let exp = humantime::parse_rfc3339_weak(exp).unwrap();
    let left = exp.duration_since(before).unwrap();
    assert!(
        left > Duration::from_secs(97) && left <= Duration::from_secs(101),
        "ttlExpireTime {left:?} from now, expected ~100s"
    );

    let plain = get(&s, "dapr-plain").await.unwrap();
    assert_eq!(
        (plain.data.as_slice(), plain.etag.as_deref()),
        (&b"plain"[..], Some("1"))
    );
    assert!(!plain.metadata.contains_key(TTL_EXPIRE_TIME), "{plain:?}");

    let legacy = get(&s, "dapr-legacy").await.unwrap();
    assert_eq!((legacy.data.as_slice(), legacy.etag), (&b"old"[..], None));
    let bulk = s
        .bulk_get(vec![
            GetRequest::new("dapr-legacy"),
            GetRequest::new("dapr-ttl"),
            GetRequest::new("absent"),
        ])
        .await
        .unwrap();
    assert_eq!(bulk[0].item.as_ref().unwrap().data, b"old");
    assert!(
        bulk[1]
            .item
            .as_ref()
            .unwrap()
            .metadata
            .contains_key(TTL_EXPIRE_TIME)
    );
    assert_eq!((bulk[2].item.clone(), bulk[2].error.clone()), (None, None));

    // A set with Dapr's etag bumps the version by one, as Dapr's HINCRBY does.
    s.set(SetRequest::new("dapr-ttl", "updated").with_etag("7"))
        .await
        .unwrap();
    let h = hgetall(&redis, "dapr-ttl");
    assert_eq!(h["data"], "updated");
    assert_eq!(h["version"], "8");
    assert_eq!(h["first-write"], "0", "Dapr's first-write marker is kept");
    assert_eq!(
        get(&s, "dapr-ttl").await.unwrap().etag.as_deref(),
        Some("8")
    );
    assert_mismatch(
        s.set(SetRequest::new("dapr-ttl", "stale").with_etag("7"))
            .await,
        "Dapr's old etag",
    );
    assert_mismatch(
        s.delete(DeleteRequest::new("dapr-plain").with_etag("2"))
            .await,
        "a wrong etag on delete",
    );
    s.delete(DeleteRequest::new("dapr-plain").with_etag("1"))
        .await
        .unwrap();
    assert_eq!(redis.cli(&["EXISTS", "dapr-plain"]), "0");

    // A legacy string key has no etag, so an etag cannot match it; a set without one
    // replaces it by a hash.
    assert_mismatch(
        s.set(SetRequest::new("dapr-legacy", "x").with_etag("1"))
            .await,
        "an etag on a legacy string key",
    );
    s.set(SetRequest::new("dapr-legacy", "new")).await.unwrap();
    assert_eq!(redis.cli(&["TYPE", "dapr-legacy"]), "hash");
    assert_eq!(get(&s, "dapr-legacy").await.unwrap().data, b"new");

    // A key of another Redis type is an error, not a silent miss or overwrite.
    redis.cli(&["RPUSH", "a-list", "x"]);
    assert!(s.get(GetRequest::new("a-list")).await.is_err());
    assert!(s.set(SetRequest::new("a-list", "x")).await.is_err());
    assert_eq!(redis.cli(&["TYPE", "a-list"]), "list");
}

/// What this component writes is what Dapr's would: the fields, their values and the TTL.
#[tokio::test]
async fn writes_what_dapr_reads() {
    let redis = RedisServer::start();
    let cfg = support::config(&entry("shape", redis.port(), &[], true));
    let host = support::load(&cfg);
    let s = host.state_store("shape").await.unwrap();

    s.set(SetRequest::new("ours", "v1")).await.unwrap();
    let h = hgetall(&redis, "ours");
    assert_eq!(fields(&h), ["data", "version"], "{h:?}");
    assert_eq!(h["data"], "v1");
    let v1: i64 = h["version"].parse().expect("an integer version");
    assert!(v1 > 0);
    assert_eq!(
        get(&s, "ours").await.unwrap().etag,
        Some(h["version"].clone()),
        "the etag is the version field"
    );
    assert_eq!(redis.cli(&["TTL", "ours"]), "-1");

    // An update adds one to the version, as Dapr's HINCRBY does, and sets the TTL asked for.
    s.set(
        SetRequest::new("ours", "v2")
            .with_etag(v1.to_string())
            .with_metadata(TTL_IN_SECONDS, "100"),
    )
    .await
    .unwrap();
    let h = hgetall(&redis, "ours");
    assert_eq!(fields(&h), ["data", "version"]);
    assert_eq!(h["data"], "v2");
    assert_eq!(h["version"], (v1 + 1).to_string());
    let ttl: i64 = redis.cli(&["TTL", "ours"]).parse().unwrap();
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    // Dapr's HINCRBY works on what we wrote.
    assert_eq!(
        redis.cli(&["HINCRBY", "ours", "version", "1"]),
        (v1 + 2).to_string()
    );
    assert_eq!(
        get(&s, "ours").await.unwrap().etag,
        Some((v1 + 2).to_string())
    );

    // First-write leaves Dapr's marker.
    s.set(SetRequest::new("ours-fw", "x").first_write())
        .await
        .unwrap();
    let h = hgetall(&redis, "ours-fw");
    assert_eq!(fields(&h), ["data", "first-write", "version"], "{h:?}");
    assert_eq!(h["first-write"], "0");

    // A transaction: the same shapes, and its ttl.
    s.transact(TransactRequest {
        operations: vec![
            TransactOperation::Set(SetRequest::new("tx-a", "a")),
            TransactOperation::Set(
                SetRequest::new("tx-b", "b").with_metadata(TTL_IN_SECONDS, "50"),
            ),
            TransactOperation::Delete(DeleteRequest::new("ours-fw")),
        ],
        metadata: Metadata::new(),
    })
    .await
    .unwrap();
    for (key, data) in [("tx-a", "a"), ("tx-b", "b")] {
        let h = hgetall(&redis, key);
        assert_eq!(fields(&h), ["data", "version"], "{key}: {h:?}");
        assert_eq!(h["data"], data);
        assert!(h["version"].parse::<i64>().unwrap() > 0);
    }
    assert_eq!(redis.cli(&["TTL", "tx-a"]), "-1");
    let ttl: i64 = redis.cli(&["TTL", "tx-b"]).parse().unwrap();
    assert!((45..=50).contains(&ttl), "TTL {ttl}");
    assert_eq!(redis.cli(&["EXISTS", "ours-fw"]), "0");

    // A later set without a ttl clears it (the contract; Dapr would keep it).
    s.set(SetRequest::new("tx-b", "b2")).await.unwrap();
    assert_eq!(redis.cli(&["TTL", "tx-b"]), "-1");

    // The component's ttlInSeconds is the default TTL.
    let cfg2 = support::config(&entry(
        "default-ttl",
        redis.port(),
        &[("ttlInSeconds", "30")],
        true,
    ));
    let host2 = support::load(&cfg2);
    let d = host2.state_store("default-ttl").await.unwrap();
    d.set(SetRequest::new("defaulted", "x")).await.unwrap();
    let ttl: i64 = redis.cli(&["TTL", "defaulted"]).parse().unwrap();
    assert!((25..=30).contains(&ttl), "TTL {ttl}");
    d.set(SetRequest::new("defaulted", "x").with_metadata(TTL_IN_SECONDS, "-1"))
        .await
        .unwrap();
    assert_eq!(redis.cli(&["TTL", "defaulted"]), "-1");
}

/// Redis restarts under a running component: the next call reconnects, and every
/// acknowledged write is still there (append-only file, fsync always).
#[tokio::test]
async fn survives_a_redis_restart() {
    let mut redis = RedisServer::start_with(Options {
        appendonly: true,
        ..Options::default()
    });
    let cfg = support::config(&entry("restart", redis.port(), &[], true));
    let host = support::load(&cfg);
    let s = host.state_store("restart").await.unwrap();
    for i in 0..20 {
        s.set(SetRequest::new(format!("k{i}"), format!("v{i}")))
            .await
            .unwrap();
    }
    let etag = get(&s, "k0").await.unwrap().etag.unwrap();

    redis.restart();
    // The connection the component holds is dead; the first call after the restart
    // reconnects and succeeds.
    s.set(SetRequest::new("after", "restart")).await.unwrap();
    for i in 0..20 {
        assert_eq!(
            get(&s, &format!("k{i}")).await.unwrap().data,
            format!("v{i}").as_bytes(),
            "acknowledged write k{i} lost"
        );
    }
    assert_eq!(get(&s, "k0").await.unwrap().etag, Some(etag.clone()));

    // While Redis is down calls fail (with an error, not a trap), and work again after.
    redis.kill();
    let down = s.get(GetRequest::new("k0")).await;
    match &down {
        Err(StateError::Other(m)) => assert!(m.contains(&redis.port().to_string()), "{m}"),
        other => panic!("a call while Redis is down: {other:?}"),
    }
    assert!(s.ping().await.is_err());
    redis.restart();
    s.ping().await.unwrap();
    s.set(SetRequest::new("k0", "v0b").with_etag(etag))
        .await
        .unwrap();
    assert_eq!(get(&s, "after").await.unwrap().data, b"restart");
    assert_eq!(get(&s, "k0").await.unwrap().data, b"v0b");
}

#[tokio::test]
async fn a_wrong_password_fails_init_without_showing_it() {
    let redis = RedisServer::start_with(Options {
        password: Some("the-right-one".into()),
        ..Options::default()
    });
    let cfg = support::config(&entry(
        "wrong-pw",
        redis.port(),
        &[("redisPassword", "hunter2-wrong")],
        true,
    ));
    let host = support::load(&cfg);
    let e = host
        .state_store("wrong-pw")
        .await
        .expect_err("init with a wrong password")
        .to_string();
    assert!(e.contains("\"wrong-pw\""), "names the component: {e}");
    assert!(e.contains("authentication"), "says auth failed: {e}");
    assert!(
        e.contains(&format!("127.0.0.1:{}", redis.port())),
        "names the peer: {e}"
    );
    assert!(
        !e.contains("hunter2-wrong") && !e.contains("the-right-one"),
        "leaks a password: {e}"
    );

    // The right one works.
    let cfg = support::config(&entry(
        "right-pw",
        redis.port(),
        &[("redisPassword", "the-right-one")],
        true,
    ));
    let host = support::load(&cfg);
    let s = host.state_store("right-pw").await.unwrap();
    s.set(SetRequest::new("k", "v")).await.unwrap();
    assert_eq!(get(&s, "k").await.unwrap().data, b"v");
}

#[tokio::test]
async fn init_fails_without_a_tcp_grant() {
    let redis = RedisServer::start();
    let cfg = support::config(&entry("ungranted", redis.port(), &[], false));
    let host = support::load(&cfg);
    let e = host
        .state_store("ungranted")
        .await
        .expect_err("init without a grant")
        .to_string();
    assert!(e.contains("\"ungranted\""), "names the component: {e}");
    let peer = format!("127.0.0.1:{}", redis.port());
    assert!(e.contains(&peer), "names the peer: {e}");
    assert!(
        e.contains("refused the connection") && e.contains("grants.tcp"),
        "says the sandbox did not allow the connection: {e}"
    );

    // Granting another peer is not granting this one.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let text = entry("other-peer", redis.port(), &[], false)
        + &format!("    grants:\n      tcp:\n        - 127.0.0.1:{other_port}\n");
    let cfg = support::config(&text);
    let host = support::load(&cfg);
    let e = host
        .state_store("other-peer")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&peer), "names the peer: {e}");
}

#[tokio::test]
async fn refuses_tls_at_init() {
    let redis = RedisServer::start();
    let cfg = support::config(&entry("tls", redis.port(), &[("enableTLS", "true")], true));
    let host = support::load(&cfg);
    let e = host.state_store("tls").await.unwrap_err().to_string();
    assert!(e.contains("TLS"), "{e}");
}

/// An ACL user and a database other than 0, as Dapr's `redisUsername` and `redisDB`.
#[tokio::test]
async fn acl_user_and_database() {
    let redis = RedisServer::start();
    assert_eq!(
        redis.cli(&["ACL", "SETUSER", "app", "on", ">app-secret", "~*", "+@all"]),
        "OK"
    );
    let cfg = support::config(&entry(
        "acl-db",
        redis.port(),
        &[
            ("redisUsername", "app"),
            ("redisPassword", "app-secret"),
            ("redisDB", "3"),
        ],
        true,
    ));
    let host = support::load(&cfg);
    let s = host.state_store("acl-db").await.unwrap();
    s.set(SetRequest::new("k", "in db 3")).await.unwrap();
    assert_eq!(redis.cli(&["-n", "3", "HGET", "k", "data"]), "in db 3");
    assert_eq!(redis.cli(&["EXISTS", "k"]), "0", "nothing in db 0");
    assert_eq!(get(&s, "k").await.unwrap().data, b"in db 3");

    // A user without the rights to run scripts is refused by Redis, and the call says so.
    assert_eq!(
        redis.cli(&[
            "ACL", "SETUSER", "reader", "on", ">r", "~*", "+@read", "+ping"
        ]),
        "OK"
    );
    let cfg = support::config(&entry(
        "reader",
        redis.port(),
        &[("redisUsername", "reader"), ("redisPassword", "r")],
        true,
    ));
    let host = support::load(&cfg);
    let r = host.state_store("reader").await.unwrap();
    match r.set(SetRequest::new("k", "x")).await {
        Err(StateError::Other(m)) => assert!(m.contains("NOPERM"), "{m}"),
        other => panic!("a set without the rights: {other:?}"),
    }
}
