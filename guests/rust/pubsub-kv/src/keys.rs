//! Where a topic's queue lives in the host bucket and the shape of delivery ids. The
//! counters are `wasmplug_guest::counter`s (8 bytes, little-endian).
//!
//! Keys, with `<t>` the topic's UTF-8 bytes in lowercase hex (so any topic name, including
//! ones with `/`, `-` or non-ASCII characters, maps to a distinct key made of `[0-9a-f]`):
//!
//! | key                    | value                                                       |
//! |------------------------|-------------------------------------------------------------|
//! | `t/<t>`                | tail: the next sequence number to assign (`u64` LE, 8 bytes) |
//! | `h/<t>`                | head: the lowest sequence that may still hold a message     |
//! | `m/<t>/<seq:020>`      | the message with that sequence, a [`crate::record::Record`] |
//! | `c/<t>/<seq:020>`      | the claim of that message while it is in flight, a [`Claim`] |
//!
//! A missing counter is 0. Invariant: `head <= tail`, no message exists below `head` or at or
//! above `tail`.
//!
//! A claim (a lease) says which component instance delivered the message and until when the
//! others must leave it alone; it is what lets several instances (replicas in several
//! processes over one shared bucket) share a subscription. Layout, integers `u64`
//! little-endian:
//!
//! | bytes | field                                                                    |
//! |-------|--------------------------------------------------------------------------|
//! | 1     | format, always `CLAIM_FORMAT_V1` (1)                                     |
//! | 8     | owner: a random id of the claiming instance (here: its topic nonce)      |
//! | 8     | attempt: which delivery of the message this is, from 1                   |
//! | 8     | expires: wall-clock milliseconds since the Unix epoch (the ack deadline) |
//!
//! No claim, an expired claim or an undecodable one: the message is deliverable. An ack
//! deletes the message and its claim in one commit; a nack or a new `subscribe` deletes the
//! claim.

use std::fmt::Write as _;

/// Longest topic name accepted, in bytes (its hex form must fit the host's key limit).
pub const MAX_TOPIC_LEN: usize = 1024;
/// Longest delivery id accepted by `ack`; real ones are at most 16 + 1 + 20 + 1 + 20.
pub const MAX_ID_LEN: usize = 64;

/// The bucket keys of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicKeys {
    /// The key holding the tail counter.
    pub tail: String,
    /// The key holding the head counter.
    pub head: String,
    /// `m/<t>/`: message keys are this prefix plus the zero-padded sequence.
    message_prefix: String,
    /// `c/<t>/`: claim keys are this prefix plus the zero-padded sequence.
    claim_prefix: String,
}

impl TopicKeys {
    /// The keys of `topic`.
    pub fn new(topic: &str) -> Self {
        let mut hex = String::with_capacity(topic.len() * 2);
        for byte in topic.bytes() {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
        }
        TopicKeys {
            tail: format!("t/{hex}"),
            head: format!("h/{hex}"),
            message_prefix: format!("m/{hex}/"),
            claim_prefix: format!("c/{hex}/"),
        }
    }

    /// The key of message `seq`; zero-padded so keys sort in sequence order.
    pub fn message(&self, seq: u64) -> String {
        format!("{}{seq:020}", self.message_prefix)
    }

    /// The key of the claim of message `seq`.
    pub fn claim(&self, seq: u64) -> String {
        format!("{}{seq:020}", self.claim_prefix)
    }
}

/// The format byte of a [`Claim`] record.
pub const CLAIM_FORMAT_V1: u8 = 1;
/// Length of an encoded [`Claim`].
pub const CLAIM_LEN: usize = 25;

/// The claim of a message in flight (layout in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The nonce of the instance that delivered it.
    pub owner: u64,
    /// Which delivery of the message this is, from 1.
    pub attempt: u64,
    /// When the claim lapses: wall-clock milliseconds since the Unix epoch.
    pub expires: u64,
}

impl Claim {
    /// Serialise the claim.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CLAIM_LEN);
        out.push(CLAIM_FORMAT_V1);
        out.extend_from_slice(&self.owner.to_le_bytes());
        out.extend_from_slice(&self.attempt.to_le_bytes());
        out.extend_from_slice(&self.expires.to_le_bytes());
        out
    }

    /// Parse a stored claim; `None` unless it is exactly what [`Claim::encode`] produces.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (&format, rest) = bytes.split_first()?;
        if format != CLAIM_FORMAT_V1 || rest.len() != CLAIM_LEN - 1 {
            return None;
        }
        let word = |i: usize| -> Option<u64> {
            let bytes = rest.get(i * 8..(i + 1) * 8)?;
            Some(u64::from_le_bytes(bytes.try_into().ok()?))
        };
        Some(Claim {
            owner: word(0)?,
            attempt: word(1)?,
            expires: word(2)?,
        })
    }
}

