//! An in-memory fake of the host's versioned bucket, for the native tests.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::Backend;
use crate::wasmplug::dapr::keyvalue_atomics::{CommitError, Entry, Precondition, Write};
use crate::wasmplug::dapr::keyvalue_store::Error as KvError;

/// An action run just before a commit is applied: simulates a concurrent writer.
type Hook = Box<dyn FnOnce(&Fake)>;

/// A host bucket: versions are unique and strictly increasing; `commit` applies all or
/// nothing, checking each precondition against the state left by the earlier writes.
#[derive(Default)]
pub struct Fake {
    entries: RefCell<BTreeMap<String, (Vec<u8>, u64)>>,
    last_version: Cell<u64>,
    /// Commits applied.
    pub commits: Cell<usize>,
    /// Hooks run one per commit, oldest first, before the commit is applied.
    before_commit: RefCell<Vec<Hook>>,
    /// Set while a hook runs: the rival's own commits run no hooks.
    in_hook: Cell<bool>,
    /// While set, every read and commit fails with a store error.
    pub broken: Cell<bool>,
}

impl Fake {
    /// Store `value` at `key` directly, bypassing preconditions.
    pub fn put_raw(&self, key: &str, value: &[u8]) {
        self.last_version.set(self.last_version.get() + 1);
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value.to_vec(), self.last_version.get()));
    }

    /// Remove `key` directly.
    pub fn remove_raw(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    /// Whether `key` exists.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.borrow().contains_key(key)
    }

    /// The counter at `key`, if it exists.
    pub fn counter(&self, key: &str) -> Option<u64> {
        self.entries
            .borrow()
            .get(key)
            .map(|(v, _)| u64::from_le_bytes(v.as_slice().try_into().expect("an 8-byte counter")))
    }

    /// Every message key, in order.
    pub fn message_keys(&self) -> Vec<String> {
        self.entries
            .borrow()
            .keys()
            .filter(|k| k.starts_with("m/"))
            .cloned()
            .collect()
    }

    /// Run `hook` just before the next commit not yet claimed by an earlier hook (commits
    /// made by a hook itself do not count).
    pub fn on_next_commit(&self, hook: impl FnOnce(&Fake) + 'static) {
        self.before_commit.borrow_mut().push(Box::new(hook));
    }
}

impl Backend for Fake {
    fn get_versioned(&self, key: &str) -> Result<Option<Entry>, KvError> {
        if self.broken.get() {
            return Err(KvError::Other("disk on fire".to_owned()));
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
        let hook = if self.in_hook.get() {
            None
        } else {
            let mut hooks = self.before_commit.borrow_mut();
            (!hooks.is_empty()).then(|| hooks.remove(0))
        };
        if let Some(hook) = hook {
            self.in_hook.set(true);
            hook(self);
            self.in_hook.set(false);
        }
        if self.broken.get() {
            return Err(CommitError::Store(KvError::Other(
                "disk on fire".to_owned(),
            )));
        }
        let mut next = self.entries.borrow().clone();
        let mut versions = Vec::new();
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
                    u32::try_from(index).expect("a small index"),
                ));
            }
            match &write.value {
                Some(value) => {
                    last += 1;
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
        self.commits.set(self.commits.get() + 1);
        Ok(versions)
    }
}
