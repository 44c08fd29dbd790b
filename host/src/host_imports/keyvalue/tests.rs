//! The import layer over fake backends: counters, contention, hanging stores.
use super::*;
use crate::kv::Versioned;

#[test]
fn a_counter_starts_at_zero_and_pins_what_it_read() {
    assert_eq!(next_count("n", None, 5).unwrap(), (5, Precondition::Absent));
    let current = Versioned {
        value: 7i64.to_le_bytes().to_vec(),
        version: 42,
    };
    assert_eq!(
        next_count("n", Some(current), -10).unwrap(),
        (-3, Precondition::Version(42))
    );
}

#[test]
fn a_counter_refuses_overflow_and_non_counters() {
    let max = Versioned {
        value: i64::MAX.to_le_bytes().to_vec(),
        version: 1,
    };
    assert!(next_count("n", Some(max), 1).is_err());
    let text = Versioned {
        value: b"hello".to_vec(),
        version: 1,
    };
    let e = next_count("n", Some(text), 1).unwrap_err();
    assert!(format!("{e:?}").contains("8-byte counter"));
}

#[test]
fn batches_are_bounded() {
    assert!(check_batch(MAX_BATCH).is_ok());
    assert!(check_batch(MAX_BATCH + 1).is_err());
}

/// A bucket whose every conditional commit loses a race.
#[derive(Debug)]
struct AlwaysContended;

impl Bucket for AlwaysContended {
    fn get<'a>(
        &'a self,
        _: &'a str,
    ) -> crate::kv::KvFuture<'a, Result<Option<Versioned>, KvError>> {
        Box::pin(std::future::ready(Ok(None)))
    }
    fn commit(&self, _: Vec<Write>) -> crate::kv::KvFuture<'_, Result<Vec<u64>, CommitError>> {
        Box::pin(std::future::ready(Err(CommitError::Conflict(0))))
    }
    fn keys_after<'a>(
        &'a self,
        _: Option<&'a str>,
        _: usize,
    ) -> crate::kv::KvFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}

/// A bucket that never answers (a Redis that hangs).
#[derive(Debug)]
struct Hangs;

impl Bucket for Hangs {
    fn get<'a>(
        &'a self,
        _: &'a str,
    ) -> crate::kv::KvFuture<'a, Result<Option<Versioned>, KvError>> {
        Box::pin(std::future::pending())
    }
    fn commit(&self, _: Vec<Write>) -> crate::kv::KvFuture<'_, Result<Vec<u64>, CommitError>> {
        Box::pin(std::future::pending())
    }
    fn keys_after<'a>(
        &'a self,
        _: Option<&'a str>,
        _: usize,
    ) -> crate::kv::KvFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(std::future::pending())
    }
}

fn open(bucket: impl Bucket + 'static, time_left: Duration) -> Open {
    Open {
        bucket: Arc::new(bucket),
        component: "comp".into(),
        name: "state".into(),
        time_left,
    }
}

#[tokio::test]
async fn increment_counts_and_gives_up_on_endless_contention() {
    let memory = open(
        crate::kv::memory::MemoryBucket::default(),
        Duration::from_secs(5),
    );
    assert_eq!(memory.increment("n", 2).await.unwrap(), 2);
    assert_eq!(memory.increment("n", -5).await.unwrap(), -3);
    let contended = open(AlwaysContended, Duration::from_secs(5));
    let e = contended.increment("n", 1).await.unwrap_err();
    assert!(format!("{e:?}").contains("attempts in a row"), "{e:?}");
}

#[tokio::test]
async fn a_store_that_hangs_is_cut_off_at_the_call_deadline_naming_component_and_bucket() {
    let hangs = open(Hangs, Duration::from_millis(50));
    let started = std::time::Instant::now();
    let e = hangs.get("k").await.unwrap_err();
    let store::Error::Other(shown) = e else {
        panic!("{e:?}")
    };
    assert!(
        shown.contains("component \"comp\", bucket \"state\""),
        "{shown}"
    );
    assert!(shown.contains("deadline passed"), "{shown}");
    let e = hangs
        .commit_unconditional(vec![unconditional("k".into(), None)])
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("deadline passed"), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
