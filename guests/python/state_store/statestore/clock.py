"""Wall-clock access and RFC 3339 formatting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

#: The latest instant stored or formatted as an expiry: 9999-12-31T23:59:59.999Z, the end of
#: the four-digit years RFC 3339 allows.
MAX_UNIX_MS = 253_402_300_799_999

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_unix_ms() -> int:
    """The current wall-clock time in unix milliseconds (in the component:
    ``wasi:clocks/wall-clock``); 0 if the clock reads before 1970."""
    return max(0, time.time_ns() // 1_000_000)


def format_rfc3339_ms(unix_ms: int) -> str:
    """``2026-11-27T14:33:12Z``, or ``2026-11-27T14:33:12.050Z`` when the instant has a
    sub-second part. Instants are clamped to ``[0, MAX_UNIX_MS]``."""
    unix_ms = min(max(unix_ms, 0), MAX_UNIX_MS)
    at = _EPOCH + timedelta(milliseconds=unix_ms)
    stamp = (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}"
    )
    millis = unix_ms % 1000
    return f"{stamp}.{millis:03d}Z" if millis else f"{stamp}Z"
