//! The durable FIFO queue in the host bucket.
//!
//! Both sides of one Dapr component (two component instances, each with its own `init`)
//! open the same host bucket namespace, so the queue lives there and never in instance
//! memory: the output side [`append`]s, the input side [`take`]s.
//!
//! | key            | value                                                              |
//! |----------------|--------------------------------------------------------------------|
//! | `tail`         | sequence of the last message appended (`u64` LE, 8 bytes)          |
//! | `head`         | sequence of the last message taken                                 |
//! | `m/<seq:020>`  | message `seq` (from 1), a [`crate::record::Record`]                |
//!
//! A missing counter is 0. Invariant: `head <= tail`, and messages exist only for
//! `head < seq <= tail` (one that was removed behind our back is skipped).
//!
//! Every change is ONE conditional `keyvalue-atomics.commit`: an append writes the message
//! and advances `tail` under a precondition on the `tail` it read; a take deletes the
//! messages and advances `head` under a precondition on the `head` it read. Concurrent
//! writers therefore never take the same sequence number or hand out a message twice.

use wasmplug_guest::counter;
use wasmplug_guest::keyvalue_atomics::{CommitError, Precondition, Write};
use wasmplug_guest::kv::{self, Backend};
use wasmplug_guest::retry::{Attempt, retry_conflicts};

use crate::Error;

/// How often a commit that lost a race is tried before giving up.
pub use wasmplug_guest::retry::MAX_COMMIT_ATTEMPTS;

/// The key of the tail counter.
pub const TAIL_KEY: &str = "tail";
/// The key of the head counter.
pub const HEAD_KEY: &str = "head";
/// Largest stored message (the host's value limit).
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;
/// One [`take`] returns at most this many bytes of records, unless a single one is larger.
pub const MAX_TAKE_BYTES: usize = 8 * 1024 * 1024;
/// Most message keys one [`take`] attempt reads, so a long run of keys removed behind our
/// back never makes a single call expensive (the next call continues past them).
pub const MAX_SCAN_READS: usize = 1024;

/// How a corrupt head or tail counter is named in errors.
const COUNTER: &str = "queue counter";

/// Messages taken from the queue: `(sequence, encoded record)`, oldest first.
pub type Taken = Vec<(u64, Vec<u8>)>;

/// The key of message `seq`; zero-padded so keys sort in sequence order.
pub fn message_key(seq: u64) -> String {
    format!("m/{seq:020}")
}

/// Append one encoded record and return its sequence number (from 1).
pub fn append(backend: &impl Backend, record: Vec<u8>) -> Result<u64, Error> {
    // The tail write comes first, so a lost race is `conflict(0)`; both are filled in below.
    let mut writes = [
        Write {
            key: TAIL_KEY.to_owned(),
            precondition: Precondition::Any,
            value: None,
        },
        Write {
            key: String::new(),
            precondition: Precondition::Absent,
            value: Some(record),
        },
    ];
    retry_conflicts(
        || {
            let tail = counter::read(backend, TAIL_KEY, COUNTER)?;
            let seq = tail.value.checked_add(1).ok_or_else(|| {
                Error::Other("the queue's sequence numbers are exhausted".to_owned())
            })?;
            let [tail_write, message_write] = &mut writes;
            *tail_write = tail.set(TAIL_KEY, seq);
            message_write.key = message_key(seq);
            match backend.commit(&writes) {
                Ok(_) => Ok(Attempt::Done(seq)),
                Err(CommitError::Conflict(0)) => Ok(Attempt::Conflict),
                Err(CommitError::Conflict(_)) => {
                    let [_, message_write] = &writes;
                    Err(Error::Other(format!(
                        "queue storage is inconsistent: message key {:?} past the tail \
                         already exists; nothing was sent",
                        message_write.key
                    )))
                }
                Err(CommitError::Store(err)) => Err(kv::commit_error("send", &err)),
            }
        },
        || {
            Err(Error::Other(format!(
                "send gave up after {MAX_COMMIT_ATTEMPTS} attempts lost a race with concurrent \
                 senders; nothing was sent"
            )))
        },
    )
}

/// Remove up to `max` messages from the front of the queue, oldest first, and return them
/// with their sequence numbers. They are gone from the bucket when this returns Ok, so
/// whatever happens to them next, no one takes them again (at-most-once).
pub fn take(backend: &impl Backend, max: usize) -> Result<Taken, Error> {
    if max == 0 {
        return Ok(Vec::new());
    }
    retry_conflicts(
        || take_once(backend, max),
        || {
            Err(Error::Other(format!(
                "poll gave up after {MAX_COMMIT_ATTEMPTS} attempts lost a race with concurrent \
                 pollers; nothing was taken"
            )))
        },
    )
}

