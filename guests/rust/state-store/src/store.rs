//! The state-store semantics over a versioned key-value backend.
//!
//! Every write, from a single `set` to a whole `transact`, goes through [`apply`]: the
//! operations are checked in order against the current state (the host's, overlaid with the
//! writes planned earlier in the same call) and then sent to the host as ONE atomic `commit`
//! whose preconditions restate exactly what was checked, so a concurrent writer makes the
//! commit fail instead of being silently overwritten.

use std::collections::BTreeMap;

use crate::Error;
use crate::exports::wasmplug::dapr::state_store::{
    BulkGetItem, Concurrency, DeleteRequest, GetRequest, Item, Operation, SetRequest,
};
use crate::options::{self, Ttl};
use crate::record::{Record, RecordError};
use crate::time::format_rfc3339_ms;
use wasmplug_guest::keyvalue_atomics::{CommitError, Precondition, Write};
use wasmplug_guest::kv::{self, Backend, KvError};

/// `get`: the live value of `key`, or `None` if it is missing or expired.
pub fn get(backend: &impl Backend, key: &str, now_ms: u64) -> Result<Option<Item>, Error> {
    check_key(key)?;
    match read(backend, key).map_err(|err| err.into_error(key))? {
        None => Ok(None),
        Some(stored) if stored.record.is_expired(now_ms) => {
            purge_expired(backend, vec![(key.to_owned(), stored.version)]);
            Ok(None)
        }
        Some(stored) => Ok(Some(stored.into_item())),
    }
}

/// `bulk-get`: one answer per request, in request order. A missing or expired key has
/// neither item nor error; an empty key or an undecodable record is a per-key error; a host
/// failure fails the whole call.
pub fn bulk_get(
    backend: &impl Backend,
    requests: Vec<GetRequest>,
    now_ms: u64,
) -> Result<Vec<BulkGetItem>, Error> {
    let mut expired = Vec::new();
    let mut answers = Vec::with_capacity(requests.len());
    for GetRequest { key, .. } in requests {
        let (item, error) = if key.is_empty() {
            (None, Some(EMPTY_KEY.to_owned()))
        } else {
            match read(backend, &key) {
                Ok(None) => (None, None),
                Ok(Some(stored)) if stored.record.is_expired(now_ms) => {
                    expired.push((key.clone(), stored.version));
                    (None, None)
                }
                Ok(Some(stored)) => (Some(stored.into_item()), None),
                Err(err @ ReadError::Corrupt(_)) => (None, Some(err.describe(&key))),
                Err(err @ ReadError::Host(_)) => return Err(err.into_error(&key)),
            }
        };
        answers.push(BulkGetItem { key, item, error });
    }
    purge_expired(backend, expired);
    Ok(answers)
}

/// Apply `operations` (set / delete) in order, all or nothing, in one host commit.
///
/// `request_metadata` is the request-wide metadata of a `transact`; its `ttlInSeconds`, if
/// any, is validated and applies to every set that has no `ttlInSeconds` of its own.
/// The first operation that fails a check decides the error and nothing is written.
pub fn apply(
    backend: &impl Backend,
    operations: Vec<Operation>,
    request_metadata: &[(String, String)],
    now_ms: u64,
) -> Result<(), Error> {
    let mut tx = Transaction {
        backend,
        now_ms,
        default_ttl: options::parse_ttl(request_metadata)?,
        written: BTreeMap::new(),
        writes: Vec::with_capacity(operations.len()),
    };
    for operation in operations {
        match operation {
            Operation::Set(request) => tx.set(request)?,
            Operation::Delete(request) => tx.delete(request)?,
        }
    }
    tx.commit()
}

/// A decoded host entry.
struct Stored {
    version: u64,
    record: Record,
}

impl Stored {
    fn into_item(self) -> Item {
        let metadata = match self.record.expires_at_ms {
            Some(at) => vec![(options::TTL_EXPIRE_TIME.to_owned(), format_rfc3339_ms(at))],
            None => Vec::new(),
        };
        Item {
            data: self.record.data,
            etag: Some(options::format_etag(self.version)),
            metadata,
            content_type: self.record.content_type,
        }
    }
}

const EMPTY_KEY: &str = "the state key must not be empty";

/// Why [`read`] failed.
enum ReadError {
    /// The host could not be asked.
    Host(KvError),
    /// The host returned bytes that are not a [`Record`].
    Corrupt(RecordError),
}

impl ReadError {
    fn describe(&self, key: &str) -> String {
        match self {
            ReadError::Host(err) => kv::read_failure(key, err),
            ReadError::Corrupt(err) => format!("stored value of key {key:?} is corrupt: {err}"),
        }
    }

    fn into_error(self, key: &str) -> Error {
        Error::Other(self.describe(key))
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        Err(Error::InvalidArgument(EMPTY_KEY.to_owned()))
    } else {
        Ok(())
    }
}

/// Read and decode the host entry for `key`, expired or not.
fn read(backend: &impl Backend, key: &str) -> Result<Option<Stored>, ReadError> {
    let Some(entry) = backend.get_versioned(key).map_err(ReadError::Host)? else {
        return Ok(None);
    };
    let record = Record::decode(entry.value).map_err(ReadError::Corrupt)?;
    Ok(Some(Stored {
        version: entry.version,
        record,
    }))
}

