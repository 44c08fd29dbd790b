//! The pub/sub contract, one body run against the native reference, the wasm guest
//! in-process, and client adapter → bridge → wasm; plus durability and wire checks.

use std::collections::HashSet;
use std::time::Duration;

use wasmplug::blocks::pubsub::*;

use crate::support;

const WAIT: Duration = Duration::from_secs(3);
const QUIET: Duration = Duration::from_millis(400);

fn entry(name: &str, backend: &str) -> String {
    entry_for("pubsub-kv", name, backend)
}

/// An entry for the pub/sub guest `guest` (any language).
pub fn entry_for(guest: &str, name: &str, backend: &str) -> String {
    format!(
        "  - name: {name}\n    type: pubsub\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: pubsub\n          backend: {backend}\n",
        support::guest(guest)
    )
}

async fn next(sub: &dyn Subscription) -> Delivery {
    sub.next(WAIT).await.unwrap().expect("a delivery in time")
}

async fn nothing(sub: &dyn Subscription) {
    if let Some(d) = sub.next(QUIET).await.unwrap() {
        panic!("unexpected delivery {d:?}");
    }
}

/// The whole contract. `ps` must be initialised and empty.
pub async fn contract(ps: &dyn PubSub) {
    assert!(
        ps.features()
            .await
            .unwrap()
            .iter()
            .any(|f| f == BULK_PUBSUB)
    );
    ps.ping().await.unwrap();
    assert!(matches!(
        ps.publish(PublishRequest::new("", "x")).await,
        Err(BlockError::InvalidArgument(_))
    ));

    // N messages, in order, with unique ids; acked ones never come back.
    let sub = ps.subscribe("orders", Metadata::new()).await.unwrap();
    for i in 0..10 {
        let mut p = PublishRequest::new("orders", format!("m{i}"));
        p.content_type = Some("text/plain".into());
        p.metadata.insert("seq".into(), i.to_string());
        ps.publish(p).await.unwrap();
    }
    let mut ids = HashSet::new();
    for i in 0..10 {
        let d = next(&*sub).await;
        assert_eq!(d.data, format!("m{i}").as_bytes(), "in publish order");
        assert_eq!(d.topic, "orders");
        assert_eq!(d.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            d.metadata.get("seq").map(String::as_str),
            Some(i.to_string().as_str())
        );
        assert!(ids.insert(d.id.clone()), "ids are unique");
        sub.ack(&d.id, None).await.unwrap();
    }
    nothing(&*sub).await;

    // A nack redelivers the message, with a new id.
    ps.publish(PublishRequest::new("orders", "retry-me"))
        .await
        .unwrap();
    let d1 = next(&*sub).await;
    sub.ack(&d1.id, Some("handler failed".into()))
        .await
        .unwrap();
    let d2 = next(&*sub).await;
    assert_eq!(d2.data, b"retry-me");
    assert_ne!(d1.id, d2.id, "a redelivery has a new id");
    sub.ack(&d2.id, None).await.unwrap();
    nothing(&*sub).await;

    // Two topics are isolated.
    let other = ps.subscribe("payments", Metadata::new()).await.unwrap();
    ps.publish(PublishRequest::new("payments", "pay-1"))
        .await
        .unwrap();
    nothing(&*sub).await;
    let d = next(&*other).await;
    assert_eq!(d.data, b"pay-1");
    other.ack(&d.id, None).await.unwrap();
    drop(other);

    // A subscription that ends with a message unacked: the next one gets it again.
    ps.publish(PublishRequest::new("orders", "unacked"))
        .await
        .unwrap();
    let d = next(&*sub).await;
    assert_eq!(d.data, b"unacked");
    drop(sub);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sub = ps.subscribe("orders", Metadata::new()).await.unwrap();
    let again = next(&*sub).await;
    assert_eq!(again.data, b"unacked");
    assert_ne!(again.id, d.id);
    sub.ack(&again.id, None).await.unwrap();

    // Bulk publish: all delivered, in order, no failures.
    let failures = ps
        .bulk_publish(BulkPublishRequest {
            topic: "orders".into(),
            entries: (0..3)
                .map(|i| BulkEntry {
                    entry_id: format!("e{i}"),
                    event: format!("bulk-{i}").into_bytes(),
                    content_type: Some("text/plain".into()),
                    metadata: Metadata::new(),
                })
                .collect(),
            metadata: Metadata::new(),
        })
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    for i in 0..3 {
        let d = next(&*sub).await;
        assert_eq!(d.data, format!("bulk-{i}").as_bytes());
        sub.ack(&d.id, None).await.unwrap();
    }
    nothing(&*sub).await;
    // Acked, then closed: the acks reached the component before the stream ended.
    ps.publish(PublishRequest::new("orders", "last"))
        .await
        .unwrap();
    let d = next(&*sub).await;
    assert_eq!(d.data, b"last");
    sub.ack(&d.id, None).await.unwrap();
    sub.close().await;
    let sub = ps.subscribe("orders", Metadata::new()).await.unwrap();
    nothing(&*sub).await;
}

