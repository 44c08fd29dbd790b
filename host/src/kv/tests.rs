//! One contract every [`Bucket`] backend meets, run against each of them (Redis on real
//! servers the tests start: one node, and a 3-master Cluster).

use std::sync::Arc;

use super::bucket::{Bucket, CommitError, Precondition, Write};
use super::durable::DurableBucket;
use super::memory::MemoryBucket;
use super::redis::{RedisBucket, RedisConfig, RedisStore};

pub(in crate::kv) fn put(key: &str, precondition: Precondition, value: &[u8]) -> Write {
    Write {
        key: key.into(),
        precondition,
        value: Some(value.to_vec()),
    }
}

pub(in crate::kv) fn del(key: &str, precondition: Precondition) -> Write {
    Write {
        key: key.into(),
        precondition,
        value: None,
    }
}

async fn contract(b: &dyn Bucket) {
    // Versions strictly increase; a delete reports 0.
    let v = b
        .commit(vec![put("a", Precondition::Absent, b"1")])
        .await
        .unwrap();
    let a1 = v[0];
    assert!(a1 > 0);
    let v = b
        .commit(vec![
            put("a", Precondition::Version(a1), b"2"),
            del("a", Precondition::Any),
        ])
        .await
        .unwrap();
    assert!(v[0] > a1);
    assert_eq!(v[1], 0);
    assert_eq!(b.get("a").await.unwrap(), None);
    // Re-created after delete: a version never seen before for this key.
    let a3 = b
        .commit(vec![put("a", Precondition::Absent, b"3")])
        .await
        .unwrap()[0];
    assert!(a3 > v[0]);
    assert_eq!(b.get("a").await.unwrap().unwrap().value, b"3");

    // A failing precondition anywhere in the commit writes nothing, and names the write.
    let err = b
        .commit(vec![
            put("b", Precondition::Absent, b"x"),
            put("a", Precondition::Version(a1), b"stale"),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, CommitError::Conflict(1)), "{err:?}");
    assert_eq!(b.get("b").await.unwrap(), None);
    assert_eq!(b.get("a").await.unwrap().unwrap().value, b"3");

    // Preconditions see the earlier writes of the same commit.
    let v = b
        .commit(vec![
            put("c", Precondition::Absent, b"1"),
            del("c", Precondition::Any),
            put("c", Precondition::Absent, b"2"),
        ])
        .await
        .unwrap();
    assert!(v[2] > v[0]);
    let c = b.get("c").await.unwrap().unwrap();
    assert_eq!((c.value.as_slice(), c.version), (b"2".as_slice(), v[2]));

    // Keys page in ascending order after a cursor.
    assert_eq!(b.keys_after(None, 10).await.unwrap(), ["a", "c"]);
    assert_eq!(b.keys_after(Some("a"), 10).await.unwrap(), ["c"]);
    assert_eq!(b.keys_after(Some("b"), 1).await.unwrap(), ["c"]);
    assert!(b.keys_after(Some("c"), 10).await.unwrap().is_empty());
    assert_eq!(b.keys_after(None, 1).await.unwrap(), ["a"]);
    // Many keys read in one call, in the order asked, absent ones as None.
    let keys: Vec<String> = ["c", "zz", "a"].map(String::from).to_vec();
    let many = b.get_many(&keys).await.unwrap();
    let values: Vec<Option<&[u8]>> = many
        .iter()
        .map(|v| v.as_ref().map(|v| v.value.as_slice()))
        .collect();
    assert_eq!(values, [Some(b"2".as_slice()), None, Some(b"3".as_slice())]);
    assert!(b.get_many(&[]).await.unwrap().is_empty());

    // Keys in any bytes order as bytes do; a big commit applies whole.
    let big: Vec<Write> = (0..500)
        .map(|i| put(&format!("k{i:03}"), Precondition::Absent, &[i as u8; 100]))
        .collect();
    let versions = b.commit(big).await.unwrap();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions increase within a commit"
    );
    assert_eq!(b.keys_after(Some("k498"), 10).await.unwrap(), ["k499"]);
    assert_eq!(
        b.get("k250").await.unwrap().unwrap().value,
        vec![250_u8; 100]
    );
}

#[tokio::test]
async fn the_memory_backend_meets_the_contract() {
    contract(&MemoryBucket::default()).await;
}