/// A delivery id: `<nonce as 16 lowercase hex digits>-<seq>-<attempt>`, both numbers in
/// canonical decimal. The nonce is random per (component instance, topic), so ids of another
/// instance, of a previous run or of another topic are recognisably foreign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryId {
    /// The instance's nonce for the topic.
    pub nonce: u64,
    /// The message's sequence number.
    pub seq: u64,
    /// Which delivery of that message this is, from 1.
    pub attempt: u64,
}

impl DeliveryId {
    /// Parse an id; `None` unless it is exactly what [`DeliveryId::to_string`] produces.
    pub fn parse(id: &str) -> Option<Self> {
        if id.len() > MAX_ID_LEN {
            return None;
        }
        let mut parts = id.split('-');
        let nonce = parts.next()?;
        let seq = parts.next()?;
        let attempt = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let parsed = DeliveryId {
            nonce: u64::from_str_radix(nonce, 16).ok()?,
            seq: seq.parse().ok()?,
            attempt: attempt.parse().ok()?,
        };
        // Rejects signs, leading zeros, upper-case hex and other non-canonical spellings.
        (parsed.to_string() == id).then_some(parsed)
    }
}

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}-{}-{}", self.nonce, self.seq, self.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let keys = TopicKeys::new("a/b");
        assert_eq!(keys.tail, "t/612f62");
        assert_eq!(keys.head, "h/612f62");
        assert_eq!(keys.message(7), "m/612f62/00000000000000000007");
        assert_eq!(
            keys.message(u64::MAX),
            "m/612f62/18446744073709551615",
            "20 digits hold every u64"
        );
        assert!(keys.message(9) < keys.message(10));
        assert_eq!(keys.claim(7), "c/612f62/00000000000000000007");
    }

    #[test]
    fn claims_round_trip_and_reject_other_shapes() {
        let claim = Claim {
            owner: 0x0102,
            attempt: 3,
            expires: u64::MAX,
        };
        let bytes = claim.encode();
        assert_eq!(bytes.len(), CLAIM_LEN);
        assert_eq!(&bytes[..3], &[1, 2, 1]);
        assert_eq!(Claim::decode(&bytes), Some(claim));
        assert_eq!(Claim::decode(&[]), None);
        assert_eq!(Claim::decode(&bytes[..CLAIM_LEN - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Claim::decode(&longer), None);
        let mut other_format = bytes;
        other_format[0] = 2;
        assert_eq!(Claim::decode(&other_format), None);
    }

    #[test]
    fn tricky_topics_get_distinct_keys() {
        let topics = [
            "a",
            "a/",
            "a/0",
            "a/00000000000000000001",
            "61",
            "t/61",
            "ä",
            "a b",
            "A",
            "-",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for topic in topics {
            let keys = TopicKeys::new(topic);
            for key in [
                keys.tail.clone(),
                keys.head.clone(),
                keys.message(1),
                keys.claim(1),
            ] {
                assert!(seen.insert(key.clone()), "{key} repeated (topic {topic:?})");
            }
        }
        let longest = TopicKeys::new(&"x".repeat(MAX_TOPIC_LEN)).message(u64::MAX);
        assert!(longest.len() <= 4096, "fits the host key limit");
    }

    #[test]
    fn ids_round_trip_and_reject_non_canonical_spellings() {
        let id = DeliveryId {
            nonce: 0xab,
            seq: 42,
            attempt: 3,
        };
        assert_eq!(id.to_string(), "00000000000000ab-42-3");
        assert_eq!(DeliveryId::parse("00000000000000ab-42-3"), Some(id));
        let max = DeliveryId {
            nonce: u64::MAX,
            seq: u64::MAX,
            attempt: u64::MAX,
        };
        assert_eq!(DeliveryId::parse(&max.to_string()), Some(max));
        for bad in [
            "",
            "-",
            "--",
            "00000000000000ab-42",
            "00000000000000ab-42-3-",
            "00000000000000ab-42-3-1",
            "00000000000000AB-42-3",
            "ab-42-3",
            "00000000000000ab-042-3",
            "00000000000000ab-+42-3",
            "00000000000000ab-42-+3",
            "+0000000000000ab-42-3",
            "00000000000000ab-18446744073709551616-1",
            "00000000000000ab-1-x",
            "00000000000000ab-1-1 ",
            "0000000000000000000000000000000000000000000000000000000000000000000-1-1",
        ] {
            assert_eq!(DeliveryId::parse(bad), None, "{bad:?}");
        }
    }
}
