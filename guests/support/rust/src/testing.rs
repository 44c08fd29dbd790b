//! Test support for the guests' native unit tests (feature `testing`): an in-memory fake of
//! the host's versioned bucket, and a metadata literal helper.
//!
//! Guests enable the feature in `[dev-dependencies]` only, so none of this is ever built
//! into a component.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};

use crate::counter;
use crate::keyvalue_atomics::{CommitError, Entry, Precondition, Write};
use crate::kv::{Backend, KvError};

/// Owned metadata pairs from string literals.
pub fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// What the fake says when it is told to fail.
pub const FAILURE: &str = "disk on fire";

/// An action run just before a commit is applied: simulates a concurrent writer.
type Hook = Box<dyn FnOnce(&FakeBucket)>;

/// A host bucket in memory, with the semantics of `keyvalue-atomics`: versions are unique
/// within the bucket and strictly increase with every write (also across a delete and
/// re-create); `commit` applies all or nothing, checking each precondition against the
/// state left by the writes before it.
#[derive(Default)]
pub struct FakeBucket {
    entries: RefCell<BTreeMap<String, (Vec<u8>, u64)>>,
    last_version: Cell<u64>,
    commits: Cell<usize>,
    reads: Cell<usize>,
    /// Hooks run one per commit, oldest first, before the commit is applied.
    before_commit: RefCell<VecDeque<Hook>>,
    /// Set while a hook runs: the rival's own commits run no hooks.
    in_hook: Cell<bool>,
    fail_reads: Cell<bool>,
    fail_commits: Cell<bool>,
}

impl FakeBucket {
    /// Store `value` at `key` directly, bypassing preconditions (no commit is counted);
    /// returns its new version.
    pub fn put_raw(&self, key: &str, value: &[u8]) -> u64 {
        let version = self.last_version.get().saturating_add(1);
        self.last_version.set(version);
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value.to_vec(), version));
        version
    }

    /// Remove `key` directly.
    pub fn remove_raw(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    /// Whether `key` exists.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.borrow().contains_key(key)
    }

    /// The value at `key`, if it exists.
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.borrow().get(key).map(|(v, _)| v.clone())
    }

    /// The counter (8 bytes, little-endian) at `key`; `None` if the key is missing or does
    /// not hold 8 bytes.
    pub fn counter(&self, key: &str) -> Option<u64> {
        self.entries
            .borrow()
            .get(key)
            .and_then(|(v, _)| counter::decode(v))
    }

    /// Every key starting with `prefix`, in order.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.entries
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Whether the bucket holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// How many commits were checked against the bucket: applied or conflicting, but not
    /// those failed by [`FakeBucket::fail_commits`].
    pub fn commits(&self) -> usize {
        self.commits.get()
    }

    /// How many `get_versioned` calls were made (failed ones included).
    pub fn reads(&self) -> usize {
        self.reads.get()
    }

    /// While `on`, every `get_versioned` fails with a store error ([`FAILURE`]).
    pub fn fail_reads(&self, on: bool) {
        self.fail_reads.set(on);
    }

    /// While `on`, every commit fails with a store error ([`FAILURE`]) after running its
    /// hook, changing nothing.
    pub fn fail_commits(&self, on: bool) {
        self.fail_commits.set(on);
    }

    /// Run `hook` just before the next commit not yet claimed by an earlier hook (commits
    /// made by a hook itself do not count and run no hooks).
    pub fn on_next_commit(&self, hook: impl FnOnce(&FakeBucket) + 'static) {
        self.before_commit.borrow_mut().push_back(Box::new(hook));
    }

    fn run_hook(&self) {
        if self.in_hook.get() {
            return;
        }
        // The borrow ends before the hook runs, so the hook may add hooks of its own.
        let hook = self.before_commit.borrow_mut().pop_front();
        if let Some(hook) = hook {
            self.in_hook.set(true);
            hook(self);
            self.in_hook.set(false);
        }
    }
}

impl Backend for FakeBucket {
    fn get_versioned(&self, key: &str) -> Result<Option<Entry>, KvError> {
        self.reads.set(self.reads.get().saturating_add(1));
        if self.fail_reads.get() {
            return Err(KvError::Other(FAILURE.to_owned()));
        }
        Ok(self
            .entries
            .borrow()
            .get(key)
            .map(|(value, version)| Entry {
                value: value.clone(),
                version: *version,
            }))
    }

