//! The storage contract every backend implements: a versioned map whose one write
//! primitive is an atomic, ordered, conditional multi-key [`Bucket::commit`]. No wasmtime
//! types here: the guest-facing side is `crate::host_imports::keyvalue`.

/// Errors from a bucket backend.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The backend failed (I/O, corruption); the message says how.
    #[error("key-value backend error: {0}")]
    Backend(String),
    /// A request the host refuses (too large, bad cursor, ...).
    #[error("invalid key-value request: {0}")]
    Invalid(String),
}

/// A condition one write in a [`Bucket::commit`] requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No condition.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this version.
    Version(u64),
}

/// One write of a commit; `value: None` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Key to write.
    pub key: String,
    /// What must hold, given the writes before this one in the same commit.
    pub precondition: Precondition,
    /// New value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// Why a commit did not apply.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The precondition of the write at this index failed; nothing was written.
    #[error("precondition of write {0} failed")]
    Conflict(u32),
    /// The backend failed; nothing was written.
    #[error(transparent)]
    Kv(#[from] KvError),
}

/// A value and the version the bucket assigned when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Stored bytes.
    pub value: Vec<u8>,
    /// Unique within the bucket, strictly increasing with every write.
    pub version: u64,
}

/// Limits that keep a hostile guest from using the host store as unbounded memory.
pub const MAX_KEY_LEN: usize = 4096;
/// Largest value a guest may store in one key.
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;
/// Most writes in one commit.
pub const MAX_COMMIT_WRITES: usize = 10_000;
/// Keys returned per `list-keys` page.
pub const LIST_PAGE: usize = 1000;

/// What a [`Bucket`] method returns: a future, so a backend that talks to a server awaits
/// its round trip instead of blocking a thread. Local backends return a ready future.
pub type KvFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A versioned key-value namespace.
pub trait Bucket: Send + Sync + std::fmt::Debug {
    /// Current value and version of `key`.
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Result<Option<Versioned>, KvError>>;
    /// Current values of `keys`, in the same order (one round trip where the backend can).
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> KvFuture<'a, Result<Vec<Option<Versioned>>, KvError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(self.get(k).await?);
            }
            Ok(out)
        })
    }
    /// Apply `writes` in order, atomically; returns each write's new version (0 for deletes).
    fn commit(&self, writes: Vec<Write>) -> KvFuture<'_, Result<Vec<u64>, CommitError>>;
    /// Up to `limit` keys strictly greater than `after`, ascending.
    fn keys_after<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> KvFuture<'a, Result<Vec<String>, KvError>>;
    /// Whether other processes may open this same bucket (a networked store such as Redis).
    /// `false` for this process's own stores (durable, memory): whatever another instance
    /// left in such a bucket was left by one that is gone.
    fn shared(&self) -> bool {
        false
    }
}

/// Checks sizes and counts of a commit before any backend sees it.
pub fn validate_writes(writes: &[Write]) -> Result<(), KvError> {
    if writes.len() > MAX_COMMIT_WRITES {
        return Err(KvError::Invalid(format!(
            "a commit may hold at most {MAX_COMMIT_WRITES} writes, got {}",
            writes.len()
        )));
    }
    for w in writes {
        validate_key(&w.key)?;
        if let Some(v) = &w.value
            && v.len() > MAX_VALUE_LEN
        {
            return Err(KvError::Invalid(format!(
                "value for key {:?} is {} bytes; the limit is {MAX_VALUE_LEN}",
                w.key,
                v.len()
            )));
        }
    }
    Ok(())
}

/// Checks a key's length.
pub fn validate_key(key: &str) -> Result<(), KvError> {
    if key.len() > MAX_KEY_LEN {
        return Err(KvError::Invalid(format!(
            "key is {} bytes; the limit is {MAX_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

/// Checks one precondition against the version currently visible (`None` = absent).
pub fn holds(pre: Precondition, current: Option<u64>) -> bool {
    match pre {
        Precondition::Any => true,
        Precondition::Absent => current.is_none(),
        Precondition::Version(v) => current == Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(key: &str, value: Option<usize>) -> Write {
        Write {
            key: key.into(),
            precondition: Precondition::Any,
            value: value.map(|n| vec![0; n]),
        }
    }

    #[test]
    fn preconditions_hold_only_for_the_state_they_name() {
        assert!(holds(Precondition::Any, None));
        assert!(holds(Precondition::Any, Some(3)));
        assert!(holds(Precondition::Absent, None));
        assert!(!holds(Precondition::Absent, Some(3)));
        assert!(holds(Precondition::Version(3), Some(3)));
        assert!(!holds(Precondition::Version(3), Some(4)));
        assert!(!holds(Precondition::Version(3), None));
    }

    #[test]
    fn oversized_keys_values_and_commits_are_refused() {
        assert!(validate_key(&"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(matches!(
            validate_key(&"k".repeat(MAX_KEY_LEN + 1)),
            Err(KvError::Invalid(_))
        ));
        assert!(validate_writes(&[write("k", Some(MAX_VALUE_LEN))]).is_ok());
        assert!(validate_writes(&[write("k", Some(MAX_VALUE_LEN + 1))]).is_err());
        assert!(validate_writes(&[write(&"k".repeat(MAX_KEY_LEN + 1), None)]).is_err());
        let many: Vec<Write> = (0..=MAX_COMMIT_WRITES).map(|_| write("k", None)).collect();
        assert!(validate_writes(&many).is_err());
        assert!(validate_writes(&many[1..]).is_ok());
    }
}