/// Best effort: delete expired entries unless they changed since they were read. Failure
/// only means the entries linger (they still read as missing), so errors are ignored.
fn purge_expired(backend: &impl Backend, expired: Vec<(String, u64)>) {
    if expired.is_empty() {
        return;
    }
    let writes: Vec<Write> = expired
        .into_iter()
        .map(|(key, version)| Write {
            key,
            precondition: Precondition::Version(version),
            value: None,
        })
        .collect();
    let _ = backend.commit(&writes);
}

/// The state of a key as seen by the next operation of a transaction.
enum Current {
    /// Written earlier in this transaction: `live` if the last such write was a set. Its
    /// new version is unknown until commit, so no etag can match it.
    Written { live: bool },
    /// Untouched so far in this transaction: what the host holds.
    Host(Option<HostState>),
}

struct HostState {
    version: u64,
    live: bool,
}

/// Writes planned so far by [`apply`].
struct Transaction<'b, B> {
    backend: &'b B,
    now_ms: u64,
    default_ttl: Option<Ttl>,
    /// Keys written earlier in this transaction → whether the latest write was a set.
    written: BTreeMap<String, bool>,
    writes: Vec<Write>,
}

impl<B: Backend> Transaction<'_, B> {
    fn set(&mut self, request: SetRequest) -> Result<(), Error> {
        let SetRequest {
            key,
            value,
            etag,
            metadata,
            options: opts,
            content_type,
        } = request;
        check_key(&key)?;
        let ttl = options::parse_ttl(&metadata)?.or(self.default_ttl);
        let expires_at_ms = options::expiry_ms(self.now_ms, ttl)?;
        let content_type = options::content_type(content_type, &metadata);
        let create_only = opts.concurrency == Concurrency::FirstWrite;
        let precondition = self.precondition(&key, etag.as_deref(), create_only)?;
        let record = Record {
            expires_at_ms,
            content_type,
            data: value,
        };
        let encoded = record
            .encode()
            .map_err(|err| Error::InvalidArgument(format!("key {key:?}: {err}")))?;
        self.push(key, precondition, Some(encoded));
        Ok(())
    }

    fn delete(&mut self, request: DeleteRequest) -> Result<(), Error> {
        check_key(&request.key)?;
        let precondition = self.precondition(&request.key, request.etag.as_deref(), false)?;
        self.push(request.key, precondition, None);
        Ok(())
    }

    /// Check the etag / create-only rule for a write to `key` and return the host
    /// precondition that pins what was checked.
    fn precondition(
        &self,
        key: &str,
        etag: Option<&str>,
        create_only: bool,
    ) -> Result<Precondition, Error> {
        if let Some(raw) = options::requested_etag(etag) {
            let wanted = options::parse_etag(raw)?;
            return match self.current(key)? {
                Current::Host(Some(HostState {
                    version,
                    live: true,
                })) if version == wanted => Ok(Precondition::Version(version)),
                Current::Host(Some(HostState { live: true, .. }))
                | Current::Written { live: true } => Err(Error::EtagMismatch(format!(
                    "etag {raw:?} does not match the current etag of key {key:?}"
                ))),
                Current::Host(_) | Current::Written { live: false } => Err(Error::EtagMismatch(
                    format!("etag {raw:?} given for key {key:?}, which does not exist"),
                )),
            };
        }
        if !create_only {
            return Ok(Precondition::Any);
        }
        match self.current(key)? {
            Current::Host(None) => Ok(Precondition::Absent),
            // An expired entry still exists on the host: pin its version.
            Current::Host(Some(HostState {
                version,
                live: false,
            })) => Ok(Precondition::Version(version)),
            // Deleted earlier in this commit; the host sees it absent by then.
            Current::Written { live: false } => Ok(Precondition::Absent),
            Current::Host(Some(HostState { live: true, .. })) | Current::Written { live: true } => {
                Err(Error::EtagMismatch(format!(
                    "key {key:?} already exists (first-write without an etag)"
                )))
            }
        }
    }

    fn current(&self, key: &str) -> Result<Current, Error> {
        if let Some(&live) = self.written.get(key) {
            return Ok(Current::Written { live });
        }
        let host = read(self.backend, key)
            .map_err(|err| err.into_error(key))?
            .map(|stored| HostState {
                version: stored.version,
                live: !stored.record.is_expired(self.now_ms),
            });
        Ok(Current::Host(host))
    }

    fn push(&mut self, key: String, precondition: Precondition, value: Option<Vec<u8>>) {
        self.written.insert(key.clone(), value.is_some());
        self.writes.push(Write {
            key,
            precondition,
            value,
        });
    }

    fn commit(self) -> Result<(), Error> {
        if self.writes.is_empty() {
            return Ok(());
        }
        match self.backend.commit(&self.writes) {
            Ok(_) => Ok(()),
            Err(CommitError::Conflict(index)) => {
                let key = usize::try_from(index)
                    .ok()
                    .and_then(|i| self.writes.get(i))
                    .map(|w| w.key.as_str());
                Err(Error::EtagMismatch(match key {
                    Some(key) => {
                        format!("key {key:?} was modified concurrently; nothing was written")
                    }
                    None => "a key was modified concurrently; nothing was written".to_owned(),
                }))
            }
            Err(CommitError::Store(err)) => Err(Error::Other(format!(
                "host bucket commit of {} write(s) failed: {}",
                self.writes.len(),
                kv::describe_kv_error(&err)
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
