//! `pubsub-redis`: Dapr's `pubsub.redis` (Redis Streams) as a wasm component talking RESP to
//! a real `redis-server` over granted TCP. The shared contract, in-process and over the
//! bridge; the stream layout Dapr's native component reads and writes; redelivery; consumers
//! sharing a group; a Redis restart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis_harness::RedisServer;
use wasmplug::blocks::pubsub::*;

use crate::support;

const WAIT: Duration = Duration::from_secs(5);

/// A `pubsub-redis` entry on `redis`, with more component metadata.
fn entry(name: &str, redis: &RedisServer, metadata: &[(&str, &str)]) -> String {
    let addr = format!("127.0.0.1:{}", redis.port());
    let mut md = format!("      - name: redisHost\n        value: {addr:?}\n");
    for (k, v) in metadata {
        md.push_str(&format!("      - name: {k}\n        value: {v:?}\n"));
    }
    format!(
        "  - name: {name}\n    type: pubsub\n    wasm: {:?}\n    metadata:\n{md}    grants:\n      tcp: [{addr:?}]\n",
        support::guest("pubsub-redis")
    )
}

async fn next(sub: &dyn Subscription) -> Delivery {
    sub.next(WAIT).await.unwrap().expect("a delivery in time")
}

async fn nothing(sub: &dyn Subscription, quiet: Duration) {
    if let Some(d) = sub.next(quiet).await.unwrap() {
        panic!("unexpected delivery {d:?}");
    }
}

/// The number of pending entries of `group` on `topic` (`XPENDING topic group`).
fn pending(redis: &RedisServer, topic: &str, group: &str) -> u64 {
    let out = redis.cli(&["XPENDING", topic, group]);
    out.lines().next().unwrap().trim().parse().unwrap()
}

