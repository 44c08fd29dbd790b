//! The binary record stored under each message key in the host bucket.
//!
//! Layout (format 1), integers little-endian `u32`:
//!
//! | bytes            | field                                                   |
//! |------------------|---------------------------------------------------------|
//! | 1                | format, always [`FORMAT`]                               |
//! | 1                | flags: [`FLAG_CONTENT_TYPE`]; other bits zero           |
//! | 4 + n (if flag)  | content type: length `n`, then `n` bytes of UTF-8       |
//! | 4                | number of metadata pairs `c`                            |
//! | c × (4+k + 4+v)  | each pair: key length, key, value length, value (UTF-8) |
//! | rest             | the message data, verbatim                              |
//!
//! Decoding never panics: anything that does not follow the layout is an error.

/// The only record format this version writes and reads.
pub const FORMAT: u8 = 1;
/// Flag bit: a length-prefixed content type follows the header.
pub const FLAG_CONTENT_TYPE: u8 = 1;

/// One sent message as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The content type taken from the request's `contentType` metadata.
    pub content_type: Option<String>,
    /// The request metadata, in order.
    pub metadata: Vec<(String, String)>,
    /// The payload.
    pub data: Vec<u8>,
}

impl Record {
    /// The exact length of [`Record::encode`]'s output; `None` if it overflows `usize`.
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

    /// Serialise the record; `None` if a length does not fit its `u32` prefix.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.encoded_len()?);
        out.push(FORMAT);
        match &self.content_type {
            Some(ct) => {
                out.push(FLAG_CONTENT_TYPE);
                put_bytes(&mut out, ct.as_bytes())?;
            }
            None => out.push(0),
        }
        put_len(&mut out, self.metadata.len())?;
        for (k, v) in &self.metadata {
            put_bytes(&mut out, k.as_bytes())?;
            put_bytes(&mut out, v.as_bytes())?;
        }
        out.extend_from_slice(&self.data);
        Some(out)
    }

    /// Parse a stored record, reusing `bytes` for the data; the error says what is wrong.
    pub fn decode(mut bytes: Vec<u8>) -> Result<Record, String> {
        let mut r = Reader {
            bytes: &bytes,
            pos: 0,
        };
        match r.take(1) {
            Some([FORMAT]) => {}
            Some([other]) => return Err(format!("unknown record format {other}")),
            _ => return Err("empty record".to_owned()),
        }
        let flags = r.take(1).ok_or("truncated flags")?[0];
        if flags & !FLAG_CONTENT_TYPE != 0 {
            return Err(format!("unknown flags {flags:#04x}"));
        }
        let content_type = if flags & FLAG_CONTENT_TYPE != 0 {
            Some(r.string("content type")?)
        } else {
            None
        };
        let count = r.len("metadata count")?;
        // Every pair takes at least 8 bytes: this bounds the allocation below.
        if count > r.remaining() / 8 {
            return Err("truncated metadata".to_owned());
        }
        let mut metadata = Vec::with_capacity(count);
        for _ in 0..count {
            let key = r.string("metadata key")?;
            let value = r.string("metadata value")?;
            metadata.push((key, value));
        }
        let header = r.pos;
        bytes.drain(..header);
        Ok(Record {
            content_type,
            metadata,
            data: bytes,
        })
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) -> Option<()> {
    out.extend_from_slice(&u32::try_from(n).ok()?.to_le_bytes());
    Some(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    put_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Some(())
}

/// A cursor over a record being decoded.
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
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn len(&mut self, field: &str) -> Result<usize, String> {
        let raw = self
            .take(4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .ok_or_else(|| format!("truncated {field} length"))?;
        usize::try_from(u32::from_le_bytes(raw)).map_err(|_| format!("{field} too long"))
    }

    fn string(&mut self, field: &str) -> Result<String, String> {
        let n = self.len(field)?;
        let bytes = self.take(n).ok_or_else(|| format!("truncated {field}"))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{field} is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            content_type: Some("text/plain".to_owned()),
            metadata: vec![
                ("a".to_owned(), "1".to_owned()),
                ("".to_owned(), "é".to_owned()),
            ],
            data: b"hello\0world".to_vec(),
        }
    }

    #[test]
    fn round_trips() {
        for record in [Record::default(), sample()] {
            let bytes = record.encode().unwrap();
            assert_eq!(Some(bytes.len()), record.encoded_len());
            assert_eq!(Record::decode(bytes).unwrap(), record);
        }
    }

    #[test]
    fn documented_layout() {
        let record = Record {
            content_type: Some("ct".to_owned()),
            metadata: vec![("k".to_owned(), "vv".to_owned())],
            data: b"D".to_vec(),
        };
        assert_eq!(
            record.encode().unwrap(),
            [
                1, 1, 2, 0, 0, 0, b'c', b't', 1, 0, 0, 0, 1, 0, 0, 0, b'k', 2, 0, 0, 0, b'v', b'v',
                b'D'
            ]
        );
    }

    #[test]
    fn rejects_corrupt_records_without_panicking() {
        assert!(Record::decode(Vec::new()).is_err());
        assert!(Record::decode(vec![2, 0, 0, 0, 0, 0]).is_err());
        assert!(Record::decode(vec![1, 2, 0, 0, 0, 0]).is_err());
        assert!(Record::decode(vec![1, 0, 255, 255, 255, 255]).is_err());
        assert!(Record::decode(vec![1, 1, 1, 0, 0, 0, 0xff, 0, 0, 0, 0]).is_err());
        let record = sample();
        let bytes = record.encode().unwrap();
        let header = bytes.len() - record.data.len();
        for len in 0..header {
            assert!(Record::decode(bytes[..len].to_vec()).is_err(), "{len}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let _ = Record::decode(flipped);
            }
        }
    }
}
