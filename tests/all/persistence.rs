//! Durable host buckets survive a host restart.

use wasmplug::blocks::state::*;

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
