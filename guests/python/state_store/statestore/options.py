"""Interpretation of request fields and metadata: etags, ``ttlInSeconds``, content types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .clock import MAX_UNIX_MS
from .errors import EtagMismatch, InvalidArgument

Metadata = Sequence[tuple[str, str]]

#: Request metadata key that sets or clears a TTL.
TTL_IN_SECONDS = "ttlInSeconds"
#: Item metadata key carrying the expiry of a value with a TTL (RFC 3339).
TTL_EXPIRE_TIME = "ttlExpireTime"
#: Request metadata key that may carry a content type.
CONTENT_TYPE = "contentType"

_U64_MAX = 2**64 - 1
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
# ASCII only: str.isdigit() and int() would also accept other scripts' digits, '_' and spaces.
_CANONICAL_ETAG = re.compile(r"0|[1-9][0-9]*")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def metadata_value(metadata: Metadata, key: str) -> str | None:
    """The value of ``key``. Dapr metadata is a map, so a repeated key is not expected; if it
    happens the last occurrence wins, as it would when building a map."""
    for name, value in reversed(metadata):
        if name == key:
            return value
    return None


# --- etags ---------------------------------------------------------------------------------


def format_etag(version: int) -> str:
    """A host version as an etag: its decimal form."""
    return str(version)


def requested_etag(etag: str | None) -> str | None:
    """The etag of a request; an empty etag counts as none (daprd sends an empty ``Etag``
    message as ``""``)."""
    return etag or None


def parse_etag(etag: str) -> int:
    """The version an etag made by ``format_etag`` stands for.

    Only the canonical decimal form of a u64 is accepted (no sign, leading zero or
    whitespace). Anything else can never match a stored value, so it is ``EtagMismatch``:
    daprd and its conformance suite expect a wrong etag to be a mismatch (HTTP 409),
    whatever it looks like.
    """
    if _CANONICAL_ETAG.fullmatch(etag):
        version = int(etag)
        if version <= _U64_MAX:
            return version
    raise EtagMismatch(f"etag {etag!r} does not match: this store's etags are decimal versions")


# --- TTL -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ttl:
    """What a request's ``ttlInSeconds`` asks for: ``seconds`` from now, or ``None`` for
    never (``-1``, which clears an earlier TTL)."""

    seconds: int | None

    def expiry_ms(self, now_ms: int) -> int | None:
        """The expiry of a value written at ``now_ms``; ``None`` = never. An expiry past
        year 9999 is ``InvalidArgument``."""
        if self.seconds is None:
            return None
        at = now_ms + self.seconds * 1000
        if at > MAX_UNIX_MS:
            raise InvalidArgument(
                f'metadata {TTL_IN_SECONDS}="{self.seconds}" is too large: '
                "the expiry would be after year 9999"
            )
        return at


#: ``ttlInSeconds=-1``: the value never expires.
TTL_NEVER = Ttl(None)


def parse_ttl(metadata: Metadata) -> Ttl | None:
    """``ttlInSeconds`` from request metadata; ``None`` if absent.

    Accepts a positive integer (of at most 64 bits) or ``-1``; ``0``, other negative numbers
    and anything else are ``InvalidArgument`` errors naming the key and the value.
    """
    raw = metadata_value(metadata, TTL_IN_SECONDS)
    if raw is None:
        return None
    seconds = int(raw) if _INTEGER.fullmatch(raw) else None
    if seconds is None or not _I64_MIN <= seconds <= _I64_MAX:
        raise InvalidArgument(
            f"metadata {TTL_IN_SECONDS}={raw!r} is not an integer number of seconds"
        )
    if seconds == -1:
        return TTL_NEVER
    if seconds > 0:
        return Ttl(seconds)
    raise InvalidArgument(
        f"metadata {TTL_IN_SECONDS}={raw!r} is invalid: "
        "use a positive number of seconds, or -1 for no TTL"
    )


def expiry_ms(now_ms: int, ttl: Ttl | None) -> int | None:
    """The expiry a (possibly absent) TTL gives a value written at ``now_ms``."""
    return None if ttl is None else ttl.expiry_ms(now_ms)


# --- content type --------------------------------------------------------------------------


def content_type(field: str | None, metadata: Metadata) -> str | None:
    """The content type of a set: the request field if set, else metadata ``contentType``.
    Empty strings count as absent."""
    return field or metadata_value(metadata, CONTENT_TYPE) or None
