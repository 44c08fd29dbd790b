//! The binary record stored under each state key in the host bucket.
//!
//! Layout (format 1), all integers little-endian:
//!
//! | bytes        | field                                                          |
//! |--------------|----------------------------------------------------------------|
//! | 1            | format, always [`FORMAT_V1`]                                   |
//! | 1            | flags: [`FLAG_EXPIRY`], [`FLAG_CONTENT_TYPE`]; other bits zero |
//! | 8 (if flag)  | expiry, unix time in milliseconds (`u64`)                      |
//! | 4 + n (flag) | content type: length `n` (`u32`) then `n` bytes of UTF-8       |
//! | rest         | the state value, verbatim                                      |
//!
//! Decoding never panics: anything that does not follow the layout is a [`RecordError`].

use std::fmt;

use wasmplug_guest::codec::{self, Reader};

/// The only record format written by this version of the component.
pub const FORMAT_V1: u8 = 1;
/// Flag bit: an 8-byte expiry follows the header.
pub const FLAG_EXPIRY: u8 = 0b0000_0001;
/// Flag bit: a length-prefixed content type follows the expiry (if any).
pub const FLAG_CONTENT_TYPE: u8 = 0b0000_0010;
const KNOWN_FLAGS: u8 = FLAG_EXPIRY | FLAG_CONTENT_TYPE;

/// One stored state value with its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// When the value expires, as unix time in milliseconds; `None` = never.
    pub expires_at_ms: Option<u64>,
    /// The content type given when the value was written.
    pub content_type: Option<String>,
    /// The state value.
    pub data: Vec<u8>,
}

impl Record {
    /// Whether the value has expired at `now_ms` (unix milliseconds). A value expires at
    /// exactly its expiry instant.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// Serialise the record.
    ///
    /// # Errors
    /// Only if the content type is longer than `u32::MAX` bytes.
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let mut flags = 0;
        let mut len = self.data.len().saturating_add(2);
        if self.expires_at_ms.is_some() {
            flags |= FLAG_EXPIRY;
            len = len.saturating_add(8);
        }
        if let Some(ct) = &self.content_type {
            flags |= FLAG_CONTENT_TYPE;
            len = len.saturating_add(4).saturating_add(ct.len());
        }

        let mut out = Vec::with_capacity(len);
        out.push(FORMAT_V1);
        out.push(flags);
        if let Some(at) = self.expires_at_ms {
            codec::put_u64(&mut out, at);
        }
        if let Some(ct) = &self.content_type {
            codec::put_bytes(&mut out, ct.as_bytes()).ok_or(RecordError::ContentTypeTooLong)?;
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Parse a stored record, reusing `bytes` for the value.
    pub fn decode(mut bytes: Vec<u8>) -> Result<Record, RecordError> {
        let mut reader = Reader::new(&bytes);
        let format = reader.u8().ok_or(RecordError::Empty)?;
        if format != FORMAT_V1 {
            return Err(RecordError::UnknownFormat(format));
        }
        let flags = reader.u8().ok_or(RecordError::Truncated("flags"))?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(RecordError::UnknownFlags(flags));
        }
        let expires_at_ms = if flags & FLAG_EXPIRY != 0 {
            Some(reader.u64().ok_or(RecordError::Truncated("expiry"))?)
        } else {
            None
        };
        let content_type = if flags & FLAG_CONTENT_TYPE != 0 {
            let len = reader
                .u32()
                .ok_or(RecordError::Truncated("content type length"))?;
            let len = usize::try_from(len).map_err(|_| RecordError::Truncated("content type"))?;
            let raw = reader
                .take(len)
                .ok_or(RecordError::Truncated("content type"))?;
            let ct = std::str::from_utf8(raw).map_err(|_| RecordError::ContentTypeNotUtf8)?;
            Some(ct.to_owned())
        } else {
            None
        };
        let header_len = reader.position();
        bytes.drain(..header_len);
        Ok(Record {
            expires_at_ms,
            content_type,
            data: bytes,
        })
    }
}

