//! The state-store contract, one body run against every implementation through the same
//! trait: the native reference and the wasm guest (memory and durable host buckets).

use std::time::{Duration, SystemTime};

use wasmplug::blocks::state::*;

use crate::support;

fn md(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn etag_of(item: &Option<StateItem>) -> String {
    item.as_ref()
        .and_then(|i| i.etag.clone())
        .expect("item with etag")
}

fn assert_mismatch<T: std::fmt::Debug>(r: Result<T, StateError>, what: &str) {
    match r {
        Err(StateError::EtagMismatch(_)) => {}
        other => panic!("{what}: expected an etag mismatch, got {other:?}"),
    }
}

/// The whole contract. `store` must be initialised and empty.
pub async fn contract(store: &dyn StateStore) {
    basics(store).await;
    etags(store).await;
    first_write(store).await;
    deletes(store).await;
    bulk(store).await;
    transactions(store).await;
    ttl(store).await;
    misc(store).await;
}

async fn basics(s: &dyn StateStore) {
    let features = s.features().await.unwrap();
    for f in [features::ETAG, features::TRANSACTIONAL, features::TTL] {
        assert!(
            features.iter().any(|x| x == f),
            "missing feature {f}: {features:?}"
        );
    }
    assert!(
        !features.iter().any(|x| x == features::QUERY_API),
        "must not claim QUERY_API"
    );

    assert_eq!(
        s.get(GetRequest::new("missing")).await.unwrap(),
        None,
        "a missing key is not an error"
    );

    s.set(SetRequest::new("b1", br#"{"a":1}"#.to_vec()).with_content_type("application/json"))
        .await
        .unwrap();
    let item = s.get(GetRequest::new("b1")).await.unwrap().expect("stored");
    assert_eq!(item.data, br#"{"a":1}"#);
    assert_eq!(item.content_type.as_deref(), Some("application/json"));
    assert!(
        item.etag.as_deref().is_some_and(|e| !e.is_empty()),
        "etag present: {item:?}"
    );
    assert!(
        !item.metadata.contains_key(TTL_EXPIRE_TIME),
        "no ttl, no expiry: {item:?}"
    );

    // Values are opaque bytes, including empty and non-UTF-8 ones.
    s.set(SetRequest::new("empty", Vec::new())).await.unwrap();
    assert_eq!(
        s.get(GetRequest::new("empty"))
            .await
            .unwrap()
            .expect("stored")
            .data,
        b""
    );
    let binary: Vec<u8> = (0..=255u8).collect();
    s.set(SetRequest::new("bin", binary.clone())).await.unwrap();
    assert_eq!(
        s.get(GetRequest::new("bin"))
            .await
            .unwrap()
            .expect("stored")
            .data,
        binary
    );

    // Content type may also come as metadata.
    s.set(SetRequest::new("ct", "x").with_metadata("contentType", "text/plain"))
        .await
        .unwrap();
    assert_eq!(
        s.get(GetRequest::new("ct"))
            .await
            .unwrap()
            .expect("stored")
            .content_type
            .as_deref(),
        Some("text/plain")
    );

    match s.set(SetRequest::new("", "x")).await {
        Err(StateError::InvalidArgument(_)) => {}
        other => panic!("empty key: {other:?}"),
    }
}

async fn etags(s: &dyn StateStore) {
    s.set(SetRequest::new("e1", "v1")).await.unwrap();
    let e1 = etag_of(&s.get(GetRequest::new("e1")).await.unwrap());
    s.set(SetRequest::new("e1", "v1")).await.unwrap();
    let e2 = etag_of(&s.get(GetRequest::new("e1")).await.unwrap());
    assert_ne!(
        e1, e2,
        "every write changes the etag, even with the same value"
    );

    assert_mismatch(
        s.set(SetRequest::new("e1", "stale").with_etag(&e1)).await,
        "stale etag on set",
    );
    assert_mismatch(
        s.set(SetRequest::new("e1", "bad").with_etag("bad-etag"))
            .await,
        "garbage etag on set",
    );
    assert_mismatch(
        s.set(SetRequest::new("nope", "x").with_etag(&e2)).await,
        "etag on a missing key",
    );
    assert_eq!(
        s.get(GetRequest::new("e1"))
            .await
            .unwrap()
            .expect("kept")
            .data,
        b"v1",
        "failed sets change nothing"
    );

    s.set(SetRequest::new("e1", "v2").with_etag(&e2))
        .await
        .unwrap();
    let item = s.get(GetRequest::new("e1")).await.unwrap().expect("stored");
    assert_eq!(item.data, b"v2");
    assert_ne!(item.etag.as_deref(), Some(e2.as_str()));
}

async fn first_write(s: &dyn StateStore) {
    s.set(SetRequest::new("fw", "one").first_write())
        .await
        .unwrap();
    assert_mismatch(
        s.set(SetRequest::new("fw", "two").first_write()).await,
        "second first-write",
    );
    assert_mismatch(
        s.set(SetRequest::new("fw", "two").first_write().with_etag(""))
            .await,
        "first-write, empty etag",
    );
    let e = etag_of(&s.get(GetRequest::new("fw")).await.unwrap());
    s.set(SetRequest::new("fw", "three").first_write().with_etag(&e))
        .await
        .unwrap();
    assert_mismatch(
        s.set(SetRequest::new("fw", "four").first_write().with_etag(&e))
            .await,
        "first-write, stale etag",
    );
    assert_eq!(
        s.get(GetRequest::new("fw"))
            .await
            .unwrap()
            .expect("kept")
            .data,
        b"three"
    );

    // Last-write ignores existing values when no etag is given.
    let mut lw = SetRequest::new("fw", "five");
    lw.options.concurrency = Concurrency::LastWrite;
    s.set(lw).await.unwrap();
    assert_eq!(
        s.get(GetRequest::new("fw"))
            .await
            .unwrap()
            .expect("kept")
            .data,
        b"five"
    );
}

async fn deletes(s: &dyn StateStore) {
    s.delete(DeleteRequest::new("never-existed")).await.unwrap();
    s.set(SetRequest::new("d1", "x")).await.unwrap();
    let e = etag_of(&s.get(GetRequest::new("d1")).await.unwrap());
    assert!(
        s.delete(DeleteRequest::new("d1").with_etag("bad-etag"))
            .await
            .is_err(),
        "delete with a wrong etag fails"
    );
    assert!(
        s.get(GetRequest::new("d1")).await.unwrap().is_some(),
        "failed delete changes nothing"
    );
    assert!(
        s.delete(DeleteRequest::new("gone").with_etag(&e))
            .await
            .is_err(),
        "etag on a missing key fails"
    );
    s.delete(DeleteRequest::new("d1").with_etag(&e))
        .await
        .unwrap();
    assert_eq!(s.get(GetRequest::new("d1")).await.unwrap(), None);
    // Re-creating a deleted key never reuses its old etag.
    s.set(SetRequest::new("d1", "again")).await.unwrap();
    assert_ne!(etag_of(&s.get(GetRequest::new("d1")).await.unwrap()), e);
}

async fn bulk(s: &dyn StateStore) {
    s.bulk_set(vec![
        SetRequest::new("k1", "v1"),
        SetRequest::new("k2", "v2"),
        SetRequest::new("k3", "v3"),
    ])
    .await
    .unwrap();
    let keys = ["k3", "nope", "k1", "k2"];
    let items = s
        .bulk_get(keys.iter().map(|k| GetRequest::new(*k)).collect())
        .await
        .unwrap();
    assert_eq!(
        items.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        keys,
        "request order, missing keys included"
    );
    assert_eq!(items[0].item.as_ref().unwrap().data, b"v3");
    assert_eq!(items[1].item, None);
    assert_eq!(items[1].error, None, "a missing key is not an error");
    assert_eq!(items[2].item.as_ref().unwrap().data, b"v1");
    assert!(
        items
            .iter()
            .filter(|i| i.item.is_some())
            .all(|i| i.item.as_ref().unwrap().etag.is_some())
    );
    let e2 = items[3].item.as_ref().unwrap().etag.clone().unwrap();

    // A bulk delete with one bad etag deletes nothing.
    let r = s
        .bulk_delete(vec![
            DeleteRequest::new("k1"),
            DeleteRequest::new("k2").with_etag("bad-etag"),
        ])
        .await;
    assert!(r.is_err(), "bad etag in bulk delete: {r:?}");
    assert!(
        s.get(GetRequest::new("k1")).await.unwrap().is_some(),
        "bulk delete is all or nothing"
    );

    // A bulk set with one stale etag writes nothing.
    assert_mismatch(
        s.bulk_set(vec![
            SetRequest::new("k1", "new"),
            SetRequest::new("k2", "new").with_etag("bad-etag"),
        ])
        .await,
        "bulk set with a bad etag",
    );
    assert_eq!(
        s.get(GetRequest::new("k1")).await.unwrap().unwrap().data,
        b"v1",
        "bulk set is all or nothing"
    );

    s.bulk_delete(vec![
        DeleteRequest::new("k1"),
        DeleteRequest::new("k2").with_etag(e2),
        DeleteRequest::new("nope"),
    ])
    .await
    .unwrap();
    let items = s
        .bulk_get(vec![
            GetRequest::new("k1"),
            GetRequest::new("k2"),
            GetRequest::new("k3"),
        ])
        .await
        .unwrap();
    assert_eq!(
        items.iter().map(|i| i.item.is_some()).collect::<Vec<_>>(),
        [false, false, true]
    );
}

async fn transactions(s: &dyn StateStore) {
    use TransactOperation::{Delete, Set};
    s.set(SetRequest::new("t1", "x")).await.unwrap();
    // The conformance suite's order check.
    s.transact(TransactRequest {
        operations: vec![
            Delete(DeleteRequest::new("t1")),
            Set(SetRequest::new("t2", "two")),
            Delete(DeleteRequest::new("t2")),
            Set(SetRequest::new("t3", "three")),
            Delete(DeleteRequest::new("t-never")),
        ],
        metadata: md(&[("partitionKey", "p")]),
    })
    .await
    .unwrap();
    let got = s
        .bulk_get(
            ["t1", "t2", "t3"]
                .iter()
                .map(|k| GetRequest::new(*k))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(got[0].item, None);
    assert_eq!(got[1].item, None);
    assert_eq!(got[2].item.as_ref().unwrap().data, b"three");

    // A failing etag anywhere aborts everything, including earlier operations.
    let e3 = etag_of(&got[2].item.clone());
    let r = s
        .transact(TransactRequest {
            operations: vec![
                Set(SetRequest::new("t4", "four")),
                Delete(DeleteRequest::new("t3")),
                Set(SetRequest::new("t5", "five").with_etag("bad-etag")),
            ],
            metadata: Metadata::new(),
        })
        .await;
    assert_mismatch(r, "transaction with a bad etag");
    assert_eq!(
        s.get(GetRequest::new("t4")).await.unwrap(),
        None,
        "nothing of a failed transaction is applied"
    );
    assert_eq!(etag_of(&s.get(GetRequest::new("t3")).await.unwrap()), e3);

    // Later operations see earlier ones: first-write after a set in the same transaction fails.
    let r = s
        .transact(TransactRequest {
            operations: vec![
                Set(SetRequest::new("t6", "a")),
                Set(SetRequest::new("t6", "b").first_write()),
            ],
            metadata: Metadata::new(),
        })
        .await;
    assert_mismatch(r, "first-write on a key set earlier in the transaction");
    assert_eq!(s.get(GetRequest::new("t6")).await.unwrap(), None);

    // ...and an etag checked inside a transaction must be current.
    s.transact(TransactRequest {
        operations: vec![
            Set(SetRequest::new("t3", "3b").with_etag(&e3)),
            Set(SetRequest::new("t7", "seven")),
        ],
        metadata: Metadata::new(),
    })
    .await
    .unwrap();
    assert_eq!(
        s.get(GetRequest::new("t3")).await.unwrap().unwrap().data,
        b"3b"
    );
}

async fn ttl(s: &dyn StateStore) {
    match s
        .set(SetRequest::new("ttl", "x").with_metadata(TTL_IN_SECONDS, "foo"))
        .await
    {
        Err(StateError::InvalidArgument(_)) => {}
        other => panic!("non-integer ttl: {other:?}"),
    }
    assert_eq!(s.get(GetRequest::new("ttl")).await.unwrap(), None);

    let before = SystemTime::now();
    s.set(SetRequest::new("ttl", "x").with_metadata(TTL_IN_SECONDS, "1"))
        .await
        .unwrap();
    let item = s.get(GetRequest::new("ttl")).await.unwrap().expect("live");
    let exp = item
        .metadata
        .get(TTL_EXPIRE_TIME)
        .unwrap_or_else(|| panic!("ttlExpireTime missing: {item:?}"));
    let exp = humantime::parse_rfc3339_weak(exp)
        .unwrap_or_else(|e| panic!("{exp:?} is not RFC 3339: {e}"));
    let expected = before + Duration::from_secs(1);
    let skew = exp
        .duration_since(expected)
        .unwrap_or_else(|e| e.duration());
    assert!(
        skew < Duration::from_secs(2),
        "ttlExpireTime {exp:?} not ~1s from now"
    );
    let bulk = s.bulk_get(vec![GetRequest::new("ttl")]).await.unwrap();
    assert!(
        bulk[0]
            .item
            .as_ref()
            .unwrap()
            .metadata
            .contains_key(TTL_EXPIRE_TIME),
        "bulk get returns ttlExpireTime too"
    );

    // -1 and a plain set clear the TTL.
    s.set(SetRequest::new("ttl-clear", "x").with_metadata(TTL_IN_SECONDS, "100"))
        .await
        .unwrap();
    s.set(SetRequest::new("ttl-clear", "x").with_metadata(TTL_IN_SECONDS, "-1"))
        .await
        .unwrap();
    assert!(
        !s.get(GetRequest::new("ttl-clear"))
            .await
            .unwrap()
            .unwrap()
            .metadata
            .contains_key(TTL_EXPIRE_TIME)
    );
    s.set(SetRequest::new("ttl-plain", "x").with_metadata(TTL_IN_SECONDS, "100"))
        .await
        .unwrap();
    s.set(SetRequest::new("ttl-plain", "y")).await.unwrap();
    assert!(
        !s.get(GetRequest::new("ttl-plain"))
            .await
            .unwrap()
            .unwrap()
            .metadata
            .contains_key(TTL_EXPIRE_TIME)
    );

    // A first-write TTL key, then expiry.
    s.set(
        SetRequest::new("ttl-fw", "x")
            .first_write()
            .with_metadata(TTL_IN_SECONDS, "1"),
    )
    .await
    .unwrap();
    let stale = etag_of(&s.get(GetRequest::new("ttl-fw")).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        s.get(GetRequest::new("ttl")).await.unwrap(),
        None,
        "expired keys are gone"
    );
    assert_eq!(
        s.bulk_get(vec![GetRequest::new("ttl")]).await.unwrap()[0].item,
        None
    );
    assert_mismatch(
        s.set(SetRequest::new("ttl-fw", "y").with_etag(stale)).await,
        "etag of an expired key",
    );
    s.set(SetRequest::new("ttl-fw", "y").first_write())
        .await
        .expect("an expired key counts as absent for first-write");
}

async fn misc(s: &dyn StateStore) {
    match s.query(QueryRequest::default()).await {
        Err(StateError::Unimplemented(_)) => {}
        other => panic!("query: {other:?}"),
    }
    assert_eq!(s.multi_max_size().await.unwrap(), None);
    s.ping().await.unwrap();
}

#[tokio::test]
async fn native_reference_meets_the_contract() {
    let s = MemoryStateStore::new();
    assert!(
        s.get(GetRequest::new("x")).await.is_err(),
        "calls before init fail"
    );
    s.init(Metadata::new()).await.unwrap();
    contract(&s).await;
}

#[tokio::test]
async fn wasm_guest_over_memory_buckets_meets_the_contract() {
    let cfg = support::config(&support::state_store_entry("mem", "memory"));
    let host = support::load(&cfg);
    let s = host.state_store("mem").await.unwrap();
    contract(&s).await;
}

#[tokio::test]
async fn wasm_guest_over_durable_buckets_meets_the_contract() {
    let cfg = support::config(&support::state_store_entry("durable", "durable"));
    let host = support::load(&cfg);
    let s = host.state_store("durable").await.unwrap();
    contract(&s).await;
}

#[tokio::test]
async fn wasm_calls_before_init_are_refused() {
    let cfg = support::config(&support::state_store_entry("noinit", "memory"));
    let host = support::load(&cfg);
    let s = host.state_store_instance("noinit", "x").unwrap();
    match s.get(GetRequest::new("k")).await {
        Err(StateError::Component(e)) => {
            assert_eq!(e.kind, wasmplug::runtime::FaultKind::NotInitialized);
            assert!(e.to_string().contains("noinit"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn instances_have_separate_data() {
    let cfg = support::config(&support::state_store_entry("multi", "durable"));
    let host = support::load(&cfg);
    let a = host.state_store_instance("multi", "a").unwrap();
    let b = host.state_store_instance("multi", "b").unwrap();
    a.init(Metadata::new()).await.unwrap();
    b.init(Metadata::new()).await.unwrap();
    a.set(SetRequest::new("k", "from a")).await.unwrap();
    assert_eq!(b.get(GetRequest::new("k")).await.unwrap(), None);
    b.set(SetRequest::new("k", "from b")).await.unwrap();
    assert_eq!(
        a.get(GetRequest::new("k")).await.unwrap().unwrap().data,
        b"from a"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_nothing() {
    let cfg = support::config(&support::state_store_entry("conc", "memory"));
    let host = support::load(&cfg);
    let s = host.state_store("conc").await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                s.set(SetRequest::new(format!("c-{t}-{i}"), format!("{t}:{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let reqs = (0..8)
        .flat_map(|t| (0..50).map(move |i| GetRequest::new(format!("c-{t}-{i}"))))
        .collect();
    let items = s.bulk_get(reqs).await.unwrap();
    assert_eq!(items.len(), 400);
    for it in items {
        let (t, i) = it.key.trim_start_matches("c-").split_once('-').unwrap();
        assert_eq!(it.item.unwrap().data, format!("{t}:{i}").as_bytes());
    }
}
