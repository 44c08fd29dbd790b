//! Versioned `u64` counters in a host bucket (queue heads and tails).
//!
//! A counter is stored as exactly 8 bytes, little-endian; a missing key is 0. Reading one
//! remembers its version, so a later write can be made conditional on it being unchanged.

use crate::Error;
use crate::keyvalue_atomics::{Precondition, Write};
use crate::kv::{self, Backend};

/// A counter as read from the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Its value (0 if the key is missing).
    pub value: u64,
    /// Its version; `None` if the key is missing.
    pub version: Option<u64>,
}

impl Counter {
    /// The precondition that the counter is still what was read.
    pub fn unchanged(self) -> Precondition {
        match self.version {
            Some(version) => Precondition::Version(version),
            None => Precondition::Absent,
        }
    }

    /// A write setting the counter at `key` to `value` if it is still what was read.
    pub fn set(self, key: &str, value: u64) -> Write {
        Write {
            key: key.to_owned(),
            precondition: self.unchanged(),
            value: Some(encode(value)),
        }
    }
}

/// Encode a counter value.
pub fn encode(value: u64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

/// Decode a counter value; `None` unless exactly 8 bytes.
pub fn decode(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Read the counter at `key`.
///
/// # Errors
/// `other`: the read failed (worded by [`kv::read_error`]), or the value is not 8 bytes
/// (`"<label> <key> is corrupt: <n> bytes, expected 8"`, `label` naming the kind of
/// counter for the guest, e.g. `queue counter`).
pub fn read(backend: &impl Backend, key: &str, label: &str) -> Result<Counter, Error> {
    let Some(entry) = kv::read(backend, key)? else {
        return Ok(Counter {
            value: 0,
            version: None,
        });
    };
    match decode(&entry.value) {
        Some(value) => Ok(Counter {
            value,
            version: Some(entry.version),
        }),
        None => Err(Error::Other(format!(
            "{label} {key:?} is corrupt: {} bytes, expected 8",
            entry.value.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeBucket;

    #[test]
    fn encoding() {
        assert_eq!(encode(0x0102), [2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&encode(0)), Some(0));
        assert_eq!(decode(&encode(u64::MAX)), Some(u64::MAX));
        assert_eq!(decode(&[1, 2, 3]), None);
        assert_eq!(decode(&[0; 9]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn reads_missing_present_and_corrupt_counters() {
        let fake = FakeBucket::default();
        let missing = read(&fake, "c", "test counter").expect("read");
        assert_eq!(
            missing,
            Counter {
                value: 0,
                version: None
            }
        );
        assert!(matches!(missing.unchanged(), Precondition::Absent));

        let version = fake.put_raw("c", &encode(41));
        let present = read(&fake, "c", "test counter").expect("read");
        assert_eq!(
            present,
            Counter {
                value: 41,
                version: Some(version)
            }
        );
        assert!(matches!(present.unchanged(), Precondition::Version(v) if v == version));

        fake.put_raw("c", b"xyz");
        match read(&fake, "c", "test counter") {
            Err(Error::Other(msg)) => {
                assert_eq!(msg, "test counter \"c\" is corrupt: 3 bytes, expected 8");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn set_is_conditional_on_what_was_read() {
        let fake = FakeBucket::default();
        let first = read(&fake, "c", "counter").expect("read");
        fake.commit(&[first.set("c", 1)]).expect("absent holds");
        assert!(
            fake.commit(&[first.set("c", 2)]).is_err(),
            "no longer absent"
        );
        let second = read(&fake, "c", "counter").expect("read");
        assert_eq!(second.value, 1);
        fake.put_raw("c", &encode(1)); // same value, new version
        assert!(fake.commit(&[second.set("c", 2)]).is_err(), "version moved");
        assert_eq!(fake.counter("c"), Some(1));
    }
}
