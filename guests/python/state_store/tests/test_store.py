"""Store semantics against an in-memory fake of the host's versioned bucket."""

import unittest

from statestore import (
    DeleteOp,
    EtagMismatch,
    InvalidArgument,
    Item,
    Other,
    Record,
    SetOp,
    Store,
)

from .fake_backend import FakeBackend

NOW = 1_795_789_992_000  # 2026-11-27T14:33:12Z


class StoreTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.backend = FakeBackend()
        self.now = NOW
        self.store = Store(self.backend, clock=lambda: self.now)

    def get_at(self, key: str, now: int) -> Item | None:
        self.now, saved = now, self.now
        try:
            return self.store.get(key)
        finally:
            self.now = saved

    def live(self, key: str, now: int | None = None) -> Item:
        """The item under ``key``, which must be live (at ``now``, default the test's)."""
        item = self.store.get(key) if now is None else self.get_at(key, now)
        if item is None:
            self.fail(f"{key!r} is missing")
        return item

    def data(self, key: str) -> bytes | None:
        item = self.store.get(key)
        return None if item is None else item.data

    def etag(self, key: str) -> str:
        return self.live(key).etag


class SetGetDeleteTest(StoreTestCase):
    def test_round_trip_with_changing_etags(self) -> None:
        self.assertIsNone(self.store.get("k"))
        self.store.set(SetOp("k", b'"v1"'))
        item = self.live("k")
        self.assertEqual(item, Item(b'"v1"', item.etag, [], None))
        self.assertTrue(item.etag)

        self.store.set(SetOp("k", b"v2"))
        self.assertNotEqual(self.etag("k"), item.etag)
        self.store.set(SetOp("k", b""))
        self.assertEqual(self.data("k"), b"")

    def test_etag_checks(self) -> None:
        self.store.set(SetOp("k", b"v1"))
        good = self.etag("k")
        for op in [
            SetOp("k", b"x", etag="bad-etag"),
            SetOp("k", b"x", etag="999999"),
            SetOp("missing", b"x", etag=good),
        ]:
            with self.subTest(op=op):
                self.assertRaises(EtagMismatch, self.store.set, op)
        self.assertEqual(self.data("k"), b"v1")
        self.assertNotIn("missing", self.backend)

        self.store.set(SetOp("k", b"v2", etag=good))
        self.assertEqual(self.data("k"), b"v2")
        self.assertRaises(EtagMismatch, self.store.set, SetOp("k", b"v3", etag=good))
        self.assertRaises(
            EtagMismatch, self.store.set, SetOp("k", b"v3", etag=good, first_write=True)
        )
        fresh = self.etag("k")
        self.store.set(SetOp("k", b"v3", etag=fresh, first_write=True))
        self.assertEqual(self.data("k"), b"v3")

    def test_first_write_is_create_only(self) -> None:
        for etag in [None, ""]:
            with self.subTest(etag=etag):
                self.store.delete(DeleteOp("k"))
                self.store.set(SetOp("k", b"v1", etag=etag, first_write=True))
                self.assertRaises(
                    EtagMismatch, self.store.set, SetOp("k", b"v2", etag=etag, first_write=True)
                )
                self.assertEqual(self.data("k"), b"v1")
        self.store.set(SetOp("k", b"v3"))
        self.store.set(SetOp("k", b"v4", etag=""))
        self.assertEqual(self.data("k"), b"v4")

    def test_delete(self) -> None:
        self.store.delete(DeleteOp("missing"))
        self.store.delete(DeleteOp("missing", etag=""))
        self.assertRaises(EtagMismatch, self.store.delete, DeleteOp("missing", etag="5"))

        self.store.set(SetOp("k", b"v"))
        good = self.etag("k")
        self.assertRaises(EtagMismatch, self.store.delete, DeleteOp("k", etag="bad-etag"))
        self.assertRaises(EtagMismatch, self.store.delete, DeleteOp("k", etag="123456"))
        self.assertIn("k", self.backend)
        self.store.delete(DeleteOp("k", etag=good))
        self.assertIsNone(self.store.get("k"))

        self.store.set(SetOp("k", b"v"))
        self.store.delete(DeleteOp("k"))
        self.assertNotIn("k", self.backend)

    def test_content_type_from_the_field_or_metadata(self) -> None:
        self.store.set(
            SetOp(
                "a",
                b"{}",
                metadata=[("contentType", "text/plain")],
                content_type="application/json",
            )
        )
        self.store.set(SetOp("b", b"x", metadata=[("contentType", "text/plain")]))
        self.assertEqual(self.live("a").content_type, "application/json")
        self.assertEqual(self.live("b").content_type, "text/plain")

    def test_empty_keys_are_invalid(self) -> None:
        self.assertRaises(InvalidArgument, self.store.get, "")
        self.assertRaises(InvalidArgument, self.store.set, SetOp("", b"v"))
        self.assertRaises(InvalidArgument, self.store.delete, DeleteOp(""))

    def test_corrupt_records_are_errors_not_crashes(self) -> None:
        version = self.backend.put_raw("k", bytes([9, 9, 9]))
        self.assertRaises(Other, self.store.get, "k")
        self.assertRaises(Other, self.store.set, SetOp("k", b"x", etag=str(version)))
        self.store.set(SetOp("k", b"repaired"))
        self.assertEqual(self.data("k"), b"repaired")

    def test_a_concurrent_write_between_check_and_commit_is_a_mismatch(self) -> None:
        self.store.set(SetOp("k", b"mine"))
        good = self.etag("k")
        self.backend.before_commit = lambda b: b.put_raw("k", Record(b"theirs").encode())
        self.assertRaises(EtagMismatch, self.store.set, SetOp("k", b"lost", etag=good))
        self.assertEqual(self.data("k"), b"theirs")

        self.backend.before_commit = lambda b: b.put_raw("new", Record().encode())
        self.assertRaises(EtagMismatch, self.store.set, SetOp("new", b"mine", first_write=True))


