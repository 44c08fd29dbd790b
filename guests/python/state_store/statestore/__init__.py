"""A Dapr state store over a versioned, atomic key-value backend (the wasmplug host bucket).

Plain Python with no dependency on the generated WIT bindings, so it runs and is tested on
CPython; ``app.py`` adapts it to the ``state-store-component`` world.
"""

from .errors import (
    BackendError,
    CommitConflict,
    EtagMismatch,
    InvalidArgument,
    Other,
    StateError,
    Unimplemented,
)
from .options import metadata_value
from .record import Record, RecordError
from .store import (
    Absent,
    AnyVersion,
    AtVersion,
    Backend,
    BulkItem,
    DeleteOp,
    Item,
    Operation,
    SetOp,
    Store,
    Versioned,
    Write,
)

__all__ = [
    "Absent",
    "AnyVersion",
    "AtVersion",
    "Backend",
    "BackendError",
    "BulkItem",
    "CommitConflict",
    "DeleteOp",
    "EtagMismatch",
    "InvalidArgument",
    "Item",
    "Operation",
    "Other",
    "Record",
    "RecordError",
    "SetOp",
    "StateError",
    "Store",
    "Unimplemented",
    "Versioned",
    "Write",
    "metadata_value",
]
