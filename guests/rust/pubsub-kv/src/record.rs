//! The binary record stored under each message key in the host bucket.
//!
//! Layout (format 1), all integers little-endian `u32` unless noted:
//!
//! | bytes            | field                                                     |
//! |------------------|-----------------------------------------------------------|
//! | 1                | format, always [`FORMAT_V1`]                              |
//! | 1                | flags: [`FLAG_CONTENT_TYPE`]; other bits zero             |
//! | 4 + n (if flag)  | content type: length `n` then `n` bytes of UTF-8          |
//! | 4                | number of metadata pairs `c`                              |
//! | c × (4+k + 4+v)  | each pair: key length, key (UTF-8), value length, value   |
//! | rest             | the message data, verbatim                                |
//!
//! Decoding never panics: anything that does not follow the layout is a [`RecordError`].

use std::fmt;

/// The only record format written by this version of the component.
pub const FORMAT_V1: u8 = 1;
/// Flag bit: a length-prefixed content type follows the header.
pub const FLAG_CONTENT_TYPE: u8 = 0b0000_0001;
const KNOWN_FLAGS: u8 = FLAG_CONTENT_TYPE;

/// One published message as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The content type given at publish time.
    pub content_type: Option<String>,
    /// The metadata given at publish time, in order.
    pub metadata: Vec<(String, String)>,
    /// The message payload.
    pub data: Vec<u8>,
}

impl Record {
    /// The exact length of [`Record::encode`]'s output, or `None` if it overflows `usize`.
    pub fn encoded_len(&self) -> Option<usize> {
        let mut len = 2usize.checked_add(4)?.checked_add(self.data.len())?;
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
    /// If a string or the pair count does not fit its `u32` length prefix.
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let len = self.encoded_len().ok_or(RecordError::TooLong("record"))?;
        let mut out = Vec::with_capacity(len);
        out.push(FORMAT_V1);
        out.push(if self.content_type.is_some() {
            FLAG_CONTENT_TYPE
        } else {
            0
        });
        if let Some(ct) = &self.content_type {
            put_bytes(&mut out, ct.as_bytes(), "content type")?;
        }
        put_u32(&mut out, self.metadata.len(), "metadata")?;
        for (k, v) in &self.metadata {
            put_bytes(&mut out, k.as_bytes(), "metadata key")?;
            put_bytes(&mut out, v.as_bytes(), "metadata value")?;
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Parse a stored record, reusing `bytes` for the data.
    pub fn decode(mut bytes: Vec<u8>) -> Result<Record, RecordError> {
        let mut reader = Reader {
            bytes: &bytes,
            pos: 0,
        };
        let format = reader.u8().ok_or(RecordError::Empty)?;
        if format != FORMAT_V1 {
            return Err(RecordError::UnknownFormat(format));
        }
        let flags = reader.u8().ok_or(RecordError::Truncated("flags"))?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(RecordError::UnknownFlags(flags));
        }
        let content_type = if flags & FLAG_CONTENT_TYPE != 0 {
            Some(reader.string("content type")?)
        } else {
            None
        };
        let count = reader.u32("metadata count")?;
        // Every pair takes at least 8 bytes, so a count the remaining bytes cannot hold is
        // corrupt; checking it first also bounds the allocation below.
        if count > reader.remaining() / 8 {
            return Err(RecordError::Truncated("metadata"));
        }
        let mut metadata = Vec::with_capacity(count);
        for _ in 0..count {
            let key = reader.string("metadata key")?;
            let value = reader.string("metadata value")?;
            metadata.push((key, value));
        }
        let header_len = reader.pos;
        bytes.drain(..header_len);
        Ok(Record {
            content_type,
            metadata,
            data: bytes,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize, field: &'static str) -> Result<(), RecordError> {
    let n = u32::try_from(n).map_err(|_| RecordError::TooLong(field))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8], field: &'static str) -> Result<(), RecordError> {
    put_u32(out, bytes.len(), field)?;
    out.extend_from_slice(bytes);
    Ok(())
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

/// A bounds-checked cursor over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u32(&mut self, field: &'static str) -> Result<usize, RecordError> {
        let raw: [u8; 4] = self
            .take(4)
            .and_then(|b| b.try_into().ok())
            .ok_or(RecordError::Truncated(field))?;
        usize::try_from(u32::from_le_bytes(raw)).map_err(|_| RecordError::Truncated(field))
    }

    fn string(&mut self, field: &'static str) -> Result<String, RecordError> {
        let len = self.u32(field)?;
        let raw = self.take(len).ok_or(RecordError::Truncated(field))?;
        let s = std::str::from_utf8(raw).map_err(|_| RecordError::NotUtf8(field))?;
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: Record) {
        let bytes = record.encode().expect("encode");
        assert_eq!(Some(bytes.len()), record.encoded_len());
        assert_eq!(Record::decode(bytes).expect("decode"), record);
    }

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
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
        let plain = Record {
            data: b"v".to_vec(),
            ..Record::default()
        };
        assert_eq!(
            plain.encode().expect("encode"),
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
                Record::decode(bytes.to_vec()).as_ref(),
                Err(want),
                "input {bytes:?}"
            );
        }
    }

    #[test]
    fn decode_never_panics_on_prefixes_or_bit_flips() {
        let full = Record {
            content_type: Some("text/plain".into()),
            metadata: md(&[("key", "value"), ("k2", "v2")]),
            data: b"data".to_vec(),
        }
        .encode()
        .expect("encode");
        let header = full.len() - 4;
        for len in 0..full.len() {
            let result = Record::decode(full[..len].to_vec());
            assert_eq!(result.is_ok(), len >= header, "prefix of {len} bytes");
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut bytes = full.clone();
                bytes[i] ^= 1 << bit;
                let _ = Record::decode(bytes);
            }
        }
    }
}