/// One attempt of [`take`]: read, then delete what was read and move the head in one commit.
fn take_once(backend: &impl Backend, max: usize) -> Result<Attempt<Taken>, Error> {
    let head = counter::read(backend, HEAD_KEY, COUNTER)?;
    let tail = counter::read(backend, TAIL_KEY, COUNTER)?.value;
    if head.value > tail {
        return Err(Error::Other(format!(
            "queue counters are corrupt: head {} is past tail {tail}",
            head.value
        )));
    }
    let mut deletes = Vec::new();
    let mut taken = Vec::new();
    let mut bytes = 0usize;
    let mut reads = 0;
    let mut last = head.value;
    while last < tail && taken.len() < max && reads < MAX_SCAN_READS {
        // `last < tail`, so this cannot overflow.
        let seq = last.saturating_add(1);
        let key = message_key(seq);
        reads += 1;
        if let Some(entry) = kv::read(backend, &key)? {
            let len = entry.value.len();
            if !taken.is_empty() && bytes.saturating_add(len) > MAX_TAKE_BYTES {
                break;
            }
            bytes = bytes.saturating_add(len);
            deletes.push(Write {
                key,
                precondition: Precondition::Version(entry.version),
                value: None,
            });
            taken.push((seq, entry.value));
        }
        last = seq;
    }
    if last == head.value {
        return Ok(Attempt::Done(taken));
    }
    // The head write first, then the deletes it covers.
    let writes: Vec<Write> = std::iter::once(head.set(HEAD_KEY, last))
        .chain(deletes)
        .collect();
    match backend.commit(&writes) {
        Ok(_) => Ok(Attempt::Done(taken)),
        // Another taker moved the head (or a message changed): look again.
        Err(CommitError::Conflict(_)) => Ok(Attempt::Conflict),
        Err(CommitError::Store(err)) => Err(kv::commit_error("poll", &err)),
    }
}

#[cfg(test)]
mod tests {
    use wasmplug_guest::testing::FakeBucket as Fake;

    use super::*;

    /// Every message key, in order.
    fn message_keys(fake: &Fake) -> Vec<String> {
        fake.keys_with_prefix("m/")
    }

