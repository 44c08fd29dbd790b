//! `examples/redis/` as shipped: its wasmplug config serves `state-redis` and `pubsub-redis`
//! over the bridge, reaching Redis through the peer it grants by host name (`localhost`),
//! and daprd's Component metadata (statestore.yaml, pubsub.yaml) initialise them.

use std::time::Duration;

use redis_harness::RedisServer;
use wasmplug::blocks::pubsub::{GrpcPubSub, PubSub, PublishRequest};
use wasmplug::blocks::state::{GetRequest, Metadata, SetRequest, StateStore};

use crate::support;

fn example(file: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/redis");
    std::fs::read_to_string(root.join(file)).unwrap()
}

/// The `spec.metadata` name/value pairs of a Dapr Component YAML (the simple shape the
/// example files use), as daprd sends them at Init.
fn dapr_metadata(yaml: &str) -> Metadata {
    let mut md = Metadata::new();
    let mut name = None;
    for line in yaml.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("- name: ") {
            name = Some(n.to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("value: "), name.take()) {
            md.insert(n, v.trim_matches('"').to_owned());
        }
    }
    md
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_example_serves_both_components_to_daprd() {
    let redis = RedisServer::start();
    let port = redis.port().to_string();
    let on_test_port = |text: String| text.replace("localhost:6379", &format!("localhost:{port}"));

    // The config as shipped, with the test's Redis port and absolute guest paths.
    let guests = support::guest("state-redis").parent().unwrap().to_owned();
    let config = on_test_port(example("wasmplug.yaml"))
        .replace("../../target/guests/", &format!("{}/", guests.display()));
    let components = config
        .split_once("components:\n")
        .expect("the example has a components list")
        .1;
    let served = crate::bridge::serve(components).await;

    let state_md = dapr_metadata(&on_test_port(example("statestore.yaml")));
    assert_eq!(
        state_md.get("redisHost"),
        Some(&format!("localhost:{port}"))
    );
    let store = served.client("redis-state", "statestore").await;
    store.init(state_md).await.unwrap();
    store.set(SetRequest::new("order-1", "paid")).await.unwrap();
    let item = store
        .get(GetRequest::new("order-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.data, b"paid");
    // Dapr's layout, in the server the example points at.
    assert_eq!(redis.cli(&["HGET", "order-1", "data"]).trim(), "paid");
    assert_eq!(
        Some(redis.cli(&["HGET", "order-1", "version"]).trim().to_owned()),
        item.etag
    );

    let ps = GrpcPubSub::connect(&served.socket("redis-pubsub"), "orderpubsub")
        .await
        .unwrap();
    let mut pubsub_md = dapr_metadata(&on_test_port(example("pubsub.yaml")));
    pubsub_md.insert("consumerID".into(), "myapp".into()); // daprd adds the app id
    ps.init(pubsub_md).await.unwrap();
    let sub = ps.subscribe("orders", Metadata::new()).await.unwrap();
    ps.publish(PublishRequest::new("orders", "order-1 paid"))
        .await
        .unwrap();
    let d = sub
        .next(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("delivered");
    assert_eq!(d.data, b"order-1 paid");
    sub.ack(&d.id, None).await.unwrap();
    assert_eq!(redis.cli(&["XLEN", "orders"]).trim(), "1");
    served.stop().await.unwrap();
}