/// Why a stored record could not be decoded (or, rarely, encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Zero bytes: not even a format byte.
    Empty,
    /// The format byte is not one this component understands.
    UnknownFormat(u8),
    /// Reserved flag bits are set.
    UnknownFlags(u8),
    /// The record ends inside the named field.
    Truncated(&'static str),
    /// The stored content type is not valid UTF-8.
    ContentTypeNotUtf8,
    /// The content type does not fit the `u32` length prefix.
    ContentTypeTooLong,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Empty => f.write_str("record is empty"),
            RecordError::UnknownFormat(v) => write!(f, "unknown record format {v}"),
            RecordError::UnknownFlags(v) => write!(f, "unknown record flags {v:#010b}"),
            RecordError::Truncated(field) => write!(f, "record is truncated in the {field}"),
            RecordError::ContentTypeNotUtf8 => f.write_str("stored content type is not UTF-8"),
            RecordError::ContentTypeTooLong => f.write_str("content type is too long"),
        }
    }
}

impl std::error::Error for RecordError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: Record) {
        let bytes = record.encode().expect("encode");
        assert_eq!(Record::decode(bytes).expect("decode"), record);
    }

    #[test]
    fn round_trips_every_shape() {
        round_trip(Record::default());
        round_trip(Record {
            data: b"\"hello\"".to_vec(),
            ..Record::default()
        });
        round_trip(Record {
            expires_at_ms: Some(1_795_000_000_123),
            ..Record::default()
        });
        round_trip(Record {
            expires_at_ms: Some(u64::MAX),
            content_type: Some("application/json".into()),
            data: vec![0, 1, 2, 255, 1, 3],
        });
        round_trip(Record {
            content_type: Some(String::new()),
            data: vec![7; 1000],
            ..Record::default()
        });
        round_trip(Record {
            content_type: Some("tëxt/ünïcode".into()),
            ..Record::default()
        });
    }

    #[test]
    fn encodes_the_documented_layout() {
        let record = Record {
            expires_at_ms: Some(0x0102_0304_0506_0708),
            content_type: Some("a/b".into()),
            data: b"xyz".to_vec(),
        };
        assert_eq!(
            record.encode().expect("encode"),
            [
                &[FORMAT_V1, FLAG_EXPIRY | FLAG_CONTENT_TYPE][..],
                &[8, 7, 6, 5, 4, 3, 2, 1],
                &[3, 0, 0, 0],
                b"a/b",
                b"xyz",
            ]
            .concat()
        );
        let plain = Record {
            data: b"v".to_vec(),
            ..Record::default()
        };
        assert_eq!(plain.encode().expect("encode"), [FORMAT_V1, 0, b'v']);
    }

    #[test]
    fn rejects_corrupt_records() {
        let cases: &[(&[u8], RecordError)] = &[
            (b"", RecordError::Empty),
            (&[0, 0], RecordError::UnknownFormat(0)),
            (&[2, 0], RecordError::UnknownFormat(2)),
            (&[FORMAT_V1], RecordError::Truncated("flags")),
            (&[FORMAT_V1, 0b100], RecordError::UnknownFlags(0b100)),
            (&[FORMAT_V1, 0x80, 1], RecordError::UnknownFlags(0x80)),
            (
                &[FORMAT_V1, FLAG_EXPIRY, 1, 2, 3],
                RecordError::Truncated("expiry"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0],
                RecordError::Truncated("content type length"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 5, 0, 0, 0, b'a'],
                RecordError::Truncated("content type"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 0xff, 0xff, 0xff, 0xff, b'a'],
                RecordError::Truncated("content type"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0, 0, 0, 0xff],
                RecordError::ContentTypeNotUtf8,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                Record::decode(bytes.to_vec()).as_ref(),
                Err(want),
                "input {bytes:?}"
            );
        }
    }

    #[test]
    fn decode_never_panics_on_prefixes_of_a_valid_record() {
        let full = Record {
            expires_at_ms: Some(42),
            content_type: Some("text/plain".into()),
            data: b"data".to_vec(),
        }
        .encode()
        .expect("encode");
        let header = 2 + 8 + 4 + "text/plain".len();
        for len in 0..full.len() {
            let result = Record::decode(full[..len].to_vec());
            assert_eq!(result.is_ok(), len >= header, "prefix of {len} bytes");
        }
    }

    #[test]
    fn expiry_is_inclusive() {
        let record = Record {
            expires_at_ms: Some(1000),
            ..Record::default()
        };
        assert!(!record.is_expired(999));
        assert!(record.is_expired(1000));
        assert!(record.is_expired(1001));
        assert!(!Record::default().is_expired(u64::MAX));
    }
}
