"""The state-store semantics over a versioned key-value backend.

Each state key is one key in the backend (the host bucket), holding an encoded ``Record``.
Etags are the backend's per-write versions in decimal.

Every write, from a single ``set`` to a whole ``transact``, goes through ``Store.apply``: the
operations are checked in order against the current state (the backend's, overlaid with the
writes planned earlier in the same call) and then sent as ONE atomic ``commit`` whose
preconditions restate exactly what was checked, so a concurrent writer makes the commit fail
instead of being silently overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import options
from .clock import format_rfc3339_ms, now_unix_ms
from .errors import BackendError, CommitConflict, EtagMismatch, InvalidArgument, Other
from .options import Metadata, Ttl
from .record import Record, RecordError

# --- the backend -------------------------------------------------------------------------


@dataclass(frozen=True)
class Versioned:
    """A stored value and the version the backend gave its last write."""

    value: bytes
    version: int


@dataclass(frozen=True)
class AnyVersion:
    """Precondition: none."""


@dataclass(frozen=True)
class Absent:
    """Precondition: the key must not exist."""


@dataclass(frozen=True)
class AtVersion:
    """Precondition: the key must exist with exactly this version."""

    version: int


Precondition = AnyVersion | Absent | AtVersion


@dataclass(frozen=True)
class Write:
    """One write of a commit; ``value=None`` deletes the key."""

    key: str
    precondition: Precondition
    value: bytes | None


class Backend(Protocol):
    """The host operations the store needs (``keyvalue-atomics``): implemented over the host
    bucket in ``app.py`` and by an in-memory fake in the tests."""

    def get_versioned(self, key: str) -> Versioned | None:
        """The value and version under ``key``, if any. Raises ``BackendError``."""
        ...

    def commit(self, writes: Sequence[Write]) -> list[int]:
        """Apply ``writes`` in order, all or nothing, each precondition checked against the
        state left by the writes before it. Returns the new versions (0 for deletes).
        Raises ``CommitConflict`` or ``BackendError``."""
        ...


# --- requests and answers ------------------------------------------------------------------


@dataclass(frozen=True)
class SetOp:
    """Write ``value`` under ``key``."""

    key: str
    value: bytes = b""
    etag: str | None = None
    metadata: Metadata = ()
    #: First-write concurrency: without an etag, create only.
    first_write: bool = False
    content_type: str | None = None


@dataclass(frozen=True)
class DeleteOp:
    """Delete ``key``."""

    key: str
    etag: str | None = None


Operation = SetOp | DeleteOp


@dataclass(frozen=True)
class Item:
    """A live stored value as ``get`` returns it."""

    data: bytes
    etag: str
    metadata: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None


@dataclass(frozen=True)
class BulkItem:
    """One answer of ``bulk_get``: ``item`` is ``None`` for a missing key; ``error`` reports
    a per-key failure."""

    key: str
    item: Item | None = None
    error: str | None = None


EMPTY_KEY = "the state key must not be empty"


# --- the store -----------------------------------------------------------------------------


class Store:
    """A Dapr state store over ``backend``; ``clock`` gives the time in unix milliseconds."""

    def __init__(self, backend: Backend, clock: Callable[[], int] = now_unix_ms) -> None:
        self._backend = backend
        self._clock = clock

    def get(self, key: str) -> Item | None:
        """The live value of ``key``, or ``None`` if it is missing or expired."""
        _check_key(key)
        now_ms = self._clock()
        try:
            stored = _read(self._backend, key)
        except (BackendError, RecordError) as err:
            raise Other(_describe_read_error(key, err)) from None
        if stored is None:
            return None
        if stored.record.is_expired(now_ms):
            self._purge_expired([(key, stored.version)])
            return None
        return stored.to_item()

    def bulk_get(self, keys: Iterable[str]) -> list[BulkItem]:
        """One answer per key, in order. A missing or expired key has neither item nor
        error; an empty key or a corrupt record is a per-key error; a host failure fails the
        whole call."""
        now_ms = self._clock()
        expired: list[tuple[str, int]] = []
        answers: list[BulkItem] = []
        for key in keys:
            if not key:
                answers.append(BulkItem(key, error=EMPTY_KEY))
                continue
            try:
                stored = _read(self._backend, key)
            except RecordError as err:
                answers.append(BulkItem(key, error=_describe_read_error(key, err)))
                continue
            except BackendError as err:
                raise Other(_describe_read_error(key, err)) from None
            if stored is None:
                answers.append(BulkItem(key))
            elif stored.record.is_expired(now_ms):
                expired.append((key, stored.version))
                answers.append(BulkItem(key))
            else:
                answers.append(BulkItem(key, item=stored.to_item()))
        self._purge_expired(expired)
        return answers

    def set(self, op: SetOp) -> None:
        self.apply([op])

    def delete(self, op: DeleteOp) -> None:
        self.apply([op])

    def apply(self, operations: Iterable[Operation], request_metadata: Metadata = ()) -> None:
        """Apply ``operations`` in order, all or nothing, in one backend commit.

        ``request_metadata`` is the request-wide metadata of a ``transact``: its
        ``ttlInSeconds``, if any, is validated and applies to every set without its own. The
        first operation that fails a check decides the error and nothing is written.
        """
        tx = _Transaction(self._backend, self._clock(), options.parse_ttl(request_metadata))
        for op in operations:
            if isinstance(op, SetOp):
                tx.set(op)
            else:
                tx.delete(op)
        tx.commit()

    # --- internals

    def _purge_expired(self, expired: list[tuple[str, int]]) -> None:
        """Best effort: delete expired entries unless they changed since they were read.
        Failure only means they linger (they still read as missing), so it is ignored."""
        if not expired:
            return
        writes = [Write(key, AtVersion(version), None) for key, version in expired]
        try:
            self._backend.commit(writes)
        except (BackendError, CommitConflict):
            pass


@dataclass(frozen=True)
class _Stored:
    version: int
    record: Record

    def to_item(self) -> Item:
        metadata = []
        if self.record.expires_at_ms is not None:
            metadata.append((options.TTL_EXPIRE_TIME, format_rfc3339_ms(self.record.expires_at_ms)))
        return Item(
            data=self.record.data,
            etag=options.format_etag(self.version),
            metadata=metadata,
            content_type=self.record.content_type,
        )


def _read(backend: Backend, key: str) -> _Stored | None:
    """The decoded entry under ``key``, expired or not. Raises ``BackendError`` or
    ``RecordError``."""
    entry = backend.get_versioned(key)
    if entry is None:
        return None
    return _Stored(entry.version, Record.decode(entry.value))


def _check_key(key: str) -> None:
    if not key:
        raise InvalidArgument(EMPTY_KEY)


def _describe_read_error(key: str, err: Exception) -> str:
    if isinstance(err, RecordError):
        return f"stored value of key {key!r} is corrupt: {err}"
    return f"host bucket read of key {key!r} failed: {err}"


# --- transactions --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Written:
    """Written earlier in this transaction; ``live`` if the last such write was a set. Its
    new version is unknown until commit, so no etag can match it."""

    live: bool


@dataclass(frozen=True)
class _OnHost:
    """Untouched so far in this transaction and present in the backend (maybe expired)."""

    version: int
    live: bool


class _Transaction:
    """The writes planned so far by ``Store.apply``."""

    def __init__(self, backend: Backend, now_ms: int, default_ttl: Ttl | None) -> None:
        self._backend = backend
        self._now_ms = now_ms
        self._default_ttl = default_ttl
        #: Keys written earlier in this transaction -> whether the latest write was a set.
        self._written: dict[str, bool] = {}
        self._writes: list[Write] = []

    def set(self, op: SetOp) -> None:
        _check_key(op.key)
        ttl = options.parse_ttl(op.metadata) or self._default_ttl
        record = Record(
            data=bytes(op.value),
            expires_at_ms=options.expiry_ms(self._now_ms, ttl),
            content_type=options.content_type(op.content_type, op.metadata),
        )
        precondition = self._precondition(op.key, op.etag, create_only=op.first_write)
        try:
            encoded = record.encode()
        except RecordError as err:
            raise InvalidArgument(f"key {op.key!r}: {err}") from None
        self._push(op.key, precondition, encoded)

    def delete(self, op: DeleteOp) -> None:
        _check_key(op.key)
        precondition = self._precondition(op.key, op.etag, create_only=False)
        self._push(op.key, precondition, None)

    def commit(self) -> None:
        if not self._writes:
            return
        try:
            self._backend.commit(self._writes)
        except CommitConflict as conflict:
            if 0 <= conflict.index < len(self._writes):
                key = self._writes[conflict.index].key
                message = f"key {key!r} was modified concurrently; nothing was written"
            else:
                message = "a key was modified concurrently; nothing was written"
            raise EtagMismatch(message) from None
        except BackendError as err:
            raise Other(
                f"host bucket commit of {len(self._writes)} write(s) failed: {err}"
            ) from None

    def _precondition(self, key: str, etag: str | None, create_only: bool) -> Precondition:
        """Check the etag / create-only rule for a write to ``key`` and return the backend
        precondition that pins what was checked."""
        raw = options.requested_etag(etag)
        if raw is not None:
            wanted = options.parse_etag(raw)
            match self._current(key):
                case _OnHost(version=version, live=True) if version == wanted:
                    return AtVersion(version)
                case _OnHost(live=True) | _Written(live=True):
                    raise EtagMismatch(
                        f"etag {raw!r} does not match the current etag of key {key!r}"
                    )
                case _:
                    raise EtagMismatch(f"etag {raw!r} given for key {key!r}, which does not exist")
        if not create_only:
            return AnyVersion()
        match self._current(key):
            case None | _Written(live=False):
                # Missing, or deleted earlier in this commit (absent by then).
                return Absent()
            case _OnHost(version=version, live=False):
                # An expired entry still exists in the backend: pin its version.
                return AtVersion(version)
            case _:
                raise EtagMismatch(f"key {key!r} already exists (first-write without an etag)")

    def _current(self, key: str) -> _Written | _OnHost | None:
        """``key`` as the next operation sees it; ``None`` = absent from the backend."""
        if key in self._written:
            return _Written(self._written[key])
        try:
            stored = _read(self._backend, key)
        except (BackendError, RecordError) as err:
            raise Other(_describe_read_error(key, err)) from None
        if stored is None:
            return None
        return _OnHost(stored.version, live=not stored.record.is_expired(self._now_ms))

    def _push(self, key: str, precondition: Precondition, value: bytes | None) -> None:
        self._written[key] = value is not None
        self._writes.append(Write(key, precondition, value))
