import unittest

from statestore import EtagMismatch, InvalidArgument
from statestore.clock import MAX_UNIX_MS
from statestore.options import (
    CONTENT_TYPE,
    TTL_IN_SECONDS,
    TTL_NEVER,
    Ttl,
    content_type,
    expiry_ms,
    format_etag,
    metadata_value,
    parse_etag,
    parse_ttl,
    requested_etag,
)


class MetadataTest(unittest.TestCase):
    def test_last_occurrence_wins(self) -> None:
        self.assertEqual(metadata_value([("a", "1"), ("b", "2"), ("a", "3")], "a"), "3")
        self.assertIsNone(metadata_value([("A", "1")], "a"))
        self.assertIsNone(metadata_value([], "a"))


class TtlTest(unittest.TestCase):
    def test_parsing(self) -> None:
        self.assertIsNone(parse_ttl([]))
        self.assertIsNone(parse_ttl([("other", "x")]))
        self.assertEqual(parse_ttl([(TTL_IN_SECONDS, "1")]), Ttl(1))
        self.assertEqual(parse_ttl([(TTL_IN_SECONDS, "3600")]), Ttl(3600))
        self.assertEqual(parse_ttl([(TTL_IN_SECONDS, "+5")]), Ttl(5))
        self.assertEqual(parse_ttl([(TTL_IN_SECONDS, "-1")]), TTL_NEVER)
        self.assertEqual(
            parse_ttl([(TTL_IN_SECONDS, "5"), (TTL_IN_SECONDS, "-1")]),
            TTL_NEVER,
            "the last occurrence wins",
        )

    def test_rejects_bad_values_naming_key_and_value(self) -> None:
        for bad in [
            "foo",
            "",
            " 5",
            "5 ",
            "1.5",
            "1_000",
            "٣",
            "0",
            "-0",
            "-2",
            "99999999999999999999",
        ]:
            with self.subTest(bad=bad):
                with self.assertRaises(InvalidArgument) as caught:
                    parse_ttl([(TTL_IN_SECONDS, bad)])
                self.assertIn(TTL_IN_SECONDS, caught.exception.message)
                self.assertIn(repr(bad), caught.exception.message)

    def test_expiry(self) -> None:
        self.assertIsNone(expiry_ms(1_000, None))
        self.assertIsNone(expiry_ms(1_000, TTL_NEVER))
        self.assertEqual(expiry_ms(1_000, Ttl(2)), 3_000)
        self.assertRaises(InvalidArgument, expiry_ms, 1_000, Ttl(2**63 - 1))
        self.assertRaises(InvalidArgument, expiry_ms, MAX_UNIX_MS, Ttl(1))


class EtagTest(unittest.TestCase):
    def test_round_trip(self) -> None:
        for version in [0, 1, 42, 2**64 - 1]:
            self.assertEqual(parse_etag(format_etag(version)), version)

    def test_anything_else_is_a_mismatch(self) -> None:
        for bad in [
            "",
            "bad-etag",
            "-1",
            "+1",
            "01",
            " 1",
            "1 ",
            "0x10",
            "1_0",
            "٣",
            "18446744073709551616",
        ]:
            with self.subTest(bad=bad):
                self.assertRaises(EtagMismatch, parse_etag, bad)

    def test_empty_etag_is_none(self) -> None:
        self.assertIsNone(requested_etag(""))
        self.assertIsNone(requested_etag(None))
        self.assertEqual(requested_etag("7"), "7")


class ContentTypeTest(unittest.TestCase):
    def test_the_field_wins_over_metadata(self) -> None:
        meta = [(CONTENT_TYPE, "text/plain")]
        self.assertEqual(content_type("application/json", meta), "application/json")
        self.assertEqual(content_type(None, meta), "text/plain")
        self.assertEqual(content_type("", meta), "text/plain")
        self.assertIsNone(content_type(None, [(CONTENT_TYPE, "")]))
        self.assertIsNone(content_type(None, []))


if __name__ == "__main__":
    unittest.main()