#[tokio::test]
async fn native_reference_meets_the_contract() {
    let ps = MemoryPubSub::new();
    ps.init(Metadata::new()).await.unwrap();
    contract(&ps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_guest_meets_the_contract() {
    let cfg = support::config(&entry("events", "memory"));
    let host = support::load(&cfg);
    contract(&host.pubsub("events").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_meets_the_contract() {
    let served = crate::bridge::serve(&entry("events", "durable")).await;
    let ps = GrpcPubSub::connect(&served.socket("events"), "app")
        .await
        .unwrap();
    ps.init(Metadata::new()).await.unwrap();
    contract(&ps).await;
    // Pause and Resume are idempotent; a paused stream delivers nothing until resumed.
    let sub = ps.subscribe("paused", Metadata::new()).await.unwrap();
    ps.pause().await.unwrap();
    ps.pause().await.unwrap();
    ps.publish(PublishRequest::new("paused", "held"))
        .await
        .unwrap();
    nothing(&*sub).await;
    ps.resume().await.unwrap();
    ps.resume().await.unwrap();
    let d = next(&*sub).await;
    assert_eq!(d.data, b"held");
    sub.ack(&d.id, None).await.unwrap();
    drop(sub);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_restart_mid_stream_loses_nothing_acked_and_drops_nothing_unacked() {
    let cfg = support::config(&entry("durable-events", "durable"));
    {
        let host = support::load(&cfg);
        let ps = host.pubsub("durable-events").await.unwrap();
        for m in ["a", "b", "c"] {
            ps.publish(PublishRequest::new("t", m)).await.unwrap();
        }
        let sub = ps.subscribe("t", Metadata::new()).await.unwrap();
        let a = next(&*sub).await;
        assert_eq!(a.data, b"a");
        sub.ack(&a.id, None).await.unwrap();
        let b = next(&*sub).await;
        assert_eq!(b.data, b"b", "delivered, never acked");
    }
    let host = support::load(&cfg);
    let ps = host.pubsub("durable-events").await.unwrap();
    let sub = ps.subscribe("t", Metadata::new()).await.unwrap();
    let mut got = Vec::new();
    while let Some(d) = sub.next(QUIET).await.unwrap() {
        sub.ack(&d.id, None).await.unwrap();
        got.push(String::from_utf8(d.data).unwrap());
    }
    assert_eq!(
        got,
        ["b", "c"],
        "acked `a` is gone; unacked `b` and undelivered `c` survive, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_subscription_never_blocks_the_component() {
    let cfg = support::config(&entry("busy-events", "memory"));
    let host = support::load(&cfg);
    let ps = host.pubsub("busy-events").await.unwrap();
    let sub = ps.subscribe("quiet", Metadata::new()).await.unwrap();
    let waiting = tokio::spawn(async move {
        sub.next(Duration::from_secs(2))
            .await
            .map(|d| d.map(|d| d.data))
    });
    // While the subscriber waits for a message, publishes to the same component go through
    // at once, and the one to its topic wakes it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..20 {
        ps.publish(PublishRequest::new("elsewhere", format!("{i}")))
            .await
            .unwrap();
    }
    assert!(
        !waiting.is_finished(),
        "publishes completed while the subscriber was still waiting"
    );
    ps.publish(PublishRequest::new("quiet", "wake"))
        .await
        .unwrap();
    assert_eq!(
        waiting.await.unwrap().unwrap().as_deref(),
        Some(&b"wake"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_messages_requires_the_topic_first() {
    use wasmplug::proto as pb;
    let served = crate::bridge::serve(&entry("wire-events", "memory")).await;
    let ps = GrpcPubSub::connect(&served.socket("wire-events"), "app")
        .await
        .unwrap();
    ps.init(Metadata::new()).await.unwrap();
    let channel = wasmplug::blocks::state::grpc::connect_socket(&served.socket("wire-events"))
        .await
        .unwrap();
    let mut client = pb::pub_sub_client::PubSubClient::new(channel);
    let first = pb::PullMessagesRequest {
        topic: None,
        ack_message_id: "x".into(),
        ack_error: None,
    };
    let mut req = tonic::Request::new(tokio_stream::iter(vec![first]));
    req.metadata_mut()
        .insert(wasmplug::bridge::INSTANCE_HEADER, "app".parse().unwrap());
    let status = client.pull_messages(req).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("topic"), "{status:?}");
    served.stop().await.unwrap();
}