class TtlTest(StoreTestCase):
    def test_sets_reports_and_expires(self) -> None:
        self.store.set(SetOp("k", b"v", metadata=[("ttlInSeconds", "2")]))
        item = self.live("k", NOW + 1_999)
        self.assertEqual(item.metadata, [("ttlExpireTime", "2026-11-27T14:33:14Z")])
        self.assertIsNone(self.get_at("k", NOW + 2_000))
        self.assertNotIn("k", self.backend, "an expired entry is purged on read")

    def test_cleared_by_minus_one_or_a_plain_set(self) -> None:
        self.store.set(SetOp("k", b"v", metadata=[("ttlInSeconds", "60")]))
        self.store.set(SetOp("k", b"v", metadata=[("ttlInSeconds", "-1")]))
        self.assertEqual(self.live("k", NOW + 3_600_000).metadata, [])

        self.store.set(SetOp("k", b"v", metadata=[("ttlInSeconds", "60")]))
        self.store.set(SetOp("k", b"v"))
        self.assertIsNotNone(self.get_at("k", NOW + 3_600_000))

    def test_bad_values_are_rejected_before_any_commit(self) -> None:
        for bad in ["foo", "0", "-5", "2.5", "9223372036854775807"]:
            with self.subTest(bad=bad):
                self.assertRaises(
                    InvalidArgument,
                    self.store.set,
                    SetOp("k", b"v", metadata=[("ttlInSeconds", bad)]),
                )
        self.assertNotIn("k", self.backend)
        self.assertEqual(self.backend.commits, 0)

    def test_expired_entries_behave_as_missing(self) -> None:
        expired = Record(b"old", expires_at_ms=NOW - 1).encode()
        version = self.backend.put_raw("k", expired)
        self.assertIsNone(self.store.get("k"))
        self.backend.put_raw("k", expired)  # get purged it; put it back
        self.assertRaises(EtagMismatch, self.store.set, SetOp("k", b"x", etag=str(version)))
        self.assertRaises(EtagMismatch, self.store.delete, DeleteOp("k", etag=str(version)))
        self.store.set(SetOp("k", b"new", first_write=True))
        self.assertEqual(self.data("k"), b"new")


