//! The pub/sub semantics over a versioned key-value backend.
//!
//! Each topic is a durable queue in the bucket (layout in [`crate::keys`]): `publish`
//! appends at `tail`, `fetch` scans up from `head`, an ack deletes the message key. Appends
//! are ONE atomic commit that writes the message(s) and advances `tail` under a precondition
//! on the `tail` version that was read, so a reader never sees a tail without its messages
//! and concurrent publishers never take the same sequence number.
//!
//! What is in flight lives only in this [`Broker`] (instance memory): after a host restart
//! or an instance rebuild nothing is in flight, so everything not acked is delivered again
//! (at-least-once), and ids from before are rejected because the nonce changed.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use wasmplug_guest::counter::{self, Counter};
use wasmplug_guest::keyvalue_atomics::{CommitError, Precondition, Write};
use wasmplug_guest::kv::{self, Backend};
use wasmplug_guest::retry::{Attempt, retry_conflicts};

use crate::Error;
use crate::exports::wasmplug::dapr::pubsub::{
    BulkFailure, BulkPublishRequest, Delivery, PublishRequest,
};
use crate::keys::{self, DeliveryId, TopicKeys};
use crate::record::{self, Record};

/// How often a commit that lost a race on a counter is tried before giving up.
pub use wasmplug_guest::retry::MAX_COMMIT_ATTEMPTS;
/// Most deliveries one `fetch` returns, whatever `max` asks for.
pub const MAX_FETCH: usize = 100;
/// Most messages of one topic in flight at once; `fetch` returns nothing more until some
/// are acked. Bounds instance memory.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Most message keys one `fetch` reads, so a long run of acked-but-not-yet-skipped keys
/// never makes a single call expensive; the next `fetch` continues (head has moved on).
pub const MAX_SCAN_READS: usize = 1_000;
/// Most message keys an ack reads while moving `head` past deleted messages.
pub const MAX_HEAD_SCAN: usize = 256;
/// Largest encoded message record; the host refuses larger values.
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;
/// Most metadata pairs one message may carry.
pub const MAX_METADATA_PAIRS: usize = 1024;
/// A bulk publish commits its entries in chunks of at most this many messages...
pub const MAX_BULK_CHUNK: usize = 256;
/// ...and, unless a single entry is larger, at most this many encoded bytes.
pub const MAX_BULK_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// What this instance remembers about deliveries, per topic.
#[derive(Debug, Default)]
struct TopicState {
    /// Messages in flight: sequence → the attempt number of the delivery awaiting its ack.
    in_flight: BTreeMap<u64, u64>,
    /// How many times each not-yet-acked message was delivered by this instance, so every
    /// delivery gets a new id (also across `subscribe`).
    attempts: BTreeMap<u64, u64>,
}

impl TopicState {
    fn is_empty(&self) -> bool {
        self.in_flight.is_empty() && self.attempts.is_empty()
    }
}

