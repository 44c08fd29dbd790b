//! The binary record stored under each message key in the host bucket: the support crate's
//! [`Record`] (`wasmplug_guest::message`), with this binding's error wording.
//!
//! Layout (format 1), integers little-endian `u32`:
//!
//! | bytes            | field                                                   |
//! |------------------|---------------------------------------------------------|
//! | 1                | format, always 1                                        |
//! | 1                | flags: 1 = content type present; other bits zero        |
//! | 4 + n (if flag)  | content type: length `n`, then `n` bytes of UTF-8       |
//! | 4                | number of metadata pairs `c`                            |
//! | c × (4+k + 4+v)  | each pair: key length, key, value length, value (UTF-8) |
//! | rest             | the message data, verbatim                              |
//!
//! Decoding never panics: anything that does not follow the layout is an error.

use wasmplug_guest::message::MessageError;
pub use wasmplug_guest::message::MessageRecord as Record;

/// Serialise `record`; `None` if a length does not fit its `u32` prefix.
pub fn encode(record: &Record) -> Option<Vec<u8>> {
    record.encode().ok()
}

/// Parse a stored record, reusing `bytes` for the data; the error says what is wrong.
pub fn decode(bytes: Vec<u8>) -> Result<Record, String> {
    Record::decode(bytes).map_err(describe)
}

/// This binding's wording of a decoding error.
fn describe(err: MessageError) -> String {
    match err {
        MessageError::Empty => "empty record".to_owned(),
        MessageError::UnknownFormat(v) => format!("unknown record format {v}"),
        MessageError::UnknownFlags(v) => format!("unknown flags {v:#04x}"),
        MessageError::Truncated(field) => format!("truncated {field}"),
        MessageError::TruncatedLength(field) => format!("truncated {field} length"),
        MessageError::LengthOverflow(field) | MessageError::TooLong(field) => {
            format!("{field} too long")
        }
        MessageError::NotUtf8(field) => format!("{field} is not UTF-8"),
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
            let bytes = encode(&record).unwrap();
            assert_eq!(Some(bytes.len()), record.encoded_len());
            assert_eq!(decode(bytes).unwrap(), record);
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
            encode(&record).unwrap(),
            [
                1, 1, 2, 0, 0, 0, b'c', b't', 1, 0, 0, 0, 1, 0, 0, 0, b'k', 2, 0, 0, 0, b'v', b'v',
                b'D'
            ]
        );
    }

    #[test]
    fn errors_keep_this_bindings_wording() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty record"),
            (&[2, 0], "unknown record format 2"),
            (&[1], "truncated flags"),
            (&[1, 6], "unknown flags 0x06"),
            (&[1, 1, 1, 0], "truncated content type length"),
            (&[1, 1, 2, 0, 0, 0, b'a'], "truncated content type"),
            (&[1, 1, 1, 0, 0, 0, 0xff], "content type is not UTF-8"),
            (&[1, 0, 1, 0], "truncated metadata count length"),
            (&[1, 0, 1, 0, 0, 0, 0, 0, 0], "truncated metadata"),
            (
                &[1, 0, 1, 0, 0, 0, 5, 0, 0, 0, b'k', 0, 0, 0],
                "truncated metadata key",
            ),
            (
                &[1, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'k', 0, 0, 0],
                "truncated metadata value length",
            ),
            (
                &[1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xc3],
                "metadata value is not UTF-8",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(bytes.to_vec()), Err((*want).to_owned()), "{bytes:?}");
        }
    }

    #[test]
    fn rejects_corrupt_records_without_panicking() {
        assert!(decode(Vec::new()).is_err());
        assert!(decode(vec![2, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(vec![1, 2, 0, 0, 0, 0]).is_err());
        assert!(decode(vec![1, 0, 255, 255, 255, 255]).is_err());
        assert!(decode(vec![1, 1, 1, 0, 0, 0, 0xff, 0, 0, 0, 0]).is_err());
        let record = sample();
        let bytes = encode(&record).unwrap();
        let header = bytes.len() - record.data.len();
        for len in 0..header {
            assert!(decode(bytes[..len].to_vec()).is_err(), "{len}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let _ = decode(flipped);
            }
        }
    }
}
