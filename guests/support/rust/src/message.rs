//! The binary record of one queued message: what the pub/sub stores per published message
//! and the loopback binding per sent one.
//!
//! Layout (format 1), integers little-endian `u32`:
//!
//! | bytes            | field                                                   |
//! |------------------|---------------------------------------------------------|
//! | 1                | format, always [`FORMAT_V1`]                            |
//! | 1                | flags: [`FLAG_CONTENT_TYPE`]; other bits zero           |
//! | 4 + n (if flag)  | content type: length `n`, then `n` bytes of UTF-8       |
//! | 4                | number of metadata pairs `c`                            |
//! | c × (4+k + 4+v)  | each pair: key length, key, value length, value (UTF-8) |
//! | rest             | the message data, verbatim                              |
//!
//! Decoding never panics: anything that does not follow the layout is a [`MessageError`]
//! that says exactly where it went wrong, so each guest can word it as it always has.

use std::fmt;

use crate::codec::{self, Reader};

/// The only record format written and read.
pub const FORMAT_V1: u8 = 1;
/// Flag bit: a length-prefixed content type follows the header.
pub const FLAG_CONTENT_TYPE: u8 = 0b0000_0001;
const KNOWN_FLAGS: u8 = FLAG_CONTENT_TYPE;

/// Field names carried by [`MessageError`].
pub mod field {
    /// The flags byte.
    pub const FLAGS: &str = "flags";
    /// The content type.
    pub const CONTENT_TYPE: &str = "content type";
    /// The number of metadata pairs.
    pub const METADATA_COUNT: &str = "metadata count";
    /// The metadata pairs as a whole.
    pub const METADATA: &str = "metadata";
    /// The key of a metadata pair.
    pub const METADATA_KEY: &str = "metadata key";
    /// The value of a metadata pair.
    pub const METADATA_VALUE: &str = "metadata value";
    /// The whole record.
    pub const RECORD: &str = "record";
}

/// One message as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageRecord {
    /// The content type given with the message.
    pub content_type: Option<String>,
    /// The metadata given with the message, in order.
    pub metadata: Vec<(String, String)>,
    /// The payload.
    pub data: Vec<u8>,
}

impl MessageRecord {
    /// The exact length of [`MessageRecord::encode`]'s output; `None` if it overflows
    /// `usize`.
    pub fn encoded_len(&self) -> Option<usize> {
        let mut len = 6usize.checked_add(self.data.len())?;
        if let Some(ct) = &self.content_type {
            len = len.checked_add(4)?.checked_add(ct.len())?;
        }
        for (k, v) in &self.metadata {
            len = len
                .checked_add(8)?
                .checked_add(k.len())?
                .checked_add(v.len())?;
        }
        Some(len)
    }