    fn datas(taken: &[(u64, Vec<u8>)]) -> Vec<(u64, &str)> {
        taken
            .iter()
            .map(|(seq, v)| (*seq, std::str::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn fifo_with_durable_counters() {
        let fake = Fake::default();
        assert_eq!(take(&fake, 10).unwrap(), Vec::new());
        assert_eq!(append(&fake, b"a".to_vec()).unwrap(), 1);
        assert_eq!(append(&fake, b"b".to_vec()).unwrap(), 2);
        assert_eq!(append(&fake, b"c".to_vec()).unwrap(), 3);
        assert_eq!(fake.counter(TAIL_KEY), Some(3));
        assert!(fake.contains(&message_key(1)));

        assert_eq!(take(&fake, 0).unwrap(), Vec::new());
        assert_eq!(datas(&take(&fake, 2).unwrap()), [(1, "a"), (2, "b")]);
        assert_eq!(fake.counter(HEAD_KEY), Some(2));
        assert!(!fake.contains(&message_key(1)));
        assert!(!fake.contains(&message_key(2)));
        assert_eq!(append(&fake, b"d".to_vec()).unwrap(), 4);
        assert_eq!(datas(&take(&fake, 10).unwrap()), [(3, "c"), (4, "d")]);
        assert_eq!(take(&fake, 10).unwrap(), Vec::new());
        assert_eq!(message_keys(&fake), Vec::<String>::new());
    }

    #[test]
    fn append_is_one_commit_and_take_is_one_commit() {
        let fake = Fake::default();
        append(&fake, b"a".to_vec()).unwrap();
        append(&fake, b"b".to_vec()).unwrap();
        assert_eq!(fake.commits(), 2);
        take(&fake, 10).unwrap();
        assert_eq!(fake.commits(), 3);
        // An empty queue costs no commit.
        take(&fake, 10).unwrap();
        assert_eq!(fake.commits(), 3);
    }

    #[test]
    fn append_retries_when_another_sender_wins_the_race() {
        let fake = Fake::default();
        fake.on_next_commit(|f| {
            append(f, b"rival".to_vec()).unwrap();
        });
        assert_eq!(append(&fake, b"mine".to_vec()).unwrap(), 2);
        assert_eq!(
            datas(&take(&fake, 10).unwrap()),
            [(1, "rival"), (2, "mine")]
        );
    }

    #[test]
    fn append_gives_up_after_bounded_retries() {
        let fake = Fake::default();
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            fake.on_next_commit(|f| {
                append(f, b"rival".to_vec()).unwrap();
            });
        }
        match append(&fake, b"mine".to_vec()) {
            Err(Error::Other(msg)) => assert!(msg.contains("gave up"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(fake.counter(TAIL_KEY), Some(MAX_COMMIT_ATTEMPTS as u64));
    }

    #[test]
    fn take_retries_when_another_taker_wins_the_race() {
        let fake = Fake::default();
        for data in ["a", "b", "c"] {
            append(&fake, data.as_bytes().to_vec()).unwrap();
        }
        fake.on_next_commit(|f| {
            assert_eq!(datas(&take(f, 1).unwrap()), [(1, "a")]);
        });
        // Never the same message twice.
        assert_eq!(datas(&take(&fake, 10).unwrap()), [(2, "b"), (3, "c")]);
        assert_eq!(fake.counter(HEAD_KEY), Some(3));
    }

    #[test]
    fn take_gives_up_after_bounded_retries() {
        let fake = Fake::default();
        for _ in 0..MAX_COMMIT_ATTEMPTS + 1 {
            append(&fake, b"x".to_vec()).unwrap();
        }
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            fake.on_next_commit(|f| {
                take(f, 1).unwrap();
            });
        }
        assert!(matches!(take(&fake, 10), Err(Error::Other(_))));
        assert_eq!(fake.counter(HEAD_KEY), Some(MAX_COMMIT_ATTEMPTS as u64));
        assert_eq!(take(&fake, 10).unwrap().len(), 1);
    }

    #[test]
    fn store_failures_change_nothing() {
        let fake = Fake::default();
        append(&fake, b"a".to_vec()).unwrap();
        fake.fail_reads(true);
        fake.fail_commits(true);
        assert!(matches!(append(&fake, b"b".to_vec()), Err(Error::Other(_))));
        assert!(matches!(take(&fake, 10), Err(Error::Other(_))));
        fake.fail_reads(false);
        fake.fail_commits(false);
        assert_eq!(datas(&take(&fake, 10).unwrap()), [(1, "a")]);
        assert_eq!(take(&fake, 10).unwrap(), Vec::new());
    }

    #[test]
    fn skips_messages_removed_behind_its_back() {
        let fake = Fake::default();
        for data in ["a", "b", "c"] {
            append(&fake, data.as_bytes().to_vec()).unwrap();
        }
        fake.remove_raw(&message_key(1));
        fake.remove_raw(&message_key(2));
        assert_eq!(datas(&take(&fake, 1).unwrap()), [(3, "c")]);
        assert_eq!(fake.counter(HEAD_KEY), Some(3));

        // Only missing keys: head still moves past them.
        append(&fake, b"d".to_vec()).unwrap();
        fake.remove_raw(&message_key(4));
        assert_eq!(take(&fake, 1).unwrap(), Vec::new());
        assert_eq!(fake.counter(HEAD_KEY), Some(4));
    }

    #[test]
    fn take_bounds_bytes_but_always_makes_progress() {
        let fake = Fake::default();
        let big = vec![b'x'; MAX_TAKE_BYTES / 2 + 1];
        append(&fake, big.clone()).unwrap();
        append(&fake, big.clone()).unwrap();
        append(&fake, vec![b'y'; MAX_TAKE_BYTES + 1]).unwrap();
        assert_eq!(take(&fake, 10).unwrap().len(), 1);
        assert_eq!(take(&fake, 10).unwrap().len(), 1);
        assert_eq!(take(&fake, 10).unwrap().len(), 1);
        assert_eq!(take(&fake, 10).unwrap(), Vec::new());
    }

    #[test]
    fn corrupt_counters_are_errors() {
        let fake = Fake::default();
        fake.put_raw(TAIL_KEY, b"xyz");
        assert!(matches!(append(&fake, b"a".to_vec()), Err(Error::Other(_))));
        let fake = Fake::default();
        fake.put_raw(HEAD_KEY, &5u64.to_le_bytes());
        match take(&fake, 1) {
            Err(Error::Other(msg)) => assert!(msg.contains("past tail"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn message_keys_sort_in_sequence_order() {
        assert_eq!(message_key(7), "m/00000000000000000007");
        assert!(message_key(9) < message_key(10));
        assert_eq!(message_key(u64::MAX).len(), 22);
    }
}
