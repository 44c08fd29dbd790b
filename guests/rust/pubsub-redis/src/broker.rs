//! Delivery state of one instance over Dapr's Redis Streams layout.
//!
//! Per topic, one consumer group named `consumerID` (created at `0` with `MKSTREAM`, as Dapr
//! does); this instance reads as its own consumer `<consumerID>-<16 random hex digits>`, so
//! replicas sharing a `consumerID` split the stream and each knows its own pending entries.
//! (Dapr names the consumer `consumerID` too, so its replicas share one pending list.)
//!
//! `fetch` never blocks (`XREADGROUP` without `BLOCK`) and takes, in this order, up to `max`:
//! 1. entries this instance nacked, read back from its own pending list (`XREADGROUP` at the
//!    id just before each), so a nack is redelivered at once unless another consumer has
//!    claimed the entry meanwhile;
//! 2. after `subscribe`, the rest of its own pending list (deliveries of the previous
//!    stream that were never acked);
//! 3. entries of any consumer pending longer than `processingTimeout`, claimed with
//!    `XAUTOCLAIM`, scanned at most every `redeliverInterval` (either `0`: never);
//! 4. new entries (`>`).
//!
//! An ack is `XACK`; a nack leaves the entry pending (step 1 delivers it again). Delivery ids
//! are `<entry id>:<random tag>.<counter>`, new for every delivery.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::time::{Instant, SystemTime};

use wasmplug_guest::Error;
use wasmplug_guest::logging::{self, Level};
use wasmplug_guest::resp::{self, RespError, Value};

use crate::exports::wasmplug::dapr::pubsub::{
    BulkFailure, BulkPublishRequest, Delivery, PublishRequest,
};
use crate::json;
use crate::settings::Settings;
use crate::stream::{self, Command, Entry};

const LOG_CONTEXT: &str = "pubsub-redis";

fn warn(message: &str) {
    logging::log(Level::Warn, LOG_CONTEXT, message);
}

fn redis_error(e: RespError) -> Error {
    Error::Other(e.to_string())
}

fn reply_error(e: String) -> Error {
    Error::Other(e)
}

/// What one topic's subscription has going.
#[derive(Debug, Default)]
struct Topic {
    /// The group exists (created, or found by `BUSYGROUP`) since this instance started.
    group_ready: bool,
    /// After `subscribe`: where the replay of this consumer's own pending entries is.
    replay: Option<String>,
    /// Nacked entry ids, to deliver again first.
    retry: VecDeque<String>,
    /// Entry id -> the id of its current delivery.
    in_flight: HashMap<String, String>,
    /// An `XAUTOCLAIM` scan in progress.
    reclaim_cursor: Option<String>,
    /// When the last complete scan ended.
    last_reclaim: Option<Instant>,
}

pub struct Broker {
    client: resp::Client,
    settings: Settings,
    /// The random part of the consumer name and of delivery ids.
    tag: String,
    consumer: String,
    seq: u64,
    topics: HashMap<String, Topic>,
}

/// 16 random hex digits (std's hash keys come from `wasi:random`).
pub fn random_tag() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x7075_6273_7562);
    format!("{:016x}", h.finish())
}