class BulkTest(StoreTestCase):
    def test_bulk_get_answers_in_request_order(self) -> None:
        self.store.set(SetOp("a", b"1"))
        self.store.set(SetOp("c", b"3"))
        self.backend.put_raw("bad", b"")
        answers = self.store.bulk_get(["c", "missing", "a", "bad", "", "a"])
        summary = [
            (a.key, None if a.item is None else a.item.data, a.error is not None) for a in answers
        ]
        self.assertEqual(
            summary,
            [
                ("c", b"3", False),
                ("missing", None, False),
                ("a", b"1", False),
                ("bad", None, True),
                ("", None, True),
                ("a", b"1", False),
            ],
        )
        first = answers[0].item
        self.assertTrue(first is not None and first.etag)

    def test_bulk_get_hides_and_purges_expired_keys(self) -> None:
        self.store.set(SetOp("t", b"v", metadata=[("ttlInSeconds", "1")]))
        self.now = NOW + 1_000
        [answer] = self.store.bulk_get(["t"])
        self.assertIsNone(answer.item)
        self.assertIsNone(answer.error)
        self.assertNotIn("t", self.backend)

    def test_bulk_set_is_all_or_nothing(self) -> None:
        self.store.set(SetOp("a", b"1"))
        self.store.set(SetOp("b", b"1"))
        etag_b = self.etag("b")
        commits = self.backend.commits

        self.assertRaises(
            EtagMismatch,
            self.store.apply,
            [SetOp("b", b"2", etag=etag_b), SetOp("a", b"2", etag="424242")],
        )
        self.assertEqual(self.backend.commits, commits, "nothing is sent when a check fails")
        self.assertEqual(self.data("b"), b"1")

        # The first failing operation decides the error.
        self.assertRaises(
            InvalidArgument,
            self.store.apply,
            [
                SetOp("a", b"2", metadata=[("ttlInSeconds", "nope")]),
                SetOp("b", b"2", etag="424242"),
            ],
        )

        self.store.apply([SetOp("a", b"3"), SetOp("new", b"3")])
        self.assertEqual(self.backend.commits, commits + 1, "one commit for the whole batch")
        self.assertEqual(self.data("new"), b"3")

    def test_bulk_delete_is_all_or_nothing(self) -> None:
        self.store.set(SetOp("a", b"1"))
        self.store.set(SetOp("b", b"1"))
        etag_a, etag_b = self.etag("a"), self.etag("b")
        self.assertRaises(
            EtagMismatch,
            self.store.apply,
            [DeleteOp("a", etag=etag_a), DeleteOp("b", etag="424242")],
        )
        self.assertIn("a", self.backend)
        self.assertIn("b", self.backend)
        self.store.apply(
            [DeleteOp("a", etag=etag_a), DeleteOp("b", etag=etag_b), DeleteOp("never-existed")]
        )
        self.assertNotIn("a", self.backend)
        self.assertNotIn("b", self.backend)


class TransactionTest(StoreTestCase):
    def test_operations_apply_in_order_in_one_commit(self) -> None:
        self.store.set(SetOp("k1", b"v1"))
        commits = self.backend.commits
        self.store.apply(
            [DeleteOp("k1"), SetOp("k2", b"v2"), DeleteOp("k2"), SetOp("k3", b"v3")],
            [("partitionKey", "p")],
        )
        self.assertEqual(self.backend.commits, commits + 1)
        self.assertIsNone(self.data("k1"))
        self.assertIsNone(self.data("k2"))
        self.assertEqual(self.data("k3"), b"v3")

    def test_checks_see_earlier_operations(self) -> None:
        # create-only twice in one transaction: the second sees the first.
        self.assertRaises(
            EtagMismatch,
            self.store.apply,
            [SetOp("k", b"a", first_write=True), SetOp("k", b"b", first_write=True)],
        )
        self.assertNotIn("k", self.backend)

        self.store.set(SetOp("k", b"v1"))
        old = self.etag("k")
        # delete then create-only: allowed.
        self.store.apply([DeleteOp("k", etag=old), SetOp("k", b"v2", first_write=True)])
        self.assertEqual(self.data("k"), b"v2")

        # A set in the transaction changes the etag: the old one no longer matches.
        current = self.etag("k")
        self.assertRaises(
            EtagMismatch,
            self.store.apply,
            [SetOp("k", b"v3", etag=current), SetOp("k", b"v4", etag=current)],
        )
        # Deleted earlier in the transaction: an etag no longer matches, a plain delete does.
        self.assertRaises(
            EtagMismatch, self.store.apply, [DeleteOp("k"), DeleteOp("k", etag=current)]
        )
        self.store.apply([DeleteOp("k"), DeleteOp("k")])
        self.assertNotIn("k", self.backend)
        commits = self.backend.commits
        self.store.apply([])
        self.assertEqual(self.backend.commits, commits, "an empty transaction commits nothing")

    def test_request_ttl_is_validated_and_a_default(self) -> None:
        ops = [SetOp("a", b"1"), SetOp("b", b"1", metadata=[("ttlInSeconds", "-1")])]
        self.assertRaises(InvalidArgument, self.store.apply, ops, [("ttlInSeconds", "x")])
        self.store.apply(ops, [("ttlInSeconds", "10")])
        self.assertIsNone(self.get_at("a", NOW + 10_000), "the request-wide TTL applies")
        self.assertIsNotNone(self.get_at("b", NOW + 10_000), "the operation's own TTL wins")


if __name__ == "__main__":
    unittest.main()