/// `XRANGE topic - +` as (id, [field, value, ...]) per entry (redis-cli prints one item a
/// line; every entry here has an even number of non-empty, single-line items).
fn xrange(redis: &RedisServer, topic: &str) -> Vec<Vec<String>> {
    let out = redis.cli(&["--json", "XRANGE", topic, "-", "+"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e[1].as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_meets_the_contract() {
    let redis = RedisServer::start();
    let cfg = support::config(&entry("events", &redis, &[("consumerID", "app")]));
    let host = support::load(&cfg);
    crate::pubsub::contract(&host.pubsub("events").await.unwrap()).await;
    assert_eq!(pending(&redis, "orders", "app"), 0, "everything acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_meets_the_contract() {
    let redis = RedisServer::start();
    let served = crate::bridge::serve(&entry("events", &redis, &[])).await;
    let ps = GrpcPubSub::connect(&served.socket("events"), "app")
        .await
        .unwrap();
    // As daprd: the consumer group comes from the Init properties.
    let mut md = Metadata::new();
    md.insert("consumerID".into(), "bridge-app".into());
    ps.init(md).await.unwrap();
    crate::pubsub::contract(&ps).await;
    assert!(
        redis
            .cli(&["XINFO", "GROUPS", "orders"])
            .contains("bridge-app"),
        "the group is the consumerID"
    );
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_streams_with_daprs_native_component() {
    let redis = RedisServer::start();
    let cfg = support::config(&format!(
        "{}{}",
        entry("events", &redis, &[("consumerID", "app")]),
        entry(
            "capped",
            &redis,
            &[("consumerID", "app"), ("maxLenApprox", "10")]
        )
    ));
    let host = support::load(&cfg);
    let ps = host.pubsub("events").await.unwrap();

    // What Dapr's pubsub.redis writes is delivered with its data and metadata.
    let sub = ps.subscribe("orders", Metadata::new()).await.unwrap();
    redis.cli(&[
        "XADD",
        "orders",
        "*",
        "data",
        r#"{"specversion":"1.0","data":"hi"}"#,
        "metadata",
        r#"{"rawPayload":"false","seq":"7"}"#,
    ]);
    let d = next(&*sub).await;
    assert_eq!(d.data, br#"{"specversion":"1.0","data":"hi"}"#);
    assert_eq!(
        d.metadata,
        BTreeMap::from([
            ("rawPayload".to_owned(), "false".to_owned()),
            ("seq".to_owned(), "7".to_owned())
        ])
    );
    assert_eq!(d.content_type, None);
    assert_eq!(d.topic, "orders");
    assert_eq!(pending(&redis, "orders", "app"), 1, "delivered, not acked");
    sub.ack(&d.id, None).await.unwrap();
    assert_eq!(pending(&redis, "orders", "app"), 0, "XACKed");
    // An entry with bad metadata JSON is delivered without metadata (Dapr logs it too).
    redis.cli(&["XADD", "orders", "*", "data", "x", "metadata", "not json"]);
    let d = next(&*sub).await;
    assert_eq!((d.data.as_slice(), d.metadata.len()), (&b"x"[..], 0));
    sub.ack(&d.id, None).await.unwrap();
    drop(sub);

    // What ours writes has Dapr's shape: data, then metadata only when there is some
    // (contentType only when the request names one; Dapr's reader ignores it).
    let mut p = PublishRequest::new("written", "p1");
    p.metadata.insert("b".into(), "2".into());
    p.metadata.insert("a".into(), "<1>".into());
    ps.publish(p).await.unwrap();
    ps.publish(PublishRequest::new("written", "p2"))
        .await
        .unwrap();
    let mut p = PublishRequest::new("written", "p3");
    p.content_type = Some("text/plain".into());
    ps.publish(p).await.unwrap();
    assert_eq!(
        xrange(&redis, "written"),
        [
            vec!["data", "p1", "metadata", r#"{"a":"\u003c1\u003e","b":"2"}"#],
            vec!["data", "p2"],
            vec!["data", "p3", "contentType", "text/plain"],
        ]
    );

    // maxLenApprox: XADD ... MAXLEN ~ 10 keeps the stream near that length (Redis trims
    // whole nodes of 100 entries).
    let capped = host.pubsub("capped").await.unwrap();
    for i in 0..400 {
        capped
            .publish(PublishRequest::new("capped", format!("{i}")))
            .await
            .unwrap();
    }
    let len: u64 = redis.cli(&["XLEN", "capped"]).parse().unwrap();
    assert!(len <= 200, "trimmed to about 10, got {len}");
    assert!(len >= 10, "never below the cap, got {len}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_deliveries_come_back_after_the_processing_timeout() {
    let redis = RedisServer::start();
    let cfg = support::config(&format!(
        "{}{}",
        entry(
            "quick",
            &redis,
            &[
                ("consumerID", "app"),
                ("processingTimeout", "1s"),
                ("redeliverInterval", "1s")
            ]
        ),
        entry(
            "never",
            &redis,
            &[("consumerID", "other"), ("redeliverInterval", "0")]
        )
    ));
    let host = support::load(&cfg);
    let ps = host.pubsub("quick").await.unwrap();
    let sub = ps.subscribe("slow", Metadata::new()).await.unwrap();
    ps.publish(PublishRequest::new("slow", "work"))
        .await
        .unwrap();
    let first = next(&*sub).await;
    let at = Instant::now();
    // Never acked: delivered again once pending for longer than processingTimeout.
    let again = next(&*sub).await;
    assert!(
        at.elapsed() >= Duration::from_millis(900),
        "not before the timeout: {:?}",
        at.elapsed()
    );
    assert_eq!(again.data, b"work");
    assert_ne!(again.id, first.id, "a redelivery has a new id");
    sub.ack(&again.id, None).await.unwrap();
    nothing(&*sub, Duration::from_millis(2500)).await;
    assert_eq!(pending(&redis, "slow", "app"), 0);

    // A nack comes back at once, not after the timeout.
    ps.publish(PublishRequest::new("slow", "fail-once"))
        .await
        .unwrap();
    let d = next(&*sub).await;
    let at = Instant::now();
    sub.ack(&d.id, Some("handler failed".into())).await.unwrap();
    let d2 = next(&*sub).await;
    assert!(
        at.elapsed() < Duration::from_millis(500),
        "{:?}",
        at.elapsed()
    );
    assert_eq!(d2.data, b"fail-once");
    sub.ack(&d2.id, None).await.unwrap();

    // redeliverInterval 0 disables redelivery, as in Dapr.
    let never = host.pubsub("never").await.unwrap();
    let sub = never.subscribe("slow", Metadata::new()).await.unwrap();
    // The group "other" starts at 0: it sees both messages of the stream.
    let a = next(&*sub).await;
    let b = next(&*sub).await;
    assert_eq!(
        (a.data.as_slice(), b.data.as_slice()),
        (&b"work"[..], &b"fail-once"[..])
    );
    nothing(&*sub, Duration::from_millis(2500)).await;
    assert_eq!(pending(&redis, "slow", "other"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_with_one_consumer_id_split_the_stream() {
    let redis = RedisServer::start();
    let md = [
        ("consumerID", "orders-app"),
        ("processingTimeout", "2s"),
        ("redeliverInterval", "500ms"),
    ];
    let cfg = support::config(&format!(
        "{}{}",
        entry("a", &redis, &md),
        entry("b", &redis, &md)
    ));
    let host = support::load(&cfg);
    let (pa, pb) = (
        host.pubsub("a").await.unwrap(),
        host.pubsub("b").await.unwrap(),
    );
    let published: Vec<String> = (0..40).map(|i| format!("order-{i:02}")).collect();
    for m in &published {
        pa.publish(PublishRequest::new("orders", m.clone()))
            .await
            .unwrap();
    }
    let sa = pa.subscribe("orders", Metadata::new()).await.unwrap();
    let sb = pb.subscribe("orders", Metadata::new()).await.unwrap();
    async fn drain(sub: &dyn Subscription) -> Vec<String> {
        let mut got = Vec::new();
        while let Some(d) = sub.next(Duration::from_secs(1)).await.unwrap() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            sub.ack(&d.id, None).await.unwrap();
            got.push(String::from_utf8(d.data).unwrap());
        }
        got
    }
    let (got_a, got_b) = tokio::join!(drain(&*sa), drain(&*sb));
    let mut all: Vec<String> = got_a.iter().chain(&got_b).cloned().collect();
    all.sort();
    assert_eq!(
        all, published,
        "each delivered once (a: {got_a:?}, b: {got_b:?})"
    );
    assert!(!got_a.is_empty() && !got_b.is_empty(), "both took part");
    let consumers = redis.cli(&["XINFO", "CONSUMERS", "orders", "orders-app"]);
    assert_eq!(consumers.matches("orders-app-").count(), 2, "{consumers}");

    // A holds a message and goes away: B gets it once it was pending past the timeout.
    pa.publish(PublishRequest::new("held", "h")).await.unwrap();
    let ha = pa.subscribe("held", Metadata::new()).await.unwrap();
    let held = next(&*ha).await;
    drop(ha);
    let at = Instant::now();
    let hb = pb.subscribe("held", Metadata::new()).await.unwrap();
    let d = hb
        .next(Duration::from_secs(6))
        .await
        .unwrap()
        .expect("B reclaims it");
    assert!(
        at.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        at.elapsed()
    );
    assert_eq!(d.data, b"h");
    assert_ne!(d.id, held.id);
    hb.ack(&d.id, None).await.unwrap();
    assert_eq!(pending(&redis, "held", "orders-app"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_works_again_after_a_redis_restart() {
    let mut redis = RedisServer::start();
    let cfg = support::config(&entry("events", &redis, &[("consumerID", "app")]));
    let host = support::load(&cfg);
    let ps = host.pubsub("events").await.unwrap();
    let sub = ps.subscribe("t", Metadata::new()).await.unwrap();
    ps.publish(PublishRequest::new("t", "before"))
        .await
        .unwrap();
    let d = next(&*sub).await;
    sub.ack(&d.id, None).await.unwrap();

    // No persistence: the stream and its group are gone after the restart.
    redis.restart();
    ps.publish(PublishRequest::new("t", "after")).await.unwrap();
    ps.ping().await.unwrap();
    let d = next(&*sub).await;
    assert_eq!(d.data, b"after", "the group is created again");
    sub.ack(&d.id, None).await.unwrap();
    assert_eq!(pending(&redis, "t", "app"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_one_consumer_group() {
    use crate::replicas::Replica;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_config(
        dir.path(),
        &entry(
            "orders",
            &redis,
            &[
                ("processingTimeout", "3s"),
                ("redeliverInterval", "500ms"),
                ("queueDepth", "2"),
            ],
        ),
    );
    let mut a = Replica::start(&config, "orders").await;
    let b = Replica::start(&config, "orders").await;
    async fn client(r: &Replica) -> GrpcPubSub {
        let ps = GrpcPubSub::connect(&r.socket("orders"), "orders-app")
            .await
            .unwrap();
        let mut md = Metadata::new();
        md.insert("consumerID".into(), "orders-app".into());
        ps.init(md).await.unwrap();
        ps
    }
    let (pa, pb) = (client(&a).await, client(&b).await);
    // Both subscribed first, then the messages come.
    let sa = pa.subscribe("orders", Metadata::new()).await.unwrap();
    let sb = pb.subscribe("orders", Metadata::new()).await.unwrap();
    let published: Vec<String> = (0..30).map(|i| format!("order-{i:02}")).collect();
    for (i, m) in published.iter().enumerate() {
        let via = if i % 2 == 0 { &pa } else { &pb };
        via.publish(PublishRequest::new("orders", m.clone()))
            .await
            .unwrap();
    }
    async fn drain(sub: &dyn Subscription) -> Vec<String> {
        let mut got = Vec::new();
        while let Some(d) = sub.next(Duration::from_secs(2)).await.unwrap() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            sub.ack(&d.id, None).await.unwrap();
            got.push(String::from_utf8(d.data).unwrap());
        }
        got
    }
    let (got_a, got_b) = tokio::join!(drain(&*sa), drain(&*sb));
    let mut all: Vec<String> = got_a.iter().chain(&got_b).cloned().collect();
    all.sort();
    assert_eq!(all, published, "each once (a: {got_a:?}, b: {got_b:?})");
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both took part (a: {}, b: {})\nA:\n{}\nB:\n{}",
        got_a.len(),
        got_b.len(),
        a.log(),
        b.log()
    );
    drop((sa, sb));

    // A holds a message and is killed: B gets it after the processing timeout.
    pa.publish(PublishRequest::new("held", "h")).await.unwrap();
    let ha = pa.subscribe("held", Metadata::new()).await.unwrap();
    let held = next(&*ha).await;
    let at = Instant::now();
    let hb = pb.subscribe("held", Metadata::new()).await.unwrap();
    nothing(&*hb, Duration::from_millis(1500)).await;
    drop(ha);
    a.kill();
    let d = hb
        .next(Duration::from_secs(8))
        .await
        .unwrap()
        .expect("the killed replica's message comes back");
    assert!(
        at.elapsed() >= Duration::from_millis(2800),
        "{:?}",
        at.elapsed()
    );
    assert_eq!(d.data, b"h");
    assert_ne!(d.id, held.id);
    hb.ack(&d.id, None).await.unwrap();
    assert_eq!(pending(&redis, "held", "orders-app"), 0);
}