/// The instance-local delivery state of every topic.
#[derive(Debug)]
pub struct Broker {
    /// Keys for the per-topic nonces; random per instance.
    seed: RandomState,
    topics: HashMap<String, TopicState>,
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl Broker {
    /// A broker with a fresh random nonce seed and nothing in flight.
    pub fn new() -> Self {
        Broker {
            seed: RandomState::new(),
            topics: HashMap::new(),
        }
    }

    /// The nonce this instance puts in the ids of `topic`'s deliveries.
    fn nonce(&self, topic: &str) -> u64 {
        self.seed.hash_one(topic)
    }

    /// `subscribe`: every in-flight message of `topic` becomes deliverable again.
    pub fn subscribe(&mut self, topic: &str) -> Result<(), Error> {
        check_topic(topic)?;
        if let Some(state) = self.topics.get_mut(topic) {
            state.in_flight.clear();
            if state.is_empty() {
                self.topics.remove(topic);
            }
        }
        Ok(())
    }

    /// `fetch`: up to `max` deliverable messages of `topic`, oldest first, now in flight.
    pub fn fetch(
        &mut self,
        backend: &impl Backend,
        topic: &str,
        max: u32,
    ) -> Result<Vec<Delivery>, Error> {
        check_topic(topic)?;
        let nonce = self.nonce(topic);
        let state = self.topics.entry(topic.to_owned()).or_default();
        let result = scan(backend, topic, state, max);
        let found = match result {
            Ok(found) => found,
            Err(err) => {
                if state.is_empty() {
                    self.topics.remove(topic);
                }
                return Err(err);
            }
        };
        let mut deliveries = Vec::with_capacity(found.len());
        for (seq, record) in found {
            let attempts = state.attempts.entry(seq).or_insert(0);
            // Cannot overflow in practice (2^64 deliveries); saturating keeps it panic-free.
            *attempts = attempts.saturating_add(1);
            let attempt = *attempts;
            state.in_flight.insert(seq, attempt);
            deliveries.push(Delivery {
                id: DeliveryId {
                    nonce,
                    seq,
                    attempt,
                }
                .to_string(),
                topic: topic.to_owned(),
                data: record.data,
                metadata: record.metadata,
                content_type: record.content_type,
            });
        }
        if state.is_empty() {
            self.topics.remove(topic);
        }
        Ok(deliveries)
    }

    /// `ack`: `error == None` removes the message for good; `Some(_)` (a nack) makes it
    /// deliverable again, and as the lowest deliverable sequence it is the next one fetched.
    pub fn ack(
        &mut self,
        backend: &impl Backend,
        topic: &str,
        id: &str,
        error: Option<&str>,
    ) -> Result<(), Error> {
        check_topic(topic)?;
        let Some(parsed) = DeliveryId::parse(id) else {
            return Err(Error::InvalidArgument(format!(
                "{id:?} is not a delivery id of this component"
            )));
        };
        if parsed.nonce != self.nonce(topic) {
            return Err(Error::InvalidArgument(format!(
                "delivery id {id:?} was not issued by this component instance for topic \
                 {topic:?} (another topic, another instance, or before a restart)"
            )));
        }
        let not_in_flight = || {
            Error::InvalidArgument(format!(
                "delivery {id:?} of topic {topic:?} is not in flight (already acked or \
                 nacked, or its subscription restarted)"
            ))
        };
        let state = self.topics.get_mut(topic).ok_or_else(not_in_flight)?;
        match state.in_flight.get(&parsed.seq) {
            None => return Err(not_in_flight()),
            Some(&attempt) if attempt != parsed.attempt => {
                return Err(Error::InvalidArgument(format!(
                    "delivery {id:?} of topic {topic:?} was superseded by a later delivery \
                     of the same message"
                )));
            }
            Some(_) => {}
        }
        if error.is_none() {
            // On failure the message stays in flight, so the ack can be retried.
            remove_message(
                backend,
                &TopicKeys::new(topic),
                parsed.seq,
                &state.in_flight,
            )?;
            state.attempts.remove(&parsed.seq);
        }
        state.in_flight.remove(&parsed.seq);
        if state.is_empty() {
            self.topics.remove(topic);
        }
        Ok(())
    }
}

/// `publish`: append one message to its topic.
pub fn publish(backend: &impl Backend, request: PublishRequest) -> Result<(), Error> {
    check_topic(&request.topic)?;
    let encoded = encode_message(request.data, request.metadata, request.content_type)
        .map_err(Error::InvalidArgument)?;
    append(backend, &TopicKeys::new(&request.topic), vec![encoded])
}

/// `bulk-publish`: append every entry, in order, reporting the ones that failed.
///
/// Each entry's metadata is its own pairs followed by the request-wide pairs whose keys it
/// does not set. Entries that cannot be stored (too large, too much metadata) fail on their
/// own; the rest are appended in chunks (see [`MAX_BULK_CHUNK`]), each chunk ONE atomic
/// commit, so one host round trip and one durable write per chunk rather than per entry.
/// If a chunk's commit fails, every entry of that chunk is reported failed and nothing of
/// it was written.
pub fn bulk_publish(
    backend: &impl Backend,
    request: BulkPublishRequest,
) -> Result<Vec<BulkFailure>, Error> {
    check_topic(&request.topic)?;
    let keys = TopicKeys::new(&request.topic);
    let mut failures = Vec::new();
    let mut chunk = Chunk::default();
    for entry in request.entries {
        let mut metadata = entry.metadata;
        for (k, v) in &request.metadata {
            if !metadata.iter().any(|(key, _)| key == k) {
                metadata.push((k.clone(), v.clone()));
            }
        }
        let encoded = match encode_message(entry.event, metadata, entry.content_type) {
            Ok(encoded) => encoded,
            Err(error) => {
                failures.push(BulkFailure {
                    entry_id: entry.entry_id,
                    error,
                });
                continue;
            }
        };
        if !chunk.ids.is_empty()
            && (chunk.ids.len() >= MAX_BULK_CHUNK
                || chunk.bytes.saturating_add(encoded.len()) > MAX_BULK_CHUNK_BYTES)
        {
            chunk.flush(backend, &keys, &mut failures);
        }
        chunk.bytes = chunk.bytes.saturating_add(encoded.len());
        chunk.ids.push(entry.entry_id);
        chunk.records.push(encoded);
    }
    chunk.flush(backend, &keys, &mut failures);
    Ok(failures)
}

/// Bulk entries waiting to be committed together.
#[derive(Default)]
struct Chunk {
    ids: Vec<String>,
    records: Vec<Vec<u8>>,
    bytes: usize,
}

impl Chunk {
    fn flush(&mut self, backend: &impl Backend, keys: &TopicKeys, failures: &mut Vec<BulkFailure>) {
        let ids = std::mem::take(&mut self.ids);
        let records = std::mem::take(&mut self.records);
        self.bytes = 0;
        if records.is_empty() {
            return;
        }
        if let Err(err) = append(backend, keys, records) {
            let error = describe_error(&err);
            failures.extend(ids.into_iter().map(|entry_id| BulkFailure {
                entry_id,
                error: error.clone(),
            }));
        }
    }
}

/// The message of an [`Error`], for a bulk failure.
fn describe_error(err: &Error) -> String {
    match err {
        Error::EtagMismatch(m)
        | Error::EtagInvalid(m)
        | Error::Unimplemented(m)
        | Error::InvalidArgument(m)
        | Error::NotFound(m)
        | Error::Other(m) => m.clone(),
        Error::BulkDeleteRowMismatch(r) => {
            format!("expected {} rows, affected {}", r.expected, r.affected)
        }
    }
}

/// Check and encode one message; the error is the reason it is invalid.
fn encode_message(
    data: Vec<u8>,
    metadata: Vec<(String, String)>,
    content_type: Option<String>,
) -> Result<Vec<u8>, String> {
    if metadata.len() > MAX_METADATA_PAIRS {
        return Err(format!(
            "a message may carry at most {MAX_METADATA_PAIRS} metadata pairs, got {}",
            metadata.len()
        ));
    }
    let record = Record {
        content_type,
        metadata,
        data,
    };
    match record.encoded_len() {
        Some(len) if len <= MAX_RECORD_LEN => {}
        _ => {
            return Err(format!(
                "the message with its metadata exceeds the {MAX_RECORD_LEN}-byte limit"
            ));
        }
    }
    record::encode(&record).map_err(|err| err.to_string())
}

const EMPTY_TOPIC: &str = "the topic must not be empty";

fn check_topic(topic: &str) -> Result<(), Error> {
    if topic.is_empty() {
        return Err(Error::InvalidArgument(EMPTY_TOPIC.to_owned()));
    }
    if topic.len() > keys::MAX_TOPIC_LEN {
        return Err(Error::InvalidArgument(format!(
            "the topic is {} bytes; the limit is {}",
            topic.len(),
            keys::MAX_TOPIC_LEN
        )));
    }
    Ok(())
}

/// How a corrupt head or tail counter is named in errors.
const COUNTER: &str = "counter key";

/// A head or tail counter (a missing one is 0).
fn read_counter(backend: &impl Backend, key: &str) -> Result<Counter, Error> {
    counter::read(backend, key, COUNTER)
}

/// Read `head` and `tail` of a topic, checking `head <= tail`.
fn read_bounds(backend: &impl Backend, keys: &TopicKeys) -> Result<(Counter, u64), Error> {
    let head = read_counter(backend, &keys.head)?;
    let tail = read_counter(backend, &keys.tail)?.value;
    if head.value > tail {
        return Err(Error::Other(format!(
            "topic counters are corrupt: head {} is past tail {tail}",
            head.value
        )));
    }
    Ok((head, tail))
}

/// Append `records` (at least one) to the topic at consecutive sequences, atomically.
fn append(backend: &impl Backend, keys: &TopicKeys, records: Vec<Vec<u8>>) -> Result<(), Error> {
    let count = u64::try_from(records.len())
        .map_err(|_| Error::InvalidArgument("too many messages".to_owned()))?;
    // writes[0] advances the tail; it comes first so a lost race is `conflict(0)`.
    let mut writes = Vec::with_capacity(records.len().saturating_add(1));
    writes.push(Write {
        key: keys.tail.clone(),
        precondition: Precondition::Any,
        value: None,
    });
    writes.extend(records.into_iter().map(|record| Write {
        key: String::new(),
        precondition: Precondition::Absent,
        value: Some(record),
    }));
    retry_conflicts(
        || {
            let tail = read_counter(backend, &keys.tail)?;
            let next = tail.value.checked_add(count).ok_or_else(|| {
                Error::Other("the topic's sequence numbers are exhausted".to_owned())
            })?;
            if let Some(first) = writes.first_mut() {
                *first = tail.set(&keys.tail, next);
            }
            // `tail + i < next`, so the sequence cannot overflow.
            for (seq, write) in (tail.value..next).zip(writes.iter_mut().skip(1)) {
                write.key = keys.message(seq);
            }
            match backend.commit(&writes) {
                Ok(_) => Ok(Attempt::Done(())),
                Err(CommitError::Conflict(0)) => Ok(Attempt::Conflict),
                Err(CommitError::Conflict(index)) => {
                    let key = usize::try_from(index)
                        .ok()
                        .and_then(|i| writes.get(i))
                        .map_or("?", |w| w.key.as_str());
                    Err(Error::Other(format!(
                        "topic storage is inconsistent: message key {key:?} at or past the \
                         tail already exists; nothing was published"
                    )))
                }
                Err(CommitError::Store(err)) => Err(kv::commit_error("publish", &err)),
            }
        },
        || {
            Err(Error::Other(format!(
                "publish gave up after {MAX_COMMIT_ATTEMPTS} attempts lost a race with \
                 concurrent publishers; nothing was published"
            )))
        },
    )
}

/// Collect up to `max` deliverable messages of a topic, oldest first, and move `head` past
/// any deleted prefix on the way.
fn scan(
    backend: &impl Backend,
    topic: &str,
    state: &mut TopicState,
    max: u32,
) -> Result<Vec<(u64, Record)>, Error> {
    let budget = usize::try_from(max)
        .unwrap_or(usize::MAX)
        .min(MAX_FETCH)
        .min(MAX_IN_FLIGHT.saturating_sub(state.in_flight.len()));
    if budget == 0 {
        return Ok(Vec::new());
    }
    let keys = TopicKeys::new(topic);
    let (head, tail) = read_bounds(backend, &keys)?;
    let mut found = Vec::new();
    let mut new_head = head.value;
    let mut deleted_prefix = true;
    let mut reads = 0;
    let mut seq = head.value;
    while seq < tail && found.len() < budget && reads < MAX_SCAN_READS {
        if state.in_flight.contains_key(&seq) {
            deleted_prefix = false;
        } else {
            reads += 1;
            let key = keys.message(seq);
            match kv::read(backend, &key)? {
                None => {
                    // Acked (by us before a restart, or elsewhere): never deliver it.
                    state.attempts.remove(&seq);
                    if deleted_prefix {
                        new_head = seq.saturating_add(1);
                    }
                }
                Some(entry) => {
                    deleted_prefix = false;
                    let record = record::decode(entry.value).map_err(|err| {
                        Error::Other(format!(
                            "stored message {seq} of topic {topic:?} is corrupt: {err}"
                        ))
                    })?;
                    found.push((seq, record));
                }
            }
        }
        seq = seq.saturating_add(1);
    }
    if new_head > head.value {
        // Best effort: a lost race or a failure only means a later scan skips these again.
        let _ = backend.commit(&[head.set(&keys.head, new_head)]);
        state.attempts = state.attempts.split_off(&new_head);
    }
    Ok(found)
}

/// Delete message `seq` durably and, in the same commit, move `head` past the deleted
/// messages it now leads (stopping at anything in flight, which still exists).
fn remove_message(
    backend: &impl Backend,
    keys: &TopicKeys,
    seq: u64,
    in_flight: &BTreeMap<u64, u64>,
) -> Result<(), Error> {
    let delete = Write {
        key: keys.message(seq),
        precondition: Precondition::Any,
        value: None,
    };
    retry_conflicts(
        || {
            let (head, tail) = read_bounds(backend, keys)?;
            let mut new_head = head.value;
            let mut reads = 0;
            while new_head < tail && reads < MAX_HEAD_SCAN {
                if new_head != seq {
                    if in_flight.contains_key(&new_head) {
                        break;
                    }
                    reads += 1;
                    if kv::read(backend, &keys.message(new_head))?.is_some() {
                        break;
                    }
                }
                new_head = new_head.saturating_add(1);
            }
            let mut writes = vec![delete.clone()];
            if new_head > head.value {
                writes.push(head.set(&keys.head, new_head));
            }
            match backend.commit(&writes) {
                Ok(_) => Ok(Attempt::Done(())),
                // Only the head write has a precondition: someone moved it; look again.
                Err(CommitError::Conflict(_)) => Ok(Attempt::Conflict),
                Err(CommitError::Store(err)) => Err(kv::commit_error("ack", &err)),
            }
        },
        // Head kept moving under us: delete alone; a later scan moves head.
        || match backend.commit(std::slice::from_ref(&delete)) {
            Ok(_) => Ok(()),
            Err(CommitError::Conflict(_)) => Err(Error::Other(
                "ack: deleting the message conflicted unexpectedly".to_owned(),
            )),
            Err(CommitError::Store(err)) => Err(kv::commit_error("ack", &err)),
        },
    )
}

#[cfg(test)]
mod tests;
