//! Little-endian building blocks of the binary records the guests store in host buckets.
//!
//! [`Reader`] is a cursor that never reads past its input: every read returns `None`
//! instead. The `put_*` writers append to a `Vec<u8>`; the length-prefixed ones fail
//! (`None`) when a length does not fit its `u32` prefix.

/// A bounds-checked cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// How many bytes have been read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes; `None` (and nothing consumed) if fewer are left.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// The next 4 bytes as a little-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// The next 8 bytes as a little-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Append `n` as a little-endian `u32`; `None` (nothing appended) if it does not fit.
pub fn put_len(out: &mut Vec<u8>, n: usize) -> Option<()> {
    let n = u32::try_from(n).ok()?;
    out.extend_from_slice(&n.to_le_bytes());
    Some(())
}

/// Append `bytes` with a `u32` length prefix; `None` (nothing appended) if too long.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    put_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Some(())
}

/// Append `value` as a little-endian `u64`.
pub fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_and_reader_round_trip() {
        let mut out = vec![7];
        put_u64(&mut out, 0x0102_0304_0506_0708);
        put_bytes(&mut out, b"abc").expect("fits");
        put_len(&mut out, 0xdead_beef).expect("fits");
        assert_eq!(
            out,
            [
                &[7][..],
                &[8, 7, 6, 5, 4, 3, 2, 1],
                &[3, 0, 0, 0],
                b"abc",
                &[0xef, 0xbe, 0xad, 0xde],
            ]
            .concat()
        );

        let mut r = Reader::new(&out);
        assert_eq!(r.u8(), Some(7));
        assert_eq!(r.u64(), Some(0x0102_0304_0506_0708));
        assert_eq!(r.u32(), Some(3));
        assert_eq!(r.take(3), Some(&b"abc"[..]));
        assert_eq!(r.position(), 16);
        assert_eq!(r.remaining(), 4);
        assert_eq!(r.array::<4>(), Some([0xef, 0xbe, 0xad, 0xde]));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.u8(), None);
        assert_eq!(r.take(0), Some(&[][..]));
    }

    #[test]
    fn reads_past_the_end_consume_nothing() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u32(), None);
        assert_eq!(r.u64(), None);
        assert_eq!(r.take(4), None);
        assert_eq!(r.take(usize::MAX), None);
        assert_eq!(r.position(), 0);
        assert_eq!(r.take(2), Some(&[1, 2][..]));
        assert_eq!(r.take(usize::MAX), None, "no overflow past the position");
        assert_eq!(r.u8(), Some(3));
        assert_eq!(r.u8(), None);
        assert_eq!(Reader::new(&[]).u8(), None);
    }

    #[test]
    fn lengths_must_fit_u32() {
        let mut out = Vec::new();
        assert_eq!(put_len(&mut out, u32::MAX as usize), Some(()));
        #[cfg(target_pointer_width = "64")]
        {
            let before = out.len();
            assert_eq!(put_len(&mut out, u32::MAX as usize + 1), None);
            assert_eq!(out.len(), before, "nothing appended");
        }
    }
}