impl Broker {
    /// A broker with nothing in flight; `tag` names its consumer `<consumerID>-<tag>`.
    pub fn new(client: resp::Client, settings: Settings, tag: String) -> Broker {
        let consumer = format!("{}-{tag}", settings.consumer_id);
        Broker {
            client,
            settings,
            tag,
            consumer,
            seq: 0,
            topics: HashMap::new(),
        }
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn ping(&mut self) -> Result<(), Error> {
        self.client.call(&["PING"]).map(|_| ()).map_err(redis_error)
    }

    pub fn publish(&mut self, r: PublishRequest) -> Result<(), Error> {
        check_topic(&r.topic)?;
        let c = stream::xadd(
            &self.settings,
            SystemTime::now(),
            &r.topic,
            &r.data,
            &r.metadata,
            r.content_type.as_deref(),
        );
        self.client.call(&c).map(|_| ()).map_err(redis_error)
    }

    /// One pipelined `XADD` per entry; the request metadata under each entry's own.
    pub fn bulk_publish(&mut self, r: BulkPublishRequest) -> Result<Vec<BulkFailure>, Error> {
        check_topic(&r.topic)?;
        if r.entries.is_empty() {
            return Ok(Vec::new());
        }
        let now = SystemTime::now();
        let commands: Vec<Command> = r
            .entries
            .iter()
            .map(|e| {
                let mut md = r.metadata.clone();
                md.extend(e.metadata.iter().cloned());
                stream::xadd(
                    &self.settings,
                    now,
                    &r.topic,
                    &e.event,
                    &md,
                    e.content_type.as_deref(),
                )
            })
            .collect();
        let replies = self.client.pipeline(&commands).map_err(redis_error)?;
        let mut failures = Vec::new();
        for (i, e) in r.entries.iter().enumerate() {
            match replies.get(i) {
                Some(Value::Error(why)) => failures.push(BulkFailure {
                    entry_id: e.entry_id.clone(),
                    error: format!("redis: {why}"),
                }),
                Some(_) => {}
                None => failures.push(BulkFailure {
                    entry_id: e.entry_id.clone(),
                    error: "redis sent no reply".to_owned(),
                }),
            }
        }
        Ok(failures)
    }

    fn create_group(&mut self, topic: &str) -> Result<(), Error> {
        let c = stream::xgroup_create(topic, &self.settings.consumer_id);
        match self.client.call(&c) {
            Ok(_) => {}
            Err(RespError::Server(e)) if e.starts_with("BUSYGROUP") => {}
            Err(e) => return Err(redis_error(e)),
        }
        self.topics.entry(topic.to_owned()).or_default().group_ready = true;
        Ok(())
    }

    /// A group command; a group that vanished (a Redis restart without persistence, a
    /// deleted stream) is created again and the command sent once more.
    fn group_call(&mut self, topic: &str, c: &Command) -> Result<Value, Error> {
        if !self.topics.get(topic).is_some_and(|t| t.group_ready) {
            self.create_group(topic)?;
        }
        match self.client.call(c) {
            Err(RespError::Server(e)) if e.starts_with("NOGROUP") => {
                warn(&format!(
                    "consumer group {} of stream {topic} is gone; creating it again",
                    self.settings.consumer_id
                ));
                self.create_group(topic)?;
                self.client.call(c).map_err(redis_error)
            }
            r => r.map_err(redis_error),
        }
    }

    fn topic(&mut self, topic: &str) -> &mut Topic {
        self.topics.entry(topic.to_owned()).or_default()
    }

    /// Every pending entry of this consumer becomes deliverable again.
    pub fn subscribe(&mut self, topic: &str) -> Result<(), Error> {
        check_topic(topic)?;
        self.create_group(topic)?;
        let t = self.topic(topic);
        t.in_flight.clear();
        t.retry.clear();
        t.replay = Some("0-0".to_owned());
        Ok(())
    }

    pub fn fetch(&mut self, topic: &str, max: u32) -> Result<Vec<Delivery>, Error> {
        check_topic(topic)?;
        let max = max.min(self.settings.queue_depth);
        let mut out = Vec::new();
        match self.fill(topic, max, &mut out) {
            Ok(()) => Ok(out),
            // What was read is pending to this consumer: hand it out, the error comes back
            // on the next fetch.
            Err(e) if !out.is_empty() => {
                warn(&format!("fetching from {topic}: {e:?}"));
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    fn fill(&mut self, topic: &str, max: u32, out: &mut Vec<Delivery>) -> Result<(), Error> {
        let left =
            |out: &Vec<Delivery>| max.saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX));
        let group = self.settings.consumer_id.clone();
        let consumer = self.consumer.clone();

        // 1. Nacked entries, if still this consumer's.
        while left(out) > 0 {
            let Some(id) = self.topic(topic).retry.pop_front() else {
                break;
            };
            let Some(after) = stream::predecessor(&id) else {
                continue;
            };
            let c = stream::xreadgroup(&group, &consumer, 1, topic, &after);
            let entries = match self.group_call(topic, &c) {
                Ok(v) => stream::read_reply(v).map_err(reply_error)?,
                Err(e) => {
                    self.topic(topic).retry.push_front(id);
                    return Err(e);
                }
            };
            if let Some(e) = entries.into_iter().next().filter(|e| e.id == id) {
                self.deliver(topic, e, out)?;
            }
        }

        // 2. The replay of this consumer's pending entries after `subscribe`.
        while left(out) > 0 {
            let Some(cursor) = self.topic(topic).replay.clone() else {
                break;
            };
            let want = left(out);
            let c = stream::xreadgroup(&group, &consumer, want, topic, &cursor);
            let entries = stream::read_reply(self.group_call(topic, &c)?).map_err(reply_error)?;
            let done = entries.len() < usize::try_from(want).unwrap_or(usize::MAX);
            let last = entries.last().map(|e| e.id.clone());
            self.topic(topic).replay = if done { None } else { last };
            for e in entries {
                if !self.topic(topic).in_flight.contains_key(&e.id) {
                    self.deliver(topic, e, out)?;
                }
            }
        }

        // 3. Entries pending too long, whoever holds them.
        if let Some((timeout, interval)) = self.settings.redelivery()
            && left(out) > 0
        {
            let t = self.topic(topic);
            let due = t.reclaim_cursor.is_some()
                || t.last_reclaim.is_none_or(|at| at.elapsed() >= interval);
            if due {
                let cursor = t.reclaim_cursor.take().unwrap_or_else(|| "0-0".to_owned());
                let c = stream::xautoclaim(topic, &group, &consumer, timeout, &cursor, left(out));
                let (next, entries) =
                    stream::autoclaim_reply(self.group_call(topic, &c)?).map_err(reply_error)?;
                let t = self.topic(topic);
                if next == "0-0" {
                    t.last_reclaim = Some(Instant::now());
                } else {
                    t.reclaim_cursor = Some(next);
                }
                for e in entries {
                    self.deliver(topic, e, out)?;
                }
            }
        }

        // 4. New entries.
        let want = left(out);
        if want > 0 {
            let c = stream::xreadgroup(&group, &consumer, want, topic, ">");
            let entries = stream::read_reply(self.group_call(topic, &c)?).map_err(reply_error)?;
            for e in entries {
                self.deliver(topic, e, out)?;
            }
        }
        Ok(())
    }

    /// Adds the delivery of `e`, or acks it when it no longer exists (trimmed while pending:
    /// nothing is left to deliver, as Dapr does).
    fn deliver(&mut self, topic: &str, e: Entry, out: &mut Vec<Delivery>) -> Result<(), Error> {
        if e.fields.is_none() {
            let c = stream::xack(topic, &self.settings.consumer_id, &e.id);
            self.client.call(&c).map_err(redis_error)?;
            let t = self.topic(topic);
            t.in_flight.remove(&e.id);
            return Ok(());
        }
        self.seq += 1;
        let id = format!("{}:{}.{}", e.id, self.tag, self.seq);
        let metadata = match e.field(stream::METADATA) {
            None => Vec::new(),
            Some(text) => json::decode(text).unwrap_or_else(|why| {
                warn(&format!(
                    "entry {} of {topic}: {why}; delivered without metadata",
                    e.id
                ));
                Vec::new()
            }),
        };
        let content_type = e
            .field(stream::CONTENT_TYPE)
            .map(|t| String::from_utf8_lossy(t).into_owned());
        let data = e
            .field(stream::DATA)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        self.topic(topic).in_flight.insert(e.id.clone(), id.clone());
        out.push(Delivery {
            id,
            topic: topic.to_owned(),
            data,
            metadata,
            content_type,
        });
        Ok(())
    }

    /// `None`: `XACK` (any delivery of the entry, even an old one: it was processed).
    /// `Some`: the current delivery is delivered again first; an old one is ignored (the
    /// entry is pending elsewhere or already delivered again).
    pub fn ack(&mut self, topic: &str, id: &str, error: Option<&str>) -> Result<(), Error> {
        check_topic(topic)?;
        let entry = entry_of(id)?;
        match error {
            None => {
                let c = stream::xack(topic, &self.settings.consumer_id, entry);
                self.client.call(&c).map_err(redis_error)?;
                let t = self.topic(topic);
                if t.in_flight.get(entry).is_some_and(|d| d == id) {
                    t.in_flight.remove(entry);
                }
                t.retry.retain(|r| r != entry);
            }
            Some(_) => {
                let t = self.topic(topic);
                if t.in_flight.get(entry).is_some_and(|d| d == id) {
                    t.in_flight.remove(entry);
                    t.retry.push_back(entry.to_owned());
                }
            }
        }
        Ok(())
    }
}

fn check_topic(topic: &str) -> Result<(), Error> {
    if topic.is_empty() {
        Err(Error::InvalidArgument("the topic name is empty".to_owned()))
    } else {
        Ok(())
    }
}

/// The stream entry id of delivery id `id`.
pub fn entry_of(id: &str) -> Result<&str, Error> {
    id.split_once(':')
        .map(|(entry, _)| entry)
        .filter(|entry| stream::parse_id(entry).is_some())
        .ok_or_else(|| {
            Error::InvalidArgument(format!("{id:?} is not a delivery id of this component"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_name_their_entry() {
        assert_eq!(entry_of("1700-3:00ff.7").ok(), Some("1700-3"));
        for bad in ["", "1700-3", "x:1", "17:1"] {
            assert!(entry_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_are_random_hex() {
        let (a, b) = (random_tag(), random_tag());
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
