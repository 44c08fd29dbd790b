//! The pub/sub semantics over a versioned key-value backend.
//!
//! Each topic is a durable queue in the bucket (layout in [`crate::keys`]): `publish`
//! appends at `tail`, `fetch` scans up from `head`, an ack deletes the message key. Appends
//! are ONE atomic commit that writes the message(s) and advances `tail` under a precondition
//! on the `tail` version that was read, so a reader never sees a tail without its messages
//! and concurrent publishers never take the same sequence number.
//!
//! What is in flight is shared through the bucket: `fetch` claims every message it returns
//! with a claim key (owner = this instance's nonce for the topic, attempt, expiry = now +
//! the ack deadline), in ONE conditional commit whose preconditions pin each claim key as
//! it was read (absent, expired, released, or an old claim of this instance). A message
//! another instance claimed and whose claim has not expired is skipped; a claim commit that
//! loses a race drops just the message that was taken. So several instances over one shared
//! bucket (replicas in several processes) share a subscription: each message is processed by
//! one of them at a time, and one that stops acking has its messages delivered by the others
//! once the ack deadline has passed, with new ids. An ack deletes the message and its claim
//! only if the claim is still this delivery's; a nack and `subscribe` delete this instance's
//! claims, so those messages are deliverable again at once, to any instance.
//!
//! This [`Broker`] caches what this instance has in flight (for the id checks and the
//! [`MAX_IN_FLIGHT`] bound); the claims in the bucket are the truth. An instance never
//! redelivers its own in-flight messages by itself (only a nack, `subscribe` or the
//! deadline passing for *another* instance does). After a host restart or an instance
//! rebuild the new instance has a new nonce: ids from before are rejected, and messages the
//! old instance left unacked are delivered again once their claims expire (at-least-once).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use wasmplug_guest::counter::{self, Counter};
use wasmplug_guest::keyvalue_atomics::{CommitError, Precondition, Write};
use wasmplug_guest::kv::{self, Backend};
use wasmplug_guest::retry::{Attempt, retry_conflicts};

use crate::Error;
use crate::exports::wasmplug::dapr::pubsub::{
    BulkFailure, BulkPublishRequest, Delivery, PublishRequest,
};
use crate::keys::{self, Claim, DeliveryId, TopicKeys};
use crate::record::{self, Record};

/// How often a commit that lost a race on a counter is tried before giving up.
pub use wasmplug_guest::retry::MAX_COMMIT_ATTEMPTS;
/// Most deliveries one `fetch` returns, whatever `max` asks for.
pub const MAX_FETCH: usize = 100;
/// Most messages of one topic in flight at once in this instance; `fetch` returns nothing
/// more until some are acked. Bounds instance memory.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Most keys one `fetch` reads (message and claim keys), so a long run of
/// acked-but-not-yet-skipped keys never makes a single call expensive; the next `fetch`
/// continues (head has moved on).
pub const MAX_SCAN_READS: usize = 1_000;
/// Most scans one `fetch` makes when other instances win the claims of everything it found.
pub const MAX_FETCH_ROUNDS: usize = 4;
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
/// Component metadata key of the ack deadline.
pub const ACK_DEADLINE_METADATA: &str = "ackDeadline";
/// The ack deadline when the metadata sets none: 60 s.
pub const DEFAULT_ACK_DEADLINE_MS: u64 = 60_000;
/// The longest ack deadline accepted: 24 h.
pub const MAX_ACK_DEADLINE_MS: u64 = 24 * 60 * 60 * 1000;
/// Most claims `subscribe` releases in one commit.
const MAX_RELEASE_CHUNK: usize = 256;

/// Where the broker reads the time: wall-clock milliseconds since the Unix epoch.
pub type Clock = Box<dyn Fn() -> u64>;

