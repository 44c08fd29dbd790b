"""A Dapr state store as a wasmplug component (world ``state-store-component``), in Python.

componentize-py looks up the class ``StateStore`` in this module for the exported
``wasmplug:dapr/state-store`` interface. This file only adapts: WIT records to the plain
requests of ``statestore`` (which holds all the semantics), the host bucket to its
``Backend``, and its exceptions to the WIT ``error`` variant.

Component metadata:
- ``bucket`` (optional, default ``state``): the host bucket to open; the component config
  must grant it.

Every other metadata key is ignored (daprd passes many).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

import statestore
from componentize_py_types import Err
from statestore import (
    BackendError,
    CommitConflict,
    DeleteOp,
    SetOp,
    StateError,
    Store,
    Versioned,
    Write,
)
from wit_world import exports
from wit_world.exports import state_store as wit
from wit_world.imports import keyvalue_atomics, keyvalue_store, types
from wit_world.imports import logging as host_log

BUCKET_METADATA = "bucket"
DEFAULT_BUCKET = "state"
FEATURES = ["ETAG", "TRANSACTIONAL", "TTL"]

Metadata = list[tuple[str, str]]
T = TypeVar("T")

# The store opened by `init`. A component instance is single-threaded and serves one
# component, so module state is the instance's state.
_store: Store | None = None


# --- the host bucket as a statestore.Backend ------------------------------------------------


def describe_kv_error(err: keyvalue_store.Error) -> str:
    if isinstance(err, keyvalue_store.Error_NoSuchStore):
        return "no such store (is the bucket granted to this component?)"
    if isinstance(err, keyvalue_store.Error_AccessDenied):
        return "access denied"
    return err.value


class HostBucket:
    """``statestore.Backend`` over a host bucket (``keyvalue-atomics``)."""

    def __init__(self, bucket: keyvalue_store.Bucket) -> None:
        self._bucket = bucket

    def get_versioned(self, key: str) -> Versioned | None:
        try:
            entry = keyvalue_atomics.get_versioned(self._bucket, key)
        except Err as err:
            raise BackendError(describe_kv_error(err.value)) from None
        return None if entry is None else Versioned(entry.value, entry.version)

    def commit(self, writes: Sequence[Write]) -> list[int]:
        try:
            return keyvalue_atomics.commit(self._bucket, [_to_wit_write(w) for w in writes])
        except Err as err:
            failure = err.value
            if isinstance(failure, keyvalue_atomics.CommitError_Conflict):
                raise CommitConflict(failure.value) from None
            raise BackendError(describe_kv_error(failure.value)) from None


def _to_wit_write(write: Write) -> keyvalue_atomics.Write:
    match write.precondition:
        case statestore.AtVersion(version=version):
            precondition: keyvalue_atomics.Precondition = keyvalue_atomics.Precondition_Version(
                version
            )
        case statestore.Absent():
            precondition = keyvalue_atomics.Precondition_Absent()
        case _:
            precondition = keyvalue_atomics.Precondition_Any()
    return keyvalue_atomics.Write(write.key, precondition, write.value)


# --- errors -----------------------------------------------------------------------------------


def _to_wit_error(err: Exception) -> types.Error:
    match err:
        case statestore.EtagMismatch():
            return types.Error_EtagMismatch(err.message)
        case statestore.InvalidArgument():
            return types.Error_InvalidArgument(err.message)
        case statestore.Unimplemented():
            return types.Error_Unimplemented(err.message)
        case StateError():
            return types.Error_Other(err.message)
        case _:
            # A bug, not a store condition: report it instead of trapping the instance.
            return types.Error_Other(f"internal error in the Python state store: {err!r}")


def wit_errors(method: Callable[..., T]) -> Callable[..., T]:
    """Turn any exception of an exported function into ``Err(types.Error)``."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return method(*args, **kwargs)
        except Err:
            raise
        except Exception as err:  # noqa: BLE001 - every failure must become a WIT error
            raise Err(_to_wit_error(err)) from None

    return wrapper


def _require_store() -> Store:
    if _store is None:
        raise statestore.Other("state store not initialised: init was not called")
    return _store


# --- WIT records <-> statestore requests ----------------------------------------------------


def _set_op(request: wit.SetRequest) -> SetOp:
    return SetOp(
        key=request.key,
        value=request.value,
        etag=request.etag,
        metadata=request.metadata,
        first_write=request.options.concurrency == wit.Concurrency.FIRST_WRITE,
        content_type=request.content_type,
    )


def _delete_op(request: wit.DeleteRequest) -> DeleteOp:
    return DeleteOp(key=request.key, etag=request.etag)


def _to_wit_item(item: statestore.Item) -> wit.Item:
    return wit.Item(
        data=item.data,
        etag=item.etag,
        metadata=list(item.metadata),
        content_type=item.content_type,
    )


# --- the export -------------------------------------------------------------------------------


class StateStore(exports.StateStore):
    @wit_errors
    def init(self, metadata: Metadata) -> None:
        global _store
        name = statestore.metadata_value(metadata, BUCKET_METADATA)
        if name is None:
            name = DEFAULT_BUCKET
        if not name:
            raise statestore.InvalidArgument(f"metadata {BUCKET_METADATA} must not be empty")
        try:
            bucket = keyvalue_store.open(name)
        except Err as err:
            raise statestore.Other(
                f"cannot open host bucket {name!r}: {describe_kv_error(err.value)}"
            ) from None
        # A re-init (hot reload) replaces the previous bucket.
        _store = Store(HostBucket(bucket))
        host_log.log(host_log.Level.DEBUG, "py-state-store", f"opened host bucket {name!r}")

    def features(self) -> list[str]:
        return list(FEATURES)

    @wit_errors
    def get(self, request: wit.GetRequest) -> wit.Item | None:
        item = _require_store().get(request.key)
        return None if item is None else _to_wit_item(item)

    @wit_errors
    def set(self, request: wit.SetRequest) -> None:
        _require_store().apply([_set_op(request)])

    @wit_errors
    def delete(self, request: wit.DeleteRequest) -> None:
        _require_store().apply([_delete_op(request)])

    @wit_errors
    def bulk_get(self, requests: list[wit.GetRequest]) -> list[wit.BulkGetItem]:
        answers = _require_store().bulk_get(r.key for r in requests)
        return [
            wit.BulkGetItem(
                key=a.key,
                item=None if a.item is None else _to_wit_item(a.item),
                error=a.error,
            )
            for a in answers
        ]

    @wit_errors
    def bulk_set(self, requests: list[wit.SetRequest]) -> None:
        _require_store().apply([_set_op(r) for r in requests])

    @wit_errors
    def bulk_delete(self, requests: list[wit.DeleteRequest]) -> None:
        _require_store().apply([_delete_op(r) for r in requests])

    @wit_errors
    def transact(self, request: wit.TransactRequest) -> None:
        operations = [
            _set_op(op.value) if isinstance(op, wit.Operation_Set) else _delete_op(op.value)
            for op in request.operations
        ]
        _require_store().apply(operations, request.metadata)

    @wit_errors
    def query(self, request: wit.QueryRequest) -> wit.QueryResponse:
        raise statestore.Unimplemented("query is not supported by this state store")

    def multi_max_size(self) -> int | None:
        return None

    def ping(self) -> None:
        pass
