//! Group commit in the durable bucket: what one commit means does not change when it shares
//! a transaction. Groups are made two ways: by calling `commit_group` with chosen commits
//! (the exact group is known), and by many tasks committing at once (the real path).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::backends::InMemoryBackend;

use super::*;
use crate::kv::MAX_KEY_LEN;
use crate::kv::group::GroupCommit;
use crate::kv::tests::{del, put};

fn bucket() -> (tempfile::TempDir, DurableBucket) {
    let dir = tempfile::tempdir().unwrap();
    let b = DurableBucket::open(&dir.path().join("b.redb")).unwrap();
    (dir, b)
}

fn value(b: &DurableBucket, key: &str) -> Option<Vec<u8>> {
    b.0.get_now(key).unwrap().map(|v| v.value)
}

/// `n` commits, `commit(i)` each, from as many tokio tasks started at once; their outcomes.
async fn concurrently(
    b: &DurableBucket,
    n: usize,
    commit: impl Fn(usize) -> Vec<Write>,
) -> Vec<Outcome> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (b, writes) = (b.clone(), commit(i));
            tokio::spawn(async move { b.commit(writes).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_all_apply_with_distinct_versions_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.redb");
    let versions: Vec<u64> = {
        let b = DurableBucket::open(&path).unwrap();
        concurrently(&b, 64, |i| {
            vec![put(&format!("k{i:02}"), Precondition::Absent, &[i as u8])]
        })
        .await
        .into_iter()
        .map(|o| o.unwrap()[0])
        .collect()
    };
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert!(sorted[0] > 0);
    // The bucket's last handle was dropped when the last commit was answered: the file
    // reopens at once, with every acknowledged write in it.
    let b = DurableBucket::open(&path).unwrap();
    for (i, &version) in versions.iter().enumerate() {
        let got = b.get(&format!("k{i:02}")).await.unwrap().unwrap();
        assert_eq!((got.value, got.version), (vec![i as u8], version));
    }
    let next = b
        .commit(vec![put("later", Precondition::Any, b"")])
        .await
        .unwrap()[0];
    assert!(next > sorted[63], "versions keep increasing after a reopen");
}

#[test]
fn of_two_creates_of_one_key_in_a_group_one_wins_and_the_other_writes_nothing() {
    let (_dir, b) = bucket();
    let first = [
        put("x", Precondition::Absent, b"first"),
        put("first's", Precondition::Absent, b"1"),
    ];
    let second = [
        put("second's", Precondition::Absent, b"2"),
        put("x", Precondition::Absent, b"second"),
    ];
    let outcomes = b.0.commit_group(&[&first, &second]).unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(
        matches!(outcomes[1], Err(CommitError::Conflict(1))),
        "{outcomes:?}"
    );
    assert_eq!(value(&b, "x").unwrap(), b"first");
    assert_eq!(value(&b, "first's").unwrap(), b"1");
    assert_eq!(
        value(&b, "second's"),
        None,
        "the loser wrote none of its keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_concurrent_creates_of_one_key_exactly_one_wins() {
    let (_dir, b) = bucket();
    let outcomes = concurrently(&b, 32, |i| {
        vec![
            put(&format!("own{i:02}"), Precondition::Absent, b"mine"),
            put("x", Precondition::Absent, &[i as u8]),
        ]
    })
    .await;
    let winners: Vec<usize> = (0..32).filter(|&i| outcomes[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = winners[0];
    assert_eq!(value(&b, "x").unwrap(), [winner as u8]);
    for (i, outcome) in outcomes.iter().enumerate() {
        let own = value(&b, &format!("own{i:02}"));
        if i == winner {
            assert_eq!(own.unwrap(), b"mine");
        } else {
            assert!(
                matches!(outcome, Err(CommitError::Conflict(1))),
                "{outcome:?}"
            );
            assert_eq!(own, None, "commit {i} lost and wrote nothing");
        }
    }
}

#[test]
fn a_conflicting_commit_leaves_its_neighbours_in_the_group_alone() {
    let (_dir, b) = bucket();
    let v0 =
        b.0.commit_group(&[&[put("k", Precondition::Any, b"0")]])
            .unwrap()[0]
            .as_ref()
            .unwrap()[0];
    // Versions are handed out one by one in group order, so the test knows them.
    let (v1, v2) = (v0 + 1, v0 + 2);
    let group: [&[Write]; 5] = [
        // Applies: "k" moves to v1.
        &[put("k", Precondition::Version(v0), b"1")],
        // Sees the first commit's write: its v0 is stale, so nothing of it applies.
        &[
            put("n", Precondition::Absent, b"lost"),
            put("k", Precondition::Version(v0), b"stale"),
        ],
        // Sees the first commit's version, not the failed one's writes: applies as v2.
        &[put("k", Precondition::Version(v1), b"3")],
        // "n" was never written, not even inside the transaction.
        &[put("n", Precondition::Absent, b"4")],
        // A write sees the earlier ones of its own commit, before any of them is written.
        &[
            put("p", Precondition::Absent, b"5"),
            put("p", Precondition::Absent, b"again"),
        ],
    ];
    let outcomes = b.0.commit_group(&group).unwrap();
    let shapes: Vec<Result<Vec<u64>, Option<u32>>> = outcomes
        .into_iter()
        .map(|o| {
            o.map_err(|e| match e {
                CommitError::Conflict(i) => Some(i),
                CommitError::Kv(_) => None,
            })
        })
        .collect();
    assert_eq!(
        shapes,
        [
            Ok(vec![v1]),
            Err(Some(1)),
            Ok(vec![v2]),
            Ok(vec![v2 + 1]),
            Err(Some(1))
        ]
    );
    let k = b.0.get_now("k").unwrap().unwrap();
    assert_eq!((k.value.as_slice(), k.version), (b"3".as_slice(), v2));
    assert_eq!(value(&b, "n").unwrap(), b"4");
    assert_eq!(value(&b, "p"), None);
    // The group's versions count for the bucket: the next one is above them all.
    let later = b.0.commit_group(&[&[
        del("k", Precondition::Any),
        put("q", Precondition::Any, b""),
    ]]);
    assert_eq!(later.unwrap()[0].as_ref().unwrap(), &[0, v2 + 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_transactions() {
    let (_dir, b) = bucket();
    let outcomes = concurrently(&b, 256, |i| {
        vec![put(&format!("k{i:03}"), Precondition::Any, b"v")]
    })
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let transactions = b.0.queue.transactions();
    assert!(
        (1..=64).contains(&transactions),
        "256 concurrent commits took {transactions} transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_caller_stopped_waiting_still_applies() {
    let (_dir, b) = bucket();
    let mut abandoned = b.commit(vec![put("abandoned", Precondition::Absent, b"1")]);
    // One poll queues it; then the caller goes away (a timeout, a cancelled request).
    let polled = abandoned
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert!(polled.is_pending());
    drop(abandoned);
    // Queued later, so answered no earlier than the abandoned one was committed.
    let later = b
        .commit(vec![put("later", Precondition::Any, b"2")])
        .await
        .unwrap()[0];
    let abandoned = b.0.get_now("abandoned").unwrap().unwrap();
    assert_eq!(abandoned.value, b"1");
    assert!(abandoned.version < later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_commit_fails_alone() {
    let (_dir, b) = bucket();
    let outcomes = concurrently(&b, 8, |i| {
        let key = if i == 3 {
            "k".repeat(MAX_KEY_LEN + 1)
        } else {
            format!("k{i}")
        };
        vec![put(&key, Precondition::Any, b"v")]
    })
    .await;
    for (i, o) in outcomes.iter().enumerate() {
        match i {
            3 => assert!(
                matches!(o, Err(CommitError::Kv(KvError::Invalid(_)))),
                "{o:?}"
            ),
            _ => assert!(o.is_ok(), "{o:?}"),
        }
    }
}

/// A backend whose fsync fails while `failing` is set.
#[derive(Debug)]
struct FailingSync {
    inner: InMemoryBackend,
    failing: Arc<AtomicBool>,
}

impl redb::StorageBackend for FailingSync {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("injected fsync failure"));
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.inner.write(offset, data)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_fails_every_commit_in_it_and_applies_none() {
    let failing = Arc::new(AtomicBool::new(false));
    let backend = FailingSync {
        inner: InMemoryBackend::new(),
        failing: failing.clone(),
    };
    let db = Database::builder().create_with_backend(backend).unwrap();
    let b = DurableBucket::on(db, Path::new("memory")).unwrap();
    failing.store(true, Ordering::Relaxed);
    let group: [&[Write]; 2] = [
        &[put("a", Precondition::Any, b"1")],
        &[put("b", Precondition::Absent, b"2")],
    ];
    let e = b.0.commit_group(&group).err().unwrap();
    assert!(e.to_string().contains("injected fsync failure"), "{e}");
    // Through the queue: whichever groups they fall into, every commit gets the error.
    let outcomes = concurrently(&b, 16, |i| {
        vec![put(&format!("c{i}"), Precondition::Any, b"v")]
    })
    .await;
    for o in &outcomes {
        assert!(
            matches!(o, Err(CommitError::Kv(KvError::Backend(_)))),
            "{o:?}"
        );
    }
    for key in ["a", "b", "c0", "c15"] {
        assert!(
            !matches!(b.0.get_now(key), Ok(Some(_))),
            "{key} was applied"
        );
    }
}
