"""The binary record stored under each state key in the host bucket.

The layout is the one the Rust state-store guest writes, so both read each other's data.
Format 1, all integers little-endian:

============  ===============================================================
bytes         field
============  ===============================================================
1             format, always ``FORMAT_V1``
1             flags: ``FLAG_EXPIRY``, ``FLAG_CONTENT_TYPE``; other bits zero
8 (if flag)   expiry, unix time in milliseconds (u64)
4 + n (flag)  content type: length n (u32) then n bytes of UTF-8
rest          the state value, verbatim
============  ===============================================================

Decoding never raises anything but ``RecordError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FORMAT_V1 = 1
FLAG_EXPIRY = 0b0000_0001
FLAG_CONTENT_TYPE = 0b0000_0010
_KNOWN_FLAGS = FLAG_EXPIRY | FLAG_CONTENT_TYPE

_U32_MAX = 2**32 - 1
_U64_MAX = 2**64 - 1
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class RecordError(ValueError):
    """Stored bytes that do not follow the layout (or, rarely, a record that cannot be
    encoded)."""


@dataclass(frozen=True)
class Record:
    """One stored state value with its metadata."""

    data: bytes = b""
    #: When the value expires, unix milliseconds; ``None`` = never.
    expires_at_ms: int | None = None
    #: The content type given when the value was written.
    content_type: str | None = None

    def is_expired(self, now_ms: int) -> bool:
        """Whether the value has expired at ``now_ms``; it expires at exactly its expiry."""
        return self.expires_at_ms is not None and self.expires_at_ms <= now_ms

    def encode(self) -> bytes:
        flags = 0
        parts = [b""]  # placeholder for the header
        if self.expires_at_ms is not None:
            if not 0 <= self.expires_at_ms <= _U64_MAX:
                raise RecordError(f"expiry {self.expires_at_ms} does not fit a u64")
            flags |= FLAG_EXPIRY
            parts.append(_U64.pack(self.expires_at_ms))
        if self.content_type is not None:
            raw = self.content_type.encode("utf-8")
            if len(raw) > _U32_MAX:
                raise RecordError("content type is too long")
            flags |= FLAG_CONTENT_TYPE
            parts.append(_U32.pack(len(raw)))
            parts.append(raw)
        parts[0] = bytes((FORMAT_V1, flags))
        parts.append(bytes(self.data))
        return b"".join(parts)

    @classmethod
    def decode(cls, raw: bytes) -> Record:
        if not raw:
            raise RecordError("record is empty")
        reader = _Reader(raw)
        fmt = reader.take(1, "format")[0]
        if fmt != FORMAT_V1:
            raise RecordError(f"unknown record format {fmt}")
        flags = reader.take(1, "flags")[0]
        if flags & ~_KNOWN_FLAGS:
            raise RecordError(f"unknown record flags {flags:#010b}")
        expires_at_ms = None
        if flags & FLAG_EXPIRY:
            (expires_at_ms,) = _U64.unpack(reader.take(8, "expiry"))
        content_type = None
        if flags & FLAG_CONTENT_TYPE:
            (length,) = _U32.unpack(reader.take(4, "content type length"))
            try:
                content_type = reader.take(length, "content type").decode("utf-8")
            except UnicodeDecodeError:
                raise RecordError("stored content type is not UTF-8") from None
        return cls(
            data=bytes(raw[reader.pos :]),
            expires_at_ms=expires_at_ms,
            content_type=content_type,
        )


class _Reader:
    """A bounds-checked cursor over bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.pos = 0

    def take(self, n: int, field: str) -> bytes:
        end = self.pos + n
        if end > len(self.raw):
            raise RecordError(f"record is truncated in the {field}")
        chunk = bytes(self.raw[self.pos : end])
        self.pos = end
        return chunk
