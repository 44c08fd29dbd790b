//! The binary record stored under each message key in the host bucket: the support crate's
//! [`Record`] (`wasmplug_guest::message`), worded with this component's [`RecordError`].
//!
//! Layout (format 1), all integers little-endian `u32` unless noted:
//!
//! | bytes            | field                                                     |
//! |------------------|-----------------------------------------------------------|
//! | 1                | format, always `FORMAT_V1` (1)                            |
//! | 1                | flags: `FLAG_CONTENT_TYPE` (1); other bits zero           |
//! | 4 + n (if flag)  | content type: length `n` then `n` bytes of UTF-8          |
//! | 4                | number of metadata pairs `c`                              |
//! | c × (4+k + 4+v)  | each pair: key length, key (UTF-8), value length, value   |
//! | rest             | the message data, verbatim                                |
//!
//! Decoding never panics: anything that does not follow the layout is a [`RecordError`].

use std::fmt;

use wasmplug_guest::message::MessageError;
pub use wasmplug_guest::message::MessageRecord as Record;

/// Serialise `record`.
///
/// # Errors
/// If a string or the pair count does not fit its `u32` length prefix.
pub fn encode(record: &Record) -> Result<Vec<u8>, RecordError> {
    record.encode().map_err(RecordError::from)
}

/// Parse a stored record, reusing `bytes` for the data.
pub fn decode(bytes: Vec<u8>) -> Result<Record, RecordError> {
    Record::decode(bytes).map_err(RecordError::from)
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
    /// The named stored string is not valid UTF-8.
    NotUtf8(&'static str),
    /// The named field does not fit its `u32` length prefix.
    TooLong(&'static str),
}

impl From<MessageError> for RecordError {
    fn from(err: MessageError) -> Self {
        match err {
            MessageError::Empty => RecordError::Empty,
            MessageError::UnknownFormat(v) => RecordError::UnknownFormat(v),
            MessageError::UnknownFlags(v) => RecordError::UnknownFlags(v),
            // This component names the field, not the part of it, that is cut short.
            MessageError::Truncated(field)
            | MessageError::TruncatedLength(field)
            | MessageError::LengthOverflow(field) => RecordError::Truncated(field),
            MessageError::NotUtf8(field) => RecordError::NotUtf8(field),
            MessageError::TooLong(field) => RecordError::TooLong(field),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Empty => f.write_str("record is empty"),
            RecordError::UnknownFormat(v) => write!(f, "unknown record format {v}"),
            RecordError::UnknownFlags(v) => write!(f, "unknown record flags {v:#010b}"),
            RecordError::Truncated(field) => write!(f, "record is truncated in the {field}"),
            RecordError::NotUtf8(field) => write!(f, "stored {field} is not UTF-8"),
            RecordError::TooLong(field) => write!(f, "{field} is too long"),
        }
    }
}

impl std::error::Error for RecordError {}

#[cfg(test)]
mod tests {
    use wasmplug_guest::message::{FLAG_CONTENT_TYPE, FORMAT_V1};
    use wasmplug_guest::testing::pairs as md;

    use super::*;

    fn round_trip(record: Record) {
        let bytes = encode(&record).expect("encode");
        assert_eq!(Some(bytes.len()), record.encoded_len());
        assert_eq!(decode(bytes).expect("decode"), record);
    }

    #[test]
    fn round_trips_every_shape() {
        round_trip(Record::default());
        round_trip(Record {
            data: b"{\"hello\":1}".to_vec(),
            ..Record::default()
        });
        round_trip(Record {
            content_type: Some("application/cloudevents+json".into()),
            metadata: md(&[("a", "1"), ("", ""), ("ünï", "cödé"), ("a", "dup")]),
            data: vec![0, 1, 2, 255],
        });
        round_trip(Record {
            content_type: Some(String::new()),
            metadata: Vec::new(),
            data: vec![7; 5000],
        });
    }

    #[test]
    fn encodes_the_documented_layout() {
        let record = Record {
            content_type: Some("a/b".into()),
            metadata: md(&[("k", "vv")]),
            data: b"xyz".to_vec(),
        };
        assert_eq!(
            encode(&record).expect("encode"),
            [
                &[FORMAT_V1, FLAG_CONTENT_TYPE][..],
                &[3, 0, 0, 0],
                b"a/b",
                &[1, 0, 0, 0],
                &[1, 0, 0, 0],
                b"k",
                &[2, 0, 0, 0],
                b"vv",
                b"xyz",
            ]
            .concat()
        );
        let plain = Record {
            data: b"v".to_vec(),
            ..Record::default()
        };
        assert_eq!(
            encode(&plain).expect("encode"),
            [FORMAT_V1, 0, 0, 0, 0, 0, b'v']
        );
    }

    #[test]
    fn rejects_corrupt_records() {
        let cases: &[(&[u8], RecordError)] = &[
            (b"", RecordError::Empty),
            (&[0, 0], RecordError::UnknownFormat(0)),
            (&[2, 0], RecordError::UnknownFormat(2)),
            (&[FORMAT_V1], RecordError::Truncated("flags")),
            (&[FORMAT_V1, 0b10], RecordError::UnknownFlags(0b10)),
            (
                &[FORMAT_V1, 0, 1, 0],
                RecordError::Truncated("metadata count"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0],
                RecordError::Truncated("content type"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 0xff, 0xff, 0xff, 0xff, b'a'],
                RecordError::Truncated("content type"),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0, 0, 0, 0xff, 0, 0, 0, 0],
                RecordError::NotUtf8("content type"),
            ),
            (
                &[FORMAT_V1, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4],
                RecordError::Truncated("metadata"),
            ),
            (
                &[FORMAT_V1, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0],
                RecordError::Truncated("metadata key"),
            ),
            (
                &[FORMAT_V1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xc3],
                RecordError::NotUtf8("metadata value"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                decode(bytes.to_vec()).as_ref(),
                Err(want),
                "input {bytes:?}"
            );
        }
    }

    #[test]
    fn decode_never_panics_on_prefixes_or_bit_flips() {
        let full = encode(&Record {
            content_type: Some("text/plain".into()),
            metadata: md(&[("key", "value"), ("k2", "v2")]),
            data: b"data".to_vec(),
        })
        .expect("encode");
        let header = full.len() - 4;
        for len in 0..full.len() {
            let result = decode(full[..len].to_vec());
            assert_eq!(result.is_ok(), len >= header, "prefix of {len} bytes");
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut bytes = full.clone();
                bytes[i] ^= 1 << bit;
                let _ = decode(bytes);
            }
        }
    }
}
