import unittest
from datetime import date, timedelta

from statestore.clock import MAX_UNIX_MS, format_rfc3339_ms, now_unix_ms


class ClockTest(unittest.TestCase):
    def test_formats_known_instants(self) -> None:
        for ms, want in [
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (94_694_399_000, "1972-12-31T23:59:59Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_234_567_890_123, "2009-02-13T23:31:30.123Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00Z"),
            (1_795_789_992_000, "2026-11-27T14:33:12Z"),
            (1_795_789_992_050, "2026-11-27T14:33:12.050Z"),
            (4_107_456_000_000, "2100-02-28T00:00:00Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00Z"),
            (MAX_UNIX_MS, "9999-12-31T23:59:59.999Z"),
        ]:
            with self.subTest(ms=ms):
                self.assertEqual(format_rfc3339_ms(ms), want)

    def test_clamps_out_of_range_instants(self) -> None:
        self.assertEqual(format_rfc3339_ms(2**64 - 1), "9999-12-31T23:59:59.999Z")
        self.assertEqual(format_rfc3339_ms(-5), "1970-01-01T00:00:00Z")

    def test_midnights_agree_with_the_calendar(self) -> None:
        day = date(1970, 1, 1)
        for days in range(0, 200_000, 37):
            with self.subTest(days=days):
                want = (day + timedelta(days=days)).isoformat() + "T00:00:00Z"
                self.assertEqual(format_rfc3339_ms(days * 86_400_000), want)

    def test_clock_reads_after_2020(self) -> None:
        self.assertGreater(now_unix_ms(), 1_577_836_800_000)


if __name__ == "__main__":
    unittest.main()
