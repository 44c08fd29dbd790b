//! The native in-memory reference pub/sub.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{
    BULK_PUBSUB, BlockError, BulkFailure, BulkPublishRequest, Delivery, Metadata, PubSub,
    PublishRequest, Queue, QueueSubscription, Subscription, Wakeups,
};

/// A pub/sub in process memory with the same semantics as the wasm guest (queues per topic,
/// ordered, acked = removed, nacked or abandoned = redelivered).
#[derive(Debug, Clone, Default)]
pub struct MemoryPubSub {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    wakeups: Wakeups,
}

#[derive(Debug, Default)]
struct State {
    initialised: bool,
    nonce: u64,
    topics: HashMap<String, Topic>,
}

#[derive(Debug, Default)]
struct Topic {
    next_seq: u64,
    messages: BTreeMap<u64, Message>,
    /// seq -> attempt of the delivery in flight.
    in_flight: HashMap<u64, u32>,
}

#[derive(Debug)]
struct Message {
    data: Vec<u8>,
    metadata: Metadata,
    content_type: Option<String>,
    attempts: u32,
}

impl MemoryPubSub {
    /// A new, uninitialised pub/sub.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut State) -> Result<R, BlockError>,
    ) -> Result<R, BlockError> {
        let mut s = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.initialised {
            return Err(BlockError::Other(
                "pubsub not initialised: init was not called".into(),
            ));
        }
        f(&mut s)
    }
}

fn check_topic(topic: &str) -> Result<(), BlockError> {
    if topic.is_empty() {
        return Err(BlockError::InvalidArgument(
            "topic must not be empty".into(),
        ));
    }
    Ok(())
}

impl State {
    fn push(
        &mut self,
        topic: &str,
        data: Vec<u8>,
        metadata: Metadata,
        content_type: Option<String>,
    ) {
        let t = self.topics.entry(topic.to_owned()).or_default();
        let seq = t.next_seq;
        t.next_seq += 1;
        t.messages.insert(
            seq,
            Message {
                data,
                metadata,
                content_type,
                attempts: 0,
            },
        );
    }
}

#[async_trait::async_trait]
impl PubSub for MemoryPubSub {
    async fn init(&self, _metadata: Metadata) -> Result<(), BlockError> {
        let mut s = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        s.initialised = true;
        s.nonce =
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8);
        Ok(())
    }

    async fn features(&self) -> Result<Vec<String>, BlockError> {
        Ok(vec![BULK_PUBSUB.into()])
    }

    async fn publish(&self, r: PublishRequest) -> Result<(), BlockError> {
        check_topic(&r.topic)?;
        self.with(|s| {
            s.push(&r.topic, r.data, r.metadata, r.content_type);
            Ok(())
        })?;
        self.inner.wakeups.wake(&r.topic);
        Ok(())
    }

    async fn bulk_publish(&self, r: BulkPublishRequest) -> Result<Vec<BulkFailure>, BlockError> {
        check_topic(&r.topic)?;
        self.with(|s| {
            for e in r.entries {
                s.push(&r.topic, e.event, e.metadata, e.content_type);
            }
            Ok(())
        })?;
        self.inner.wakeups.wake(&r.topic);
        Ok(Vec::new())
    }

    async fn subscribe(
        &self,
        topic: &str,
        _metadata: Metadata,
    ) -> Result<Box<dyn Subscription>, BlockError> {
        check_topic(topic)?;
        self.with(|s| {
            s.topics
                .entry(topic.to_owned())
                .or_default()
                .in_flight
                .clear();
            Ok(())
        })?;
        Ok(Box::new(QueueSubscription {
            queue: Arc::new(self.clone()),
            topic: topic.to_owned(),
            wakeup: self.inner.wakeups.of(topic),
        }))
    }

    async fn ping(&self) -> Result<(), BlockError> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl Queue for MemoryPubSub {
    async fn fetch(&self, topic: &str, max: u32) -> Result<Vec<Delivery>, BlockError> {
        self.with(|s| {
            let nonce = s.nonce;
            let Some(t) = s.topics.get_mut(topic) else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for (seq, m) in t.messages.iter_mut() {
                if out.len() >= max as usize {
                    break;
                }
                if t.in_flight.contains_key(seq) {
                    continue;
                }
                m.attempts += 1;
                t.in_flight.insert(*seq, m.attempts);
                out.push(Delivery {
                    id: format!("{nonce:016x}-{seq}-{}", m.attempts),
                    topic: topic.to_owned(),
                    data: m.data.clone(),
                    metadata: m.metadata.clone(),
                    content_type: m.content_type.clone(),
                });
            }
            Ok(out)
        })
    }

    async fn ack(&self, topic: &str, id: &str, error: Option<String>) -> Result<(), BlockError> {
        self.with(|s| {
            let nonce = format!("{:016x}", s.nonce);
            let parsed = id
                .strip_prefix(&nonce)
                .and_then(|r| r.strip_prefix('-'))
                .and_then(|r| r.split_once('-'))
                .and_then(|(seq, attempt)| {
                    Some((seq.parse::<u64>().ok()?, attempt.parse::<u32>().ok()?))
                });
            let Some((seq, attempt)) = parsed else {
                return Err(BlockError::InvalidArgument(format!(
                    "{id:?} is not a delivery id of this pubsub"
                )));
            };
            let t = s.topics.get_mut(topic);
            let Some(t) = t.filter(|t| t.in_flight.get(&seq) == Some(&attempt)) else {
                return Err(BlockError::InvalidArgument(format!(
                    "delivery {id:?} is not in flight (already acked?)"
                )));
            };
            t.in_flight.remove(&seq);
            if error.is_none() {
                t.messages.remove(&seq);
            }
            Ok(())
        })?;
        if error.is_some() {
            self.inner.wakeups.wake(topic);
        }
        Ok(())
    }
}
