"""The binding's operations: a request in, a response out.

=========  =====================  ============================================================
operation  request metadata       response
=========  =====================  ============================================================
create     fileName (optional)    ``{"fileName":"<name>"}`` (JSON) and metadata ``fileName``
get        fileName (required)    the file's bytes; a missing file is ``NotFound``
list       -                      JSON array of the file names in the root, sorted
delete     fileName (required)    empty; a missing file is ``NotFound``
=========  =====================  ============================================================

``create`` writes the request data as is (Dapr's binding also tries to unquote and
base64-decode it; this one never rewrites data). Without ``fileName`` it picks a fresh random
name (an empty ``fileName`` counts as absent for ``create`` only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import InvalidArgument, Unimplemented
from .storage import Storage

Metadata = Sequence[tuple[str, str]]

#: The operations ``invoke`` accepts, in the order ``list-operations`` reports them.
OPERATIONS = ("create", "get", "list", "delete")

#: Request metadata key naming the file.
FILE_NAME = "fileName"

JSON = "application/json"


@dataclass(frozen=True)
class Response:
    data: bytes = b""
    metadata: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None


def invoke(storage: Storage, operation: str, data: bytes, metadata: Metadata) -> Response:
    """Run one operation against ``storage``."""
    file_name = request_metadata(metadata, FILE_NAME)
    if operation == "create":
        # An empty fileName means "pick one", as in Dapr.
        name = storage.create(file_name or None, data)
        return Response(_json({"fileName": name}), [(FILE_NAME, name)], JSON)
    if operation == "get":
        return Response(storage.get(_required(file_name)))
    if operation == "list":
        return Response(_json(storage.list()), content_type=JSON)
    if operation == "delete":
        storage.delete(_required(file_name))
        return Response()
    raise Unimplemented(
        f"operation {operation!r} is not supported by the local storage binding "
        f"(supported: {', '.join(OPERATIONS)})"
    )


def request_metadata(metadata: Metadata, key: str) -> str | None:
    """The value of request metadata ``key`` (exact match, like Dapr's map lookup); the last
    occurrence wins."""
    for name, value in reversed(metadata):
        if name == key:
            return value
    return None


def _required(file_name: str | None) -> str:
    if file_name is None:
        raise InvalidArgument(f"request metadata {FILE_NAME} is required")
    return file_name


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
