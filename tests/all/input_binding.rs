//! The input-binding contract through all three paths, with the cron guest.

use std::time::Duration;

use wasmplug::blocks::bindings::input::*;

use crate::support;

fn entry(name: &str) -> String {
    format!(
        "  - name: {name}\n    type: bindings\n    wasm: {:?}\n",
        support::guest("cron")
    )
}

fn schedule(s: &str) -> Metadata {
    Metadata::from([("schedule".to_owned(), s.to_owned())])
}

/// `b` must be initialised with `@every 100ms`.
pub async fn contract(b: &dyn InputBinding) {
    b.ping().await.unwrap();
    let mut ids = Vec::new();
    let first = b
        .next(Duration::from_secs(3))
        .await
        .unwrap()
        .expect("a tick within 3s");
    assert!(
        humantime::parse_rfc3339_weak(std::str::from_utf8(&first.data).unwrap()).is_ok(),
        "{first:?}"
    );
    assert_eq!(
        first.metadata.get("schedule").map(String::as_str),
        Some("@every 100ms")
    );
    ids.push(first.id.clone());
    b.reply(&first.id, b"handled".to_vec(), None).await.unwrap();
    // The reply reaches the component: later events report it.
    let mut seen_reply = false;
    for _ in 0..20 {
        let e = b
            .next(Duration::from_secs(3))
            .await
            .unwrap()
            .expect("ticks keep coming");
        assert!(!ids.contains(&e.id), "event ids are unique");
        ids.push(e.id.clone());
        if e.metadata.get("lastReplyId") == Some(&first.id) {
            assert_eq!(
                e.metadata.get("lastReplyData").map(String::as_str),
                Some("handled")
            );
            assert_eq!(
                e.metadata.get("repliesReceived").map(String::as_str),
                Some("1")
            );
            seen_reply = true;
            break;
        }
    }
    assert!(seen_reply, "the reply never reached the component");
}

#[tokio::test]
async fn native_reference_meets_the_contract() {
    let b = MemoryInputBinding::new();
    assert!(
        b.init(Metadata::new()).await.is_err(),
        "schedule is required"
    );
    b.init(schedule("@every 100ms")).await.unwrap();
    contract(&b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_guest_meets_the_contract() {
    let cfg = support::config(&entry("ticker"));
    let host = support::load(&cfg);
    let b = host.input_binding_instance("ticker", "app").unwrap();
    match b.init(schedule("every now and then")).await {
        Err(BlockError::InvalidArgument(m)) => assert!(m.contains("every now and then"), "{m}"),
        other => panic!("bad schedule: {other:?}"),
    }
    b.init(schedule("@every 100ms")).await.unwrap();
    contract(&b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_read_stream_meets_the_contract() {
    let served = crate::bridge::serve(&entry("ticker")).await;
    let b = GrpcInputBinding::connect(&served.socket("ticker"), "app")
        .await
        .unwrap();
    b.init(schedule("@every 100ms")).await.unwrap();
    contract(&b).await;
    // Shutdown ends the open Read stream instead of waiting for it forever.
    tokio::time::timeout(Duration::from_secs(5), served.stop())
        .await
        .expect("shutdown with an open stream")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daprd_properties_override_config_metadata() {
    let served = crate::bridge::serve(&format!(
        "  - name: configured\n    type: bindings\n    wasm: {:?}\n    metadata:\n      - name: schedule\n        value: \"@every 100ms\"\n",
        support::guest("cron")
    ))
    .await;
    // No properties: the config's metadata applies.
    let a = GrpcInputBinding::connect(&served.socket("configured"), "a")
        .await
        .unwrap();
    a.init(Metadata::new()).await.unwrap();
    let e = a.next(Duration::from_secs(3)).await.unwrap().expect("tick");
    assert_eq!(
        e.metadata.get("schedule").map(String::as_str),
        Some("@every 100ms")
    );
    // daprd's properties (the Dapr component YAML) win key by key.
    let b = GrpcInputBinding::connect(&served.socket("configured"), "b")
        .await
        .unwrap();
    b.init(schedule("@every 150ms")).await.unwrap();
    let e = b.next(Duration::from_secs(3)).await.unwrap().expect("tick");
    assert_eq!(
        e.metadata.get("schedule").map(String::as_str),
        Some("@every 150ms")
    );
    drop((a, b));
    served.stop().await.unwrap();
}

/// One config entry, one socket, two services: daprd discovers the input and the output
/// binding by reflection and opens one connection (and one Init) per side, with the same
/// instance name; what the app sends out comes back in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_serves_an_input_and_an_output_binding() {
    use wasmplug::blocks::bindings::output::{GrpcOutputBinding, InvokeRequest, OutputBinding};
    let served = crate::bridge::serve(&format!(
        "  - name: loop\n    type: bindings\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: loopback\n          backend: memory\n",
        support::guest("loopback")
    ))
    .await;
    let socket = served.socket("loop");
    let names = crate::output_binding::reflected_services(&socket).await;
    assert!(
        names.contains(&"dapr.proto.components.v1.InputBinding".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"dapr.proto.components.v1.OutputBinding".to_owned()),
        "{names:?}"
    );

    let output = GrpcOutputBinding::connect(&socket, "app").await.unwrap();
    output.init(Metadata::new()).await.unwrap();
    let input = GrpcInputBinding::connect(&socket, "app").await.unwrap();
    input.init(Metadata::new()).await.unwrap();
    for i in 0..3 {
        output
            .invoke(InvokeRequest::new("send").with_data(format!("msg-{i}")))
            .await
            .unwrap();
    }
    for i in 0..3 {
        let e = input
            .next(Duration::from_secs(3))
            .await
            .unwrap()
            .expect("the message comes back in");
        assert_eq!(e.data, format!("msg-{i}").as_bytes(), "in order");
        input.reply(&e.id, b"ok".to_vec(), None).await.unwrap();
    }
    drop((input, output));
    served.stop().await.unwrap();
}