/// The host's wall clock (`wasi:clocks/wall-clock` inside the component), in milliseconds
/// since the Unix epoch; 0 if it reads before the epoch.
pub fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Parse the `ackDeadline` metadata value (`None`: not set): a positive integer followed
/// by `ms`, `s` or `m`, at most [`MAX_ACK_DEADLINE_MS`]; in milliseconds.
pub fn parse_ack_deadline(value: Option<&str>) -> Result<u64, Error> {
    let Some(text) = value else {
        return Ok(DEFAULT_ACK_DEADLINE_MS);
    };
    let invalid = || {
        Error::InvalidArgument(format!(
            "metadata {ACK_DEADLINE_METADATA} must be a positive duration such as 500ms, 30s \
             or 2m, at most {}, got {text:?}",
            format_duration(MAX_ACK_DEADLINE_MS)
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let factor: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        _ => return Err(invalid()),
    };
    let ms = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(invalid)?;
    if ms == 0 || ms > MAX_ACK_DEADLINE_MS {
        return Err(invalid());
    }
    Ok(ms)
}

/// A duration in milliseconds as `2m`, `30s` or `1500ms`.
fn format_duration(ms: u64) -> String {
    if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A delivery of this instance awaiting its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    /// Its attempt number (in its id).
    attempt: u64,
    /// The version of the claim key this instance wrote for it.
    claim_version: u64,
}

/// What this instance remembers about deliveries, per topic.
#[derive(Debug, Default)]
struct TopicState {
    /// Messages in flight: sequence → the delivery awaiting its ack.
    in_flight: BTreeMap<u64, InFlight>,
    /// How many times each not-yet-acked message was delivered by this instance, so every
    /// delivery gets a new id (also across `subscribe`).
    attempts: BTreeMap<u64, u64>,
}

impl TopicState {
    fn is_empty(&self) -> bool {
        self.in_flight.is_empty() && self.attempts.is_empty()
    }
}

/// A message `fetch` found deliverable, not yet claimed.
struct Candidate {
    seq: u64,
    record: Record,
    /// That the claim key is still as it was read.
    precondition: Precondition,
    /// The attempt number the delivery will have.
    attempt: u64,
}

/// The instance-local delivery state of every topic.
pub struct Broker {
    /// Keys for the per-topic nonces; random per instance.
    seed: RandomState,
    topics: HashMap<String, TopicState>,
    /// How long a claim keeps other instances off a message, in milliseconds.
    ack_deadline: u64,
    clock: Clock,
    /// Whether other processes may use the bucket (`keyvalue-store` `bucket.shared`).
    shared: bool,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("topics", &self.topics)
            .field("ack_deadline", &self.ack_deadline)
            .finish_non_exhaustive()
    }
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl Broker {
    /// A broker with a fresh random nonce seed, nothing in flight, the default ack deadline
    /// and the system clock.
    pub fn new() -> Self {
        Self::with_clock(DEFAULT_ACK_DEADLINE_MS, Box::new(system_clock))
    }

    /// A broker whose claims last `ack_deadline` milliseconds by `clock`.
    pub fn with_clock(ack_deadline: u64, clock: Clock) -> Self {
        Broker {
            seed: RandomState::new(),
            topics: HashMap::new(),
            ack_deadline,
            clock,
            shared: true,
        }
    }

    /// The same broker over a bucket other processes do (`true`, the default) or do not
    /// open: in an unshared one, claims not this instance's are void (see [`Broker::fetch`]).
    #[must_use]
    pub fn sharing(mut self, shared: bool) -> Self {
        self.shared = shared;
        self
    }

    /// The same broker with nothing in flight and a new ack deadline (a re-`init`): it keeps
    /// its nonces and clock, so its claims from before are its own.
    pub fn restarted(self, ack_deadline: u64) -> Self {
        Broker {
            seed: self.seed,
            topics: HashMap::new(),
            ack_deadline,
            clock: self.clock,
            shared: self.shared,
        }
    }

    /// The nonce this instance puts in the ids and claims of `topic`'s deliveries.
    fn nonce(&self, topic: &str) -> u64 {
        self.seed.hash_one(topic)
    }

    /// `subscribe`: every message of `topic` this instance has in flight becomes
    /// deliverable again (its claim is released).
    ///
    /// Releasing is best effort: a claim whose release fails stays until its deadline for
    /// other instances, while this one may deliver it again at once (it is its own claim).
    pub fn subscribe(&mut self, backend: &impl Backend, topic: &str) -> Result<(), Error> {
        check_topic(topic)?;
        if let Some(state) = self.topics.get_mut(topic) {
            let released = std::mem::take(&mut state.in_flight);
            release_claims(backend, &TopicKeys::new(topic), &released);
            if state.is_empty() {
                self.topics.remove(topic);
            }
        }
        Ok(())
    }

    /// `fetch`: up to `max` deliverable messages of `topic`, oldest first, now claimed by
    /// this instance and in flight.
    pub fn fetch(
        &mut self,
        backend: &impl Backend,
        topic: &str,
        max: u32,
    ) -> Result<Vec<Delivery>, Error> {
        check_topic(topic)?;
        let nonce = self.nonce(topic);
        let now = (self.clock)();
        let expires = now.saturating_add(self.ack_deadline);
        let keys = TopicKeys::new(topic);
        let state = self.topics.entry(topic.to_owned()).or_default();
        // In an unshared bucket (this process's own store) no other live instance can hold
        // a claim: one not ours was left by an instance that is gone, so it is void at once.
        let others_until = if self.shared { now } else { u64::MAX };
        let mut scan_and_claim = || {
            for _ in 0..MAX_FETCH_ROUNDS {
                let found = scan(backend, topic, &keys, nonce, others_until, state, max)?;
                if found.is_empty() {
                    break;
                }
                let claimed = claim(backend, &keys, nonce, expires, found)?;
                if !claimed.is_empty() {
                    return Ok(claimed);
                }
                // Another instance claimed every one first (replicas polling together):
                // they are claimed now, so a new scan skips them and looks further on.
            }
            Ok(Vec::new())
        };
        let result = scan_and_claim();
        let claimed = match result {
            Ok(claimed) => claimed,
            Err(err) => {
                if state.is_empty() {
                    self.topics.remove(topic);
                }
                return Err(err);
            }
        };
        let mut deliveries = Vec::with_capacity(claimed.len());
        for (candidate, claim_version) in claimed {
            let Candidate {
                seq,
                record,
                attempt,
                ..
            } = candidate;
            state.attempts.insert(seq, attempt);
            state.in_flight.insert(
                seq,
                InFlight {
                    attempt,
                    claim_version,
                },
            );
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
    ///
    /// If the delivery's claim expired and another instance claimed the message since, an
    /// ack removes nothing (the other instance owns it now) and fails saying so; a nack then
    /// just forgets the delivery.
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
        let ack_deadline = self.ack_deadline;
        let state = self.topics.get_mut(topic).ok_or_else(not_in_flight)?;
        let held = match state.in_flight.get(&parsed.seq) {
            None => return Err(not_in_flight()),
            Some(held) if held.attempt != parsed.attempt => {
                return Err(Error::InvalidArgument(format!(
                    "delivery {id:?} of topic {topic:?} was superseded by a later delivery \
                     of the same message"
                )));
            }
            Some(&held) => held,
        };
        let keys = TopicKeys::new(topic);
        // On a store failure the message stays in flight, so the ack can be retried.
        let outcome = if error.is_none() {
            let outcome = remove_message(
                backend,
                &keys,
                parsed.seq,
                held.claim_version,
                &state.in_flight,
            )?;
            if outcome == Claimed::Ours {
                state.attempts.remove(&parsed.seq);
            }
            outcome
        } else {
            release_claim(backend, &keys, parsed.seq, held.claim_version)?
        };
        state.in_flight.remove(&parsed.seq);
        if state.is_empty() {
            self.topics.remove(topic);
        }
        match (outcome, error) {
            (Claimed::ByAnother, None) => Err(Error::Other(format!(
                "delivery {id:?} of topic {topic:?} expired (ack deadline {}) and was \
                 claimed by another subscriber; the message was not removed and is \
                 delivered again",
                format_duration(ack_deadline)
            ))),
            _ => Ok(()),
        }
    }
}

/// Whether a commit conditional on this instance's claim found it still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claimed {
    /// It was: the commit applied.
    Ours,
    /// It was not (it expired and another instance claimed the message, which may even be
    /// acked by now): nothing was written.
    ByAnother,
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
/// any deleted prefix on the way. Deliverable: not in flight here, and no claim of another
/// instance that is still valid at `others_until` (now; or `u64::MAX`, voiding them all).
fn scan(
    backend: &impl Backend,
    topic: &str,
    keys: &TopicKeys,
    nonce: u64,
    others_until: u64,
    state: &mut TopicState,
    max: u32,
) -> Result<Vec<Candidate>, Error> {
    let budget = usize::try_from(max)
        .unwrap_or(usize::MAX)
        .min(MAX_FETCH)
        .min(MAX_IN_FLIGHT.saturating_sub(state.in_flight.len()));
    if budget == 0 {
        return Ok(Vec::new());
    }
    let (head, tail) = read_bounds(backend, keys)?;
    let mut found = Vec::new();
    let mut new_head = head.value;
    let mut deleted_prefix = true;
    let mut reads = 0;
    let mut next = head.value;
    while next < tail && found.len() < budget && reads < MAX_SCAN_READS {
        let seq = next;
        // `seq < tail`, so this cannot overflow.
        next = seq.saturating_add(1);
        if state.in_flight.contains_key(&seq) {
            deleted_prefix = false;
            continue;
        }
        reads += 1;
        let Some(entry) = kv::read(backend, &keys.message(seq))? else {
            // Acked (by us before a restart, or elsewhere): never deliver it.
            state.attempts.remove(&seq);
            if deleted_prefix {
                new_head = next;
            }
            continue;
        };
        deleted_prefix = false;
        reads += 1;
        let (precondition, claimed_attempt) = match kv::read(backend, &keys.claim(seq))? {
            None => (Precondition::Absent, 0),
            Some(claim) => match Claim::decode(&claim.value) {
                // Another instance has it in flight.
                Some(c) if c.owner != nonce && c.expires > others_until => continue,
                // Expired, or ours but not in flight here (a release that failed).
                Some(c) => (Precondition::Version(claim.version), c.attempt),
                // Undecodable: overwrite it rather than block the message for ever.
                None => (Precondition::Version(claim.version), 0),
            },
        };
        // Still there AFTER the claim was read? An ack deletes message and claim in one
        // commit, so if it is, any ack since has changed the claim and the conditional claim
        // commit fails. Without this check an ack between the two reads above would leave a
        // stale message and an absent claim: delivered again after it was acked.
        reads += 1;
        if !kv::exists(backend, &keys.message(seq))? {
            continue;
        }
        let record = record::decode(entry.value).map_err(|err| {
            Error::Other(format!(
                "stored message {seq} of topic {topic:?} is corrupt: {err}"
            ))
        })?;
        let local = state.attempts.get(&seq).copied().unwrap_or(0);
        found.push(Candidate {
            seq,
            record,
            precondition,
            // Cannot overflow in practice (2^64 deliveries); saturating keeps it panic-free.
            attempt: local.max(claimed_attempt).saturating_add(1),
        });
    }
    if new_head > head.value {
        // Best effort: a lost race or a failure only means a later scan skips these again.
        let _ = backend.commit(&[head.set(&keys.head, new_head)]);
        state.attempts = state.attempts.split_off(&new_head);
    }
    Ok(found)
}

/// Claim `candidates` for this instance until `expires`, in one commit; a candidate whose
/// claim key changed since it was read (another instance claimed it first) is dropped and
/// the rest committed again. Returns the claimed ones with their claim versions.
fn claim(
    backend: &impl Backend,
    keys: &TopicKeys,
    nonce: u64,
    expires: u64,
    mut candidates: Vec<Candidate>,
) -> Result<Vec<(Candidate, u64)>, Error> {
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        if candidates.is_empty() {
            break;
        }
        let writes: Vec<Write> = candidates
            .iter()
            .map(|c| Write {
                key: keys.claim(c.seq),
                precondition: c.precondition,
                value: Some(
                    Claim {
                        owner: nonce,
                        attempt: c.attempt,
                        expires,
                    }
                    .encode(),
                ),
            })
            .collect();
        match backend.commit(&writes) {
            Ok(versions) => return Ok(candidates.into_iter().zip(versions).collect()),
            Err(CommitError::Conflict(index)) => {
                match usize::try_from(index)
                    .ok()
                    .filter(|&i| i < candidates.len())
                {
                    Some(i) => {
                        candidates.remove(i);
                    }
                    None => {
                        return Err(Error::Other(format!(
                            "fetch: the host reported a conflict at write {index} of {}",
                            candidates.len()
                        )));
                    }
                }
            }
            Err(CommitError::Store(err)) => return Err(kv::commit_error("fetch", &err)),
        }
    }
    // Every attempt lost a race: other instances are taking these; deliver none now.
    Ok(Vec::new())
}

/// The write deleting the claim of message `seq` if it is still the one at `version`.
fn delete_claim(keys: &TopicKeys, seq: u64, version: u64) -> Write {
    Write {
        key: keys.claim(seq),
        precondition: Precondition::Version(version),
        value: None,
    }
}

/// A nack: delete this delivery's claim of `seq`, so any instance may fetch it next.
fn release_claim(
    backend: &impl Backend,
    keys: &TopicKeys,
    seq: u64,
    version: u64,
) -> Result<Claimed, Error> {
    match backend.commit(&[delete_claim(keys, seq, version)]) {
        Ok(_) => Ok(Claimed::Ours),
        Err(CommitError::Conflict(_)) => Ok(Claimed::ByAnother),
        Err(CommitError::Store(err)) => Err(kv::commit_error("nack", &err)),
    }
}

/// `subscribe`: delete the claims of `released` that are still this instance's, a chunk per
/// commit; best effort (a chunk that fails at the store is left to expire).
fn release_claims(backend: &impl Backend, keys: &TopicKeys, released: &BTreeMap<u64, InFlight>) {
    let all: Vec<Write> = released
        .iter()
        .map(|(&seq, held)| delete_claim(keys, seq, held.claim_version))
        .collect();
    for chunk in all.chunks(MAX_RELEASE_CHUNK) {
        let mut writes = chunk.to_vec();
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            if writes.is_empty() {
                break;
            }
            match backend.commit(&writes) {
                Ok(_) | Err(CommitError::Store(_)) => break,
                // Taken over by another instance: not ours to release.
                Err(CommitError::Conflict(index)) => {
                    match usize::try_from(index).ok().filter(|&i| i < writes.len()) {
                        Some(i) => {
                            writes.remove(i);
                        }
                        None => break,
                    }
                }
            }
        }
    }
}

/// Delete message `seq` and this instance's claim of it (at `claim_version`) durably and,
/// in the same commit, move `head` past the deleted messages it now leads (stopping at
/// anything in flight, which still exists). Nothing is deleted if the claim is no longer
/// this instance's.
fn remove_message(
    backend: &impl Backend,
    keys: &TopicKeys,
    seq: u64,
    claim_version: u64,
    in_flight: &BTreeMap<u64, InFlight>,
) -> Result<Claimed, Error> {
    // writes[0], the claim, comes first so that a taken-over claim is `conflict(0)`.
    let deletes = [
        delete_claim(keys, seq, claim_version),
        Write {
            key: keys.message(seq),
            precondition: Precondition::Any,
            value: None,
        },
    ];
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
            let mut writes = deletes.to_vec();
            if new_head > head.value {
                writes.push(head.set(&keys.head, new_head));
            }
            match backend.commit(&writes) {
                Ok(_) => Ok(Attempt::Done(Claimed::Ours)),
                Err(CommitError::Conflict(0)) => Ok(Attempt::Done(Claimed::ByAnother)),
                // Otherwise only the head write has a precondition: someone moved it; look
                // again.
                Err(CommitError::Conflict(_)) => Ok(Attempt::Conflict),
                Err(CommitError::Store(err)) => Err(kv::commit_error("ack", &err)),
            }
        },
        // Head kept moving under us: delete alone; a later scan moves head.
        || match backend.commit(&deletes) {
            Ok(_) => Ok(Claimed::Ours),
            Err(CommitError::Conflict(0)) => Ok(Claimed::ByAnother),
            Err(CommitError::Conflict(_)) => Err(Error::Other(
                "ack: deleting the message conflicted unexpectedly".to_owned(),
            )),
            Err(CommitError::Store(err)) => Err(kv::commit_error("ack", &err)),
        },
    )
}

#[cfg(test)]
mod tests;