    /// Serialise the record.
    ///
    /// # Errors
    /// [`MessageError::TooLong`] if the whole record overflows `usize` ([`field::RECORD`])
    /// or a string or the pair count does not fit its `u32` prefix.
    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let len = self
            .encoded_len()
            .ok_or(MessageError::TooLong(field::RECORD))?;
        let mut out = Vec::with_capacity(len);
        out.push(FORMAT_V1);
        match &self.content_type {
            Some(ct) => {
                out.push(FLAG_CONTENT_TYPE);
                put_bytes(&mut out, ct, field::CONTENT_TYPE)?;
            }
            None => out.push(0),
        }
        codec::put_len(&mut out, self.metadata.len())
            .ok_or(MessageError::TooLong(field::METADATA))?;
        for (k, v) in &self.metadata {
            put_bytes(&mut out, k, field::METADATA_KEY)?;
            put_bytes(&mut out, v, field::METADATA_VALUE)?;
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Parse a stored record, reusing `bytes` for the data.
    pub fn decode(mut bytes: Vec<u8>) -> Result<MessageRecord, MessageError> {
        let mut r = Reader::new(&bytes);
        let format = r.u8().ok_or(MessageError::Empty)?;
        if format != FORMAT_V1 {
            return Err(MessageError::UnknownFormat(format));
        }
        let flags = r.u8().ok_or(MessageError::Truncated(field::FLAGS))?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(MessageError::UnknownFlags(flags));
        }
        let content_type = if flags & FLAG_CONTENT_TYPE != 0 {
            Some(read_string(&mut r, field::CONTENT_TYPE)?)
        } else {
            None
        };
        let count = read_len(&mut r, field::METADATA_COUNT)?;
        // Every pair takes at least 8 bytes, so a count the remaining bytes cannot hold is
        // corrupt; checking it first also bounds the allocation below.
        if count > r.remaining() / 8 {
            return Err(MessageError::Truncated(field::METADATA));
        }
        let mut metadata = Vec::with_capacity(count);
        for _ in 0..count {
            let key = read_string(&mut r, field::METADATA_KEY)?;
            let value = read_string(&mut r, field::METADATA_VALUE)?;
            metadata.push((key, value));
        }
        let header_len = r.position();
        bytes.drain(..header_len);
        Ok(MessageRecord {
            content_type,
            metadata,
            data: bytes,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, s: &str, field: &'static str) -> Result<(), MessageError> {
    codec::put_bytes(out, s.as_bytes()).ok_or(MessageError::TooLong(field))
}

fn read_len(r: &mut Reader<'_>, field: &'static str) -> Result<usize, MessageError> {
    let len = r.u32().ok_or(MessageError::TruncatedLength(field))?;
    usize::try_from(len).map_err(|_| MessageError::LengthOverflow(field))
}

fn read_string(r: &mut Reader<'_>, field: &'static str) -> Result<String, MessageError> {
    let len = read_len(r, field)?;
    let raw = r.take(len).ok_or(MessageError::Truncated(field))?;
    let s = std::str::from_utf8(raw).map_err(|_| MessageError::NotUtf8(field))?;
    Ok(s.to_owned())
}

/// Why a message record could not be decoded (or, rarely, encoded). The `&'static str`s
/// are the [`field`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Zero bytes: not even a format byte.
    Empty,
    /// The format byte is not [`FORMAT_V1`].
    UnknownFormat(u8),
    /// Reserved flag bits are set.
    UnknownFlags(u8),
    /// The record ends inside the named field (for [`field::METADATA`]: the pair count is
    /// more than the remaining bytes can hold).
    Truncated(&'static str),
    /// The record ends inside the `u32` length prefix of the named field.
    TruncatedLength(&'static str),
    /// The named field's length does not fit this platform's `usize`.
    LengthOverflow(&'static str),
    /// The named stored string is not valid UTF-8.
    NotUtf8(&'static str),
    /// Encoding: the named field does not fit its `u32` length prefix.
    TooLong(&'static str),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Empty => f.write_str("message record is empty"),
            MessageError::UnknownFormat(v) => write!(f, "unknown message record format {v}"),
            MessageError::UnknownFlags(v) => write!(f, "unknown message record flags {v:#04x}"),
            MessageError::Truncated(field) => {
                write!(f, "message record is truncated in the {field}")
            }
            MessageError::TruncatedLength(field) => {
                write!(
                    f,
                    "message record is truncated in the length of the {field}"
                )
            }
            MessageError::LengthOverflow(field) => {
                write!(f, "the {field} is too long for this platform")
            }
            MessageError::NotUtf8(field) => write!(f, "stored {field} is not UTF-8"),
            MessageError::TooLong(field) => write!(f, "{field} is too long"),
        }
    }
}

impl std::error::Error for MessageError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pairs;

    fn round_trip(record: MessageRecord) {
        let bytes = record.encode().expect("encode");
        assert_eq!(Some(bytes.len()), record.encoded_len());
        assert_eq!(MessageRecord::decode(bytes).expect("decode"), record);
    }

    #[test]
    fn round_trips_every_shape() {
        round_trip(MessageRecord::default());
        round_trip(MessageRecord {
            data: b"{\"hello\":1}".to_vec(),
            ..MessageRecord::default()
        });
        round_trip(MessageRecord {
            content_type: Some("application/cloudevents+json".into()),
            metadata: pairs(&[("a", "1"), ("", ""), ("ünï", "cödé"), ("a", "dup")]),
            data: vec![0, 1, 2, 255],
        });
        round_trip(MessageRecord {
            content_type: Some(String::new()),
            metadata: Vec::new(),
            data: vec![7; 5000],
        });
    }

    #[test]
    fn encodes_the_documented_layout() {
        let record = MessageRecord {
            content_type: Some("a/b".into()),
            metadata: pairs(&[("k", "vv")]),
            data: b"xyz".to_vec(),
        };
        assert_eq!(
            record.encode().expect("encode"),
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
        let plain = MessageRecord {
            data: b"v".to_vec(),
            ..MessageRecord::default()
        };
        assert_eq!(
            plain.encode().expect("encode"),
            [FORMAT_V1, 0, 0, 0, 0, 0, b'v']
        );
    }

    #[test]
    fn says_where_a_corrupt_record_goes_wrong() {
        use MessageError as E;
        let cases: &[(&[u8], MessageError)] = &[
            (b"", E::Empty),
            (&[0, 0], E::UnknownFormat(0)),
            (&[2, 0], E::UnknownFormat(2)),
            (&[FORMAT_V1], E::Truncated(field::FLAGS)),
            (&[FORMAT_V1, 0b10], E::UnknownFlags(0b10)),
            (
                &[FORMAT_V1, 0, 1, 0],
                E::TruncatedLength(field::METADATA_COUNT),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0],
                E::TruncatedLength(field::CONTENT_TYPE),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 0xff, 0xff, 0xff, 0xff, b'a'],
                E::Truncated(field::CONTENT_TYPE),
            ),
            (
                &[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0, 0, 0, 0xff, 0, 0, 0, 0],
                E::NotUtf8(field::CONTENT_TYPE),
            ),
            (
                &[FORMAT_V1, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4],
                E::Truncated(field::METADATA),
            ),
            (
                &[FORMAT_V1, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0],
                E::Truncated(field::METADATA_KEY),
            ),
            (
                &[FORMAT_V1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xc3],
                E::NotUtf8(field::METADATA_VALUE),
            ),
            (
                &[FORMAT_V1, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'k', 0, 0, 0],
                E::TruncatedLength(field::METADATA_VALUE),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                MessageRecord::decode(bytes.to_vec()).as_ref(),
                Err(want),
                "input {bytes:?}"
            );
        }
    }

    #[test]
    fn decode_never_panics_on_prefixes_or_bit_flips() {
        let record = MessageRecord {
            content_type: Some("text/plain".into()),
            metadata: pairs(&[("key", "value"), ("k2", "v2")]),
            data: b"data".to_vec(),
        };
        let full = record.encode().expect("encode");
        let header = full.len() - record.data.len();
        for len in 0..full.len() {
            let result = MessageRecord::decode(full[..len].to_vec());
            assert_eq!(result.is_ok(), len >= header, "prefix of {len} bytes");
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut bytes = full.clone();
                bytes[i] ^= 1 << bit;
                let _ = MessageRecord::decode(bytes);
            }
        }
    }
}