    fn commit(&self, writes: &[Write]) -> Result<Vec<u64>, CommitError> {
        self.run_hook();
        if self.fail_commits.get() {
            return Err(CommitError::Store(KvError::Other(FAILURE.to_owned())));
        }
        self.commits.set(self.commits.get().saturating_add(1));
        let mut next = self.entries.borrow().clone();
        let mut versions = Vec::with_capacity(writes.len());
        let mut last = self.last_version.get();
        for (index, write) in writes.iter().enumerate() {
            let current = next.get(&write.key).map(|(_, v)| *v);
            let holds = match write.precondition {
                Precondition::Any => true,
                Precondition::Absent => current.is_none(),
                Precondition::Version(v) => current == Some(v),
            };
            if !holds {
                return Err(CommitError::Conflict(
                    u32::try_from(index).unwrap_or(u32::MAX),
                ));
            }
            match &write.value {
                Some(value) => {
                    last = last.checked_add(1).ok_or_else(|| {
                        CommitError::Store(KvError::Other("versions exhausted".to_owned()))
                    })?;
                    next.insert(write.key.clone(), (value.clone(), last));
                    versions.push(last);
                }
                None => {
                    next.remove(&write.key);
                    versions.push(0);
                }
            }
        }
        *self.entries.borrow_mut() = next;
        self.last_version.set(last);
        Ok(versions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(key: &str, precondition: Precondition, value: Option<&str>) -> Write {
        Write {
            key: key.to_owned(),
            precondition,
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    fn version(fake: &FakeBucket, key: &str) -> Option<u64> {
        fake.get_versioned(key)
            .expect("read")
            .map(|entry| entry.version)
    }

    #[test]
    fn versions_are_unique_and_increase_across_delete_and_recreate() {
        let fake = FakeBucket::default();
        let v1 = fake
            .commit(&[write("a", Precondition::Any, Some("1"))])
            .expect("commit");
        let v2 = fake
            .commit(&[
                write("a", Precondition::Any, Some("2")),
                write("b", Precondition::Absent, Some("x")),
                write("a", Precondition::Any, None),
            ])
            .expect("commit");
        assert_eq!(v1, [1]);
        assert_eq!(v2, [2, 3, 0], "one version per write, 0 for a delete");
        assert!(!fake.contains("a"));
        let v3 = fake
            .commit(&[write("a", Precondition::Absent, Some("again"))])
            .expect("commit");
        assert_eq!(v3, [4]);
        assert_eq!(fake.put_raw("c", b""), 5, "raw writes take versions too");
        assert_eq!(version(&fake, "a"), Some(4));
        assert_eq!(fake.value("a"), Some(b"again".to_vec()));
        assert_eq!(fake.commits(), 3);
    }

    #[test]
    fn preconditions_see_earlier_writes_and_fail_all_or_nothing() {
        let fake = FakeBucket::default();
        let v = fake.put_raw("k", b"old");
        // Version, then Absent after the delete earlier in the same commit.
        fake.commit(&[
            write("k", Precondition::Version(v), None),
            write("k", Precondition::Absent, Some("new")),
        ])
        .expect("commit");
        assert_eq!(fake.value("k"), Some(b"new".to_vec()));

        let before = version(&fake, "k");
        let result = fake.commit(&[
            write("other", Precondition::Any, Some("x")),
            write("k", Precondition::Version(v), Some("lost")),
        ]);
        assert!(matches!(result, Err(CommitError::Conflict(1))));
        assert!(
            !fake.contains("other"),
            "nothing of a failed commit applies"
        );
        assert_eq!(version(&fake, "k"), before);
        assert!(matches!(
            fake.commit(&[write("k", Precondition::Absent, Some("x"))]),
            Err(CommitError::Conflict(0))
        ));
        assert!(matches!(
            fake.commit(&[write("gone", Precondition::Version(1), None)]),
            Err(CommitError::Conflict(0))
        ));
        assert_eq!(fake.commits(), 4, "conflicting commits are counted");
    }

    #[test]
    fn hooks_run_once_each_in_order_and_not_for_their_own_commits() {
        let fake = FakeBucket::default();
        fake.on_next_commit(|f| {
            // A rival commit made by the hook runs no hook itself.
            f.commit(&[write("rival", Precondition::Any, Some("1"))])
                .expect("rival");
        });
        fake.on_next_commit(|f| {
            f.put_raw("second", b"");
        });
        fake.commit(&[write("mine", Precondition::Absent, Some("1"))])
            .expect("commit");
        assert!(fake.contains("rival") && !fake.contains("second"));
        fake.commit(&[]).expect("commit");
        assert!(fake.contains("second"));
        assert_eq!(fake.commits(), 3);
        assert_eq!(fake.keys_with_prefix("s"), ["second"]);
        assert_eq!(fake.keys_with_prefix(""), ["mine", "rival", "second"]);
    }

    #[test]
    fn failures_change_nothing() {
        let fake = FakeBucket::default();
        fake.put_raw("k", &counter::encode(7));
        fake.fail_commits(true);
        fake.on_next_commit(|f| {
            f.put_raw("hooked", b"");
        });
        match fake.commit(&[write("k", Precondition::Any, None)]) {
            Err(CommitError::Store(KvError::Other(msg))) => assert_eq!(msg, FAILURE),
            other => panic!("unexpected {other:?}"),
        }
        assert!(fake.contains("hooked"), "the hook runs before the failure");
        assert_eq!(fake.commits(), 0);
        assert_eq!(fake.counter("k"), Some(7));
        assert_eq!(version(&fake, "k"), Some(1), "reads still work");
        fake.fail_commits(false);

        fake.fail_reads(true);
        assert!(matches!(fake.get_versioned("k"), Err(KvError::Other(_))));
        fake.fail_reads(false);
        assert_eq!(fake.reads(), 2);
        assert!(!fake.is_empty());
        fake.remove_raw("k");
        fake.remove_raw("hooked");
        assert!(fake.is_empty());
        assert_eq!(fake.counter("k"), None);
    }

    #[test]
    fn counter_needs_eight_bytes() {
        let fake = FakeBucket::default();
        fake.put_raw("c", b"short");
        assert_eq!(fake.counter("c"), None);
        assert_eq!(fake.counter("missing"), None);
    }

    #[test]
    fn pairs_are_owned_in_order() {
        assert_eq!(
            pairs(&[("a", "1"), ("a", "")]),
            [
                ("a".to_owned(), "1".to_owned()),
                ("a".to_owned(), String::new())
            ]
        );
    }
}
