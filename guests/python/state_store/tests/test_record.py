import unittest

from statestore.record import FLAG_CONTENT_TYPE, FLAG_EXPIRY, FORMAT_V1, Record, RecordError


class RecordTest(unittest.TestCase):
    def test_round_trips_every_shape(self) -> None:
        for record in [
            Record(),
            Record(data=b'"hello"'),
            Record(expires_at_ms=1_795_000_000_123),
            Record(
                data=bytes([0, 1, 2, 255, 1, 3]),
                expires_at_ms=2**64 - 1,
                content_type="application/json",
            ),
            Record(data=b"\x07" * 1000, content_type=""),
            Record(content_type="tëxt/ünïcode"),
        ]:
            with self.subTest(record=record):
                self.assertEqual(Record.decode(record.encode()), record)

    def test_encodes_the_documented_layout(self) -> None:
        record = Record(data=b"xyz", expires_at_ms=0x0102_0304_0506_0708, content_type="a/b")
        self.assertEqual(
            record.encode(),
            bytes([FORMAT_V1, FLAG_EXPIRY | FLAG_CONTENT_TYPE])
            + bytes([8, 7, 6, 5, 4, 3, 2, 1])
            + bytes([3, 0, 0, 0])
            + b"a/b"
            + b"xyz",
        )
        self.assertEqual(Record(data=b"v").encode(), bytes([FORMAT_V1, 0]) + b"v")

    def test_rejects_corrupt_records(self) -> None:
        cases = [
            (b"", "empty"),
            (bytes([0, 0]), "unknown record format 0"),
            (bytes([2, 0]), "unknown record format 2"),
            (bytes([FORMAT_V1]), "flags"),
            (bytes([FORMAT_V1, 0b100]), "unknown record flags"),
            (bytes([FORMAT_V1, 0x80, 1]), "unknown record flags"),
            (bytes([FORMAT_V1, FLAG_EXPIRY, 1, 2, 3]), "expiry"),
            (bytes([FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0]), "content type length"),
            (
                bytes([FORMAT_V1, FLAG_CONTENT_TYPE, 5, 0, 0, 0]) + b"a",
                "truncated in the content type",
            ),
            (
                bytes([FORMAT_V1, FLAG_CONTENT_TYPE, 0xFF, 0xFF, 0xFF, 0xFF]) + b"a",
                "truncated in the content type",
            ),
            (bytes([FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0, 0, 0, 0xFF]), "not UTF-8"),
        ]
        for raw, message in cases:
            with self.subTest(raw=raw):
                with self.assertRaises(RecordError) as caught:
                    Record.decode(raw)
                self.assertIn(message, str(caught.exception))

    def test_decoding_prefixes_of_a_valid_record_never_crashes(self) -> None:
        full = Record(data=b"data", expires_at_ms=42, content_type="text/plain").encode()
        header = 2 + 8 + 4 + len("text/plain")
        for length in range(len(full)):
            with self.subTest(length=length):
                if length >= header:
                    Record.decode(full[:length])
                else:
                    self.assertRaises(RecordError, Record.decode, full[:length])

    def test_expiry_is_inclusive(self) -> None:
        record = Record(expires_at_ms=1000)
        self.assertFalse(record.is_expired(999))
        self.assertTrue(record.is_expired(1000))
        self.assertTrue(record.is_expired(1001))
        self.assertFalse(Record().is_expired(2**64 - 1))

    def test_reads_records_written_by_the_rust_guest(self) -> None:
        # Bytes as guests/rust/state-store writes them: both guests share one format.
        raw = bytes([1, 3]) + (1_795_789_994_000).to_bytes(8, "little") + bytes([10, 0, 0, 0])
        raw += b"text/plain" + b"hello"
        self.assertEqual(
            Record.decode(raw),
            Record(data=b"hello", expires_at_ms=1_795_789_994_000, content_type="text/plain"),
        )


if __name__ == "__main__":
    unittest.main()
