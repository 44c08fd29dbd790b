//! The host key-value bucket as the guests use it.
//!
//! Guest logic is written against [`Backend`], the two versioned operations of
//! `keyvalue-atomics` every guest here needs, so it runs unchanged over the host's
//! [`Bucket`] (the impl below) and over the in-memory fake of the `testing` module.

use crate::Error;
use crate::keyvalue_atomics::{self, CommitError, Entry, Write};
pub use crate::keyvalue_store::{Bucket, Error as KvError};

/// Component metadata key naming the host bucket to open.
pub const BUCKET_METADATA: &str = "bucket";

/// The versioned host operations the guests build on.
pub trait Backend {
    /// The value and version stored under `key`, if any (`keyvalue-atomics.get-versioned`).
    fn get_versioned(&self, key: &str) -> Result<Option<Entry>, KvError>;
    /// Apply `writes` atomically, all or nothing (`keyvalue-atomics.commit`); the new
    /// version of each write (0 for deletes).
    fn commit(&self, writes: &[Write]) -> Result<Vec<u64>, CommitError>;
    /// Whether `key` is set, without moving its value (`bucket.exists`; by default
    /// [`get_versioned`](Self::get_versioned)).
    fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get_versioned(key)?.is_some())
    }
}

impl Backend for Bucket {
    fn get_versioned(&self, key: &str) -> Result<Option<Entry>, KvError> {
        keyvalue_atomics::get_versioned(self, key)
    }

    fn commit(&self, writes: &[Write]) -> Result<Vec<u64>, CommitError> {
        keyvalue_atomics::commit(self, writes)
    }

    fn exists(&self, key: &str) -> Result<bool, KvError> {
        Bucket::exists(self, key)
    }
}

/// Open the granted host bucket `name` (as given by metadata [`BUCKET_METADATA`], or the
/// guest's default).
///
/// # Errors
/// `invalid-argument` if `name` is empty; `other` naming the bucket and the cause if the
/// host refuses to open it.
pub fn open_bucket(name: &str) -> Result<Bucket, Error> {
    if name.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "metadata {BUCKET_METADATA} must not be empty"
        )));
    }
    crate::keyvalue_store::open(name).map_err(|err| {
        Error::Other(format!(
            "cannot open host bucket {name:?}: {}",
            describe_kv_error(&err)
        ))
    })
}

/// A readable cause for a host key-value error.
pub fn describe_kv_error(err: &KvError) -> String {
    match err {
        KvError::NoSuchStore => {
            "no such store (is the bucket granted to this component?)".to_owned()
        }
        KvError::AccessDenied => "access denied".to_owned(),
        KvError::Other(msg) => msg.clone(),
    }
}

/// What to say when reading `key` from the host bucket failed.
pub fn read_failure(key: &str, err: &KvError) -> String {
    format!(
        "host bucket read of key {key:?} failed: {}",
        describe_kv_error(err)
    )
}

/// [`read_failure`] as an `other` error.
pub fn read_error(key: &str, err: &KvError) -> Error {
    Error::Other(read_failure(key, err))
}

/// The `other` error of a commit for `what` (e.g. `publish`) that failed at the store.
pub fn commit_error(what: &str, err: &KvError) -> Error {
    Error::Other(format!(
        "host bucket commit ({what}) failed: {}",
        describe_kv_error(err)
    ))
}

/// [`Backend::get_versioned`], with a failure worded by [`read_error`].
pub fn read(backend: &impl Backend, key: &str) -> Result<Option<Entry>, Error> {
    backend
        .get_versioned(key)
        .map_err(|err| read_error(key, &err))
}

/// [`Backend::exists`], with a failure worded by [`read_error`].
pub fn exists(backend: &impl Backend, key: &str) -> Result<bool, Error> {
    backend.exists(key).map_err(|err| read_error(key, &err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeBucket;

    #[test]
    fn error_wording() {
        assert_eq!(
            describe_kv_error(&KvError::NoSuchStore),
            "no such store (is the bucket granted to this component?)"
        );
        assert_eq!(describe_kv_error(&KvError::AccessDenied), "access denied");
        assert_eq!(describe_kv_error(&KvError::Other("boom".into())), "boom");
        assert_eq!(
            read_failure("k", &KvError::AccessDenied),
            "host bucket read of key \"k\" failed: access denied"
        );
        assert!(matches!(
            commit_error("ack", &KvError::Other("boom".into())),
            Error::Other(msg) if msg == "host bucket commit (ack) failed: boom"
        ));
    }

    #[test]
    fn an_empty_bucket_name_is_invalid() {
        assert!(matches!(
            open_bucket(""),
            Err(Error::InvalidArgument(msg)) if msg == "metadata bucket must not be empty"
        ));
    }

    #[test]
    fn read_words_failures() {
        let fake = FakeBucket::default();
        fake.put_raw("k", b"v");
        assert_eq!(
            read(&fake, "k").ok().flatten().map(|e| e.value),
            Some(b"v".to_vec())
        );
        assert!(matches!(read(&fake, "missing"), Ok(None)));
        fake.fail_reads(true);
        assert!(matches!(
            read(&fake, "k"),
            Err(Error::Other(msg)) if msg.starts_with("host bucket read of key \"k\" failed")
        ));
    }
}
