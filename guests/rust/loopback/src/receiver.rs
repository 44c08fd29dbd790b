//! The input side: `poll` takes queued messages as events, `reply` records the app's answer.

use wasmplug_guest::kv::Backend;

use crate::Error;
use crate::exports::wasmplug::dapr::input_binding::{Event, PollResult};
use crate::queue;
use crate::record::{self, Record};

/// `next-poll-ms` when the queue is empty.
pub const EMPTY_POLL_MS: u64 = 200;
/// Most events one `poll` returns, whatever `max` asks for.
pub const MAX_POLL: usize = 100;
/// At most this many bytes of a reply's data are echoed in `lastReplyData`.
pub const REPLY_DATA_LIMIT: usize = 256;

/// Event metadata: the message's sequence number.
pub const SEQUENCE: &str = "sequence";
/// Event metadata: how many valid replies this instance has received.
pub const REPLIES_RECEIVED: &str = "repliesReceived";
/// Event metadata: the id of the latest reply.
pub const LAST_REPLY_ID: &str = "lastReplyId";
/// Event metadata: the error of the latest reply, if it had one.
pub const LAST_REPLY_ERROR: &str = "lastReplyError";
/// Event metadata: the latest reply's data (lossy UTF-8, truncated).
pub const LAST_REPLY_DATA: &str = "lastReplyData";
/// The keys this binding sets on every event; sent pairs with these keys are replaced.
const OWN_KEYS: [&str; 5] = [
    SEQUENCE,
    REPLIES_RECEIVED,
    LAST_REPLY_ID,
    LAST_REPLY_ERROR,
    LAST_REPLY_DATA,
];

/// The app's latest reply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    id: String,
    /// Lossy UTF-8, at most [`REPLY_DATA_LIMIT`] bytes.
    data: String,
    error: Option<String>,
}

/// What a poll produced.
#[derive(Debug)]
pub struct Polled {
    /// The answer for the host.
    pub result: PollResult,
    /// Messages that were taken but could not be decoded, so were dropped: one line each,
    /// for the log.
    pub dropped: Vec<String>,
}

/// The input side of one component instance.
#[derive(Debug)]
pub struct Receiver {
    /// Random per instance, so ids of other instances and of earlier runs are foreign.
    nonce: u64,
    /// The highest sequence number this instance has emitted (0: none yet).
    highest: u64,
    replies: u64,
    last_reply: Option<Reply>,
}

impl Receiver {
    /// A receiver that has emitted nothing, with the given nonce.
    pub fn new(nonce: u64) -> Self {
        Receiver {
            nonce,
            highest: 0,
            replies: 0,
            last_reply: None,
        }
    }

    /// `poll`: take up to `max` queued messages (durably removed before this returns).
    pub fn poll(&mut self, backend: &impl Backend, max: u32) -> Result<Polled, Error> {
        let max = usize::try_from(max).unwrap_or(usize::MAX).min(MAX_POLL);
        let mut events = Vec::new();
        let mut dropped = Vec::new();
        for (sequence, bytes) in queue::take(backend, max)? {
            self.highest = self.highest.max(sequence);
            match record::decode(bytes) {
                Ok(record) => events.push(self.event(sequence, record)),
                Err(err) => dropped.push(format!(
                    "queued message {sequence} is corrupt ({err}); it was dropped"
                )),
            }
        }
        let next_poll_ms = events.is_empty().then_some(EMPTY_POLL_MS);
        Ok(Polled {
            result: PollResult {
                events,
                next_poll_ms,
            },
            dropped,
        })
    }

    fn event(&self, sequence: u64, record: Record) -> Event {
        let mut metadata: Vec<(String, String)> = record
            .metadata
            .into_iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
            .collect();
        metadata.push((SEQUENCE.to_owned(), sequence.to_string()));
        metadata.push((REPLIES_RECEIVED.to_owned(), self.replies.to_string()));
        if let Some(reply) = &self.last_reply {
            metadata.push((LAST_REPLY_ID.to_owned(), reply.id.clone()));
            if let Some(error) = &reply.error {
                metadata.push((LAST_REPLY_ERROR.to_owned(), error.clone()));
            }
            metadata.push((LAST_REPLY_DATA.to_owned(), reply.data.clone()));
        }
        Event {
            id: format!("{:016x}-{sequence}", self.nonce),
            data: record.data,
            metadata,
            content_type: record.content_type,
        }
    }

    /// The sequence number in `id` if this instance emitted an event with that id.
    fn emitted(&self, id: &str) -> Result<u64, Error> {
        let (nonce, sequence) = id
            .split_once('-')
            .filter(|(nonce, _)| {
                nonce.len() == 16
                    && nonce
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            })
            .and_then(|(nonce, sequence)| {
                let n = u64::from_str_radix(nonce, 16).ok()?;
                let s = sequence
                    .parse::<u64>()
                    .ok()
                    .filter(|s| s.to_string() == sequence)?;
                Some((n, s))
            })
            .ok_or_else(|| {
                Error::InvalidArgument(format!("{id:?} is not an event id of the loopback binding"))
            })?;
        if nonce != self.nonce || !(1..=self.highest).contains(&sequence) {
            return Err(Error::InvalidArgument(format!(
                "event {id:?} was not emitted by this loopback binding instance (another \
                 instance, or before a restart or re-init)"
            )));
        }
        Ok(sequence)
    }

    /// `reply`: record the app's answer to event `id`.
    pub fn reply(&mut self, id: &str, data: &[u8], error: Option<String>) -> Result<(), Error> {
        self.emitted(id)?;
        self.replies = self.replies.saturating_add(1);
        self.last_reply = Some(Reply {
            id: id.to_owned(),
            data: truncate(String::from_utf8_lossy(data).into_owned(), REPLY_DATA_LIMIT),
            error,
        });
        Ok(())
    }
}

/// `text` cut to at most `limit` bytes, on a character boundary.
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests;
