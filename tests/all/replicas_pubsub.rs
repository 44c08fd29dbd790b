//! Replicas share a subscription: two `wasmplug serve` processes whose pub/sub component
//! keeps its topics in one Redis bucket deliver each message to one of them at a time, and a
//! message a killed replica held comes back, to the survivor, once its ack deadline passed.
//! Run for the Rust broker (`pubsub-kv`) and the JavaScript one (`js-pubsub`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use redis_harness::RedisServer;
use wasmplug::blocks::pubsub::{Delivery, GrpcPubSub, Metadata, PubSub, PublishRequest};

use crate::replicas::{Replica, shared_config, shared_store};
use crate::support;

/// Instance name both replicas' clients use: one app, two pods.
const APP: &str = "orders-app";
/// Ack deadline the component is initialised with.
const DEADLINE: Duration = Duration::from_secs(4);
/// How long a replica waits for a message that should come.
const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(1500);

/// A pub/sub entry of `guest` whose bucket `pubsub` lives in the shared store.
fn shared_pubsub_entry(name: &str, guest: &str) -> String {
    format!(
        "  - name: {name}\n    type: pubsub\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: pubsub\n          store: shared\n",
        support::guest(guest)
    )
}

async fn client(replica: &Replica, component: &str) -> GrpcPubSub {
    let ps = GrpcPubSub::connect(&replica.socket(component), APP)
        .await
        .unwrap();
    let mut metadata = Metadata::new();
    metadata.insert("consumerID".into(), APP.into());
    metadata.insert("ackDeadline".into(), format!("{}ms", DEADLINE.as_millis()));
    ps.init(metadata).await.unwrap();
    ps
}

/// Every delivery `sub` yields until it stays quiet for `quiet`, acked after `work`.
async fn drain(
    sub: &dyn wasmplug::blocks::pubsub::Subscription,
    work: Duration,
    quiet: Duration,
) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(d) = sub.next(quiet).await.unwrap() {
        tokio::time::sleep(work).await;
        sub.ack(&d.id, None).await.unwrap();
        got.push(String::from_utf8(d.data).unwrap());
    }
    got
}

async fn shared_subscription(config: &Path, component: &str) {
    let mut a = Replica::start(config, component).await;
    let b = Replica::start(config, component).await;
    let pa = client(&a, component).await;
    let pb = client(&b, component).await;

    // 1. Both replicas consume one topic at once: every message is processed exactly once
    // (acked well within the deadline, so none is redelivered), and both take part.
    let published: Vec<String> = (0..60).map(|i| format!("order-{i:02}")).collect();
    for (i, m) in published.iter().enumerate() {
        let via = if i % 2 == 0 { &pa } else { &pb };
        via.publish(PublishRequest::new("orders", m.clone()))
            .await
            .unwrap();
    }
    let sa = pa.subscribe("orders", Metadata::new()).await.unwrap();
    let sb = pb.subscribe("orders", Metadata::new()).await.unwrap();
    let work = Duration::from_millis(5);
    let (got_a, got_b) = tokio::join!(
        drain(&*sa, work, Duration::from_secs(3)),
        drain(&*sb, work, Duration::from_secs(3))
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for m in got_a.iter().chain(&got_b) {
        *counts.entry(m.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{component}: delivered twice: {twice:?}");
    assert_eq!(
        counts.len(),
        published.len(),
        "{component}: every message delivered (a: {got_a:?}, b: {got_b:?})"
    );
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "{component}: both replicas took part (a: {}, b: {})\nA's log:\n{}\nB's log:\n{}",
        got_a.len(),
        got_b.len(),
        a.log(),
        b.log()
    );
    drop((sa, sb));

    // 2. A holds messages unacked: B does not get them while A's claims last. Then A is
    // killed and B gets every one of them, not before the deadline, with new ids.
    for i in 0..5 {
        pa.publish(PublishRequest::new("held", format!("held-{i}")))
            .await
            .unwrap();
    }
    let ha = pa.subscribe("held", Metadata::new()).await.unwrap();
    let mut held: Vec<Delivery> = Vec::new();
    while held.len() < 5 {
        held.push(
            ha.next(WAIT)
                .await
                .unwrap()
                .expect("A gets every held message"),
        );
    }
    let claimed = Instant::now();
    let hb = pb.subscribe("held", Metadata::new()).await.unwrap();
    if let Some(d) = hb.next(QUIET.min(DEADLINE / 2)).await.unwrap() {
        panic!("{component}: B got {d:?} while A held it");
    }
    drop(ha);
    a.kill();
    let mut again = Vec::new();
    while again.len() < 5 {
        let d = hb
            .next(DEADLINE + WAIT)
            .await
            .unwrap()
            .expect("the killed replica's messages come back");
        assert!(
            claimed.elapsed() >= DEADLINE - Duration::from_millis(200),
            "{component}: redelivered after {:?}, before the {DEADLINE:?} deadline",
            claimed.elapsed()
        );
        assert!(
            held.iter().all(|h| h.id != d.id),
            "{component}: a redelivery has a new id"
        );
        hb.ack(&d.id, None).await.unwrap();
        again.push(String::from_utf8(d.data).unwrap());
    }
    again.sort();
    let mut expected: Vec<String> = held
        .iter()
        .map(|d| String::from_utf8(d.data.clone()).unwrap())
        .collect();
    expected.sort();
    assert_eq!(again, expected, "{component}: exactly the held messages");
    // Acked by B: gone for good, for every replica.
    let c = Replica::start(config, component).await;
    let pc = client(&c, component).await;
    let hc = pc.subscribe("held", Metadata::new()).await.unwrap();
    if let Some(d) = hc.next(QUIET).await.unwrap() {
        panic!("{component}: acked message {d:?} came back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_rust_broker_subscription() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(
        dir.path(),
        &shared_pubsub_entry("orders", "pubsub-kv"),
        &shared_store(&[redis.url()], false),
    );
    shared_subscription(&config, "orders").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_javascript_broker_subscription() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(
        dir.path(),
        &shared_pubsub_entry("js-orders", "js-pubsub"),
        &shared_store(&[redis.url()], false),
    );
    shared_subscription(&config, "js-orders").await;
}