#[tokio::test]
async fn the_durable_backend_meets_the_contract_and_keeps_versions_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.redb");
    let last = {
        let b = DurableBucket::open(&path).unwrap();
        contract(&b).await;
        b.get("k499").await.unwrap().unwrap().version
    };
    let b = DurableBucket::open(&path).unwrap();
    assert_eq!(b.get("a").await.unwrap().unwrap().value, b"3");
    let next = b
        .commit(vec![put("d", Precondition::Absent, b"")])
        .await
        .unwrap()[0];
    assert!(next > last, "versions keep increasing after a reopen");
}

fn redis_bucket(config: RedisConfig, namespace: &str) -> RedisBucket {
    RedisBucket::new(Arc::new(RedisStore::new(config).unwrap()), namespace)
}

#[tokio::test]
async fn the_redis_backend_meets_the_contract_and_shares_one_bucket_between_clients() {
    let server = redis_harness::RedisServer::start();
    let config = RedisConfig::new("shared", vec![server.url()]);
    let b = redis_bucket(config.clone(), "c/i/b");
    contract(&b).await;
    // A second client (another process, as far as Redis can tell) sees the same bucket and
    // continues its versions; another namespace sees nothing.
    let other = redis_bucket(config.clone(), "c/i/b");
    assert_eq!(other.get("a").await.unwrap().unwrap().value, b"3");
    let last = b.get("k499").await.unwrap().unwrap().version;
    let next = other
        .commit(vec![put("d", Precondition::Absent, b"")])
        .await
        .unwrap()[0];
    assert!(next > last);
    let elsewhere = redis_bucket(config, "c/j/b");
    assert_eq!(elsewhere.get("a").await.unwrap(), None);
    assert!(elsewhere.keys_after(None, 10).await.unwrap().is_empty());
    // The documented layout, readable with redis-cli.
    assert_eq!(server.cli(&["HGET", &b.entry_key("a"), "v"]), "3");
    assert_eq!(
        server.cli(&["GET", "wasmplug:{c/i/b}:seq"]),
        next.to_string()
    );
    assert_eq!(server.cli(&["ZCARD", "wasmplug:{c/i/b}:keys"]), "503");
}

#[tokio::test]
async fn the_redis_backend_meets_the_contract_on_a_cluster() {
    let cluster = redis_harness::RedisCluster::start(3);
    let mut config = RedisConfig::new("cluster", cluster.urls());
    config.cluster = true;
    // Several buckets, so they land in different slots (and most likely nodes).
    for ns in ["c/i/one", "c/i/two", "c/i/three"] {
        contract(&redis_bucket(config.clone(), ns)).await;
    }
}

#[tokio::test]
async fn an_unreachable_redis_fails_in_bounded_time_and_recovers() {
    let mut server = redis_harness::RedisServer::start_with(redis_harness::Options {
        appendonly: true,
        ..Default::default()
    });
    let mut config = RedisConfig::new("shared", vec![server.url()]);
    config.timeout = std::time::Duration::from_millis(500);
    let b = redis_bucket(config, "c/i/b");
    b.commit(vec![put("kept", Precondition::Absent, b"1")])
        .await
        .unwrap();
    server.kill();
    let started = std::time::Instant::now();
    let e = b.get("kept").await.unwrap_err().to_string();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(e.contains("key-value store \"shared\""), "{e}");
    let e = b
        .commit(vec![put("lost", Precondition::Any, b"x")])
        .await
        .unwrap_err();
    assert!(matches!(e, CommitError::Kv(_)), "{e:?}");
    server.restart();
    // The client reconnects by itself; what was acknowledged is there.
    let mut value = None;
    for _ in 0..50 {
        if let Ok(v) = b.get("kept").await {
            value = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(value.unwrap().value, b"1");
    assert_eq!(b.get("lost").await.unwrap(), None);
}

#[tokio::test]
async fn min_replicas_refuses_to_call_an_unreplicated_commit_done() {
    let server = redis_harness::RedisServer::start();
    let mut config = RedisConfig::new("shared", vec![server.url()]);
    config.min_replicas = 1;
    config.timeout = std::time::Duration::from_millis(400);
    let b = redis_bucket(config, "c/i/b");
    let e = b
        .commit(vec![put("a", Precondition::Any, b"1")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("only 0 of the 1 replicas"), "{e}");
}
