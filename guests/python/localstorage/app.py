"""A Dapr local-storage output binding as a wasmplug component (world
``output-binding-component``), in Python.

componentize-py looks up the class ``OutputBinding`` in this module for the exported
``wasmplug:dapr/output-binding`` interface. This file only adapts WIT records and errors to
``localfiles``, which holds the semantics.

Component metadata:
- ``rootPath`` (required): the guest path of a directory the host grants (e.g. ``/files``).
  Every file the binding touches is directly inside it.

Every other metadata key is ignored (daprd passes many).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import localfiles
from componentize_py_types import Err
from localfiles import BindingError, Storage
from wit_world import exports
from wit_world.exports import output_binding as wit
from wit_world.imports import types

ROOT_PATH_METADATA = "rootPath"

Metadata = list[tuple[str, str]]
T = TypeVar("T")

# The storage opened by `init` (module state is the instance's state).
_storage: Storage | None = None


def _to_wit_error(err: Exception) -> types.Error:
    match err:
        case localfiles.InvalidArgument():
            return types.Error_InvalidArgument(err.message)
        case localfiles.NotFound():
            return types.Error_NotFound(err.message)
        case localfiles.Unimplemented():
            return types.Error_Unimplemented(err.message)
        case BindingError():
            return types.Error_Other(err.message)
        case _:
            # A bug, not a binding condition: report it instead of trapping the instance.
            return types.Error_Other(f"internal error in the Python localstorage binding: {err!r}")


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


def component_metadata(metadata: Metadata, key: str) -> str | None:
    """Component metadata ``key``, matched case-insensitively like Dapr's metadata
    decoding; the last occurrence wins."""
    for name, value in reversed(metadata):
        if name.lower() == key.lower():
            return value
    return None


def _require_storage() -> Storage:
    if _storage is None:
        raise localfiles.Other("local storage binding not initialised: init was not called")
    return _storage


class OutputBinding(exports.OutputBinding):
    @wit_errors
    def init(self, metadata: Metadata) -> None:
        global _storage
        root = component_metadata(metadata, ROOT_PATH_METADATA)
        if root is None:
            raise localfiles.InvalidArgument(f"metadata {ROOT_PATH_METADATA} is required")
        # A re-init (hot reload) replaces the previous root.
        _storage = Storage(root)

    def list_operations(self) -> list[str]:
        return list(localfiles.OPERATIONS)

    @wit_errors
    def invoke(self, request: wit.InvokeRequest) -> wit.InvokeResponse:
        response = localfiles.invoke(
            _require_storage(), request.operation, request.data, request.metadata
        )
        return wit.InvokeResponse(
            data=response.data,
            metadata=list(response.metadata),
            content_type=response.content_type,
        )

    @wit_errors
    def ping(self) -> None:
        _require_storage().check_root()
