//! One contract every [`Bucket`] backend meets, run against each of them.

use super::bucket::{Bucket, CommitError, Precondition, Write};
use super::durable::DurableBucket;
use super::memory::MemoryBucket;

fn put(key: &str, precondition: Precondition, value: &[u8]) -> Write {
    Write {
        key: key.into(),
        precondition,
        value: Some(value.to_vec()),
    }
}

fn del(key: &str, precondition: Precondition) -> Write {
    Write {
        key: key.into(),
        precondition,
        value: None,
    }
}

fn contract(b: &dyn Bucket) {
    // Versions strictly increase; a delete reports 0.
    let v = b.commit(&[put("a", Precondition::Absent, b"1")]).unwrap();
    let a1 = v[0];
    assert!(a1 > 0);
    let v = b
        .commit(&[
            put("a", Precondition::Version(a1), b"2"),
            del("a", Precondition::Any),
        ])
        .unwrap();
    assert!(v[0] > a1);
    assert_eq!(v[1], 0);
    assert_eq!(b.get("a").unwrap(), None);
    // Re-created after delete: a version never seen before for this key.
    let a3 = b.commit(&[put("a", Precondition::Absent, b"3")]).unwrap()[0];
    assert!(a3 > v[0]);
    assert_eq!(b.get("a").unwrap().unwrap().value, b"3");

    // A failing precondition anywhere in the commit writes nothing, and names the write.
    let err = b
        .commit(&[
            put("b", Precondition::Absent, b"x"),
            put("a", Precondition::Version(a1), b"stale"),
        ])
        .unwrap_err();
    assert!(matches!(err, CommitError::Conflict(1)), "{err:?}");
    assert_eq!(b.get("b").unwrap(), None);
    assert_eq!(b.get("a").unwrap().unwrap().value, b"3");

    // Preconditions see the earlier writes of the same commit.
    let v = b
        .commit(&[
            put("c", Precondition::Absent, b"1"),
            del("c", Precondition::Any),
            put("c", Precondition::Absent, b"2"),
        ])
        .unwrap();
    assert!(v[2] > v[0]);
    let c = b.get("c").unwrap().unwrap();
    assert_eq!((c.value.as_slice(), c.version), (b"2".as_slice(), v[2]));

    // Keys page in ascending order after a cursor.
    assert_eq!(b.keys_after(None, 10).unwrap(), ["a", "c"]);
    assert_eq!(b.keys_after(Some("a"), 10).unwrap(), ["c"]);
    assert_eq!(b.keys_after(Some("b"), 1).unwrap(), ["c"]);
    assert!(b.keys_after(Some("c"), 10).unwrap().is_empty());
    assert_eq!(b.keys_after(None, 1).unwrap(), ["a"]);
}

#[test]
fn the_memory_backend_meets_the_contract() {
    let b = MemoryBucket::default();
    assert!(!b.commit_blocks());
    contract(&b);
}

#[test]
fn the_durable_backend_meets_the_contract_and_keeps_versions_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.redb");
    let last = {
        let b = DurableBucket::open(&path).unwrap();
        assert!(b.commit_blocks());
        contract(&b);
        b.get("c").unwrap().unwrap().version
    };
    let b = DurableBucket::open(&path).unwrap();
    assert_eq!(b.get("a").unwrap().unwrap().value, b"3");
    let next = b.commit(&[put("d", Precondition::Absent, b"")]).unwrap()[0];
    assert!(next > last, "versions keep increasing after a reopen");
}
