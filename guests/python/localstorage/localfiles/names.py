"""File names: validation of the names callers supply, and generation of fresh ones.

The namespace is flat: a name is a single path component directly inside the root
directory, so nothing a caller passes can address a file elsewhere.
"""

from __future__ import annotations

import secrets

from .errors import InvalidArgument

#: The longest name accepted, in UTF-8 bytes (``NAME_MAX`` on common file systems).
MAX_NAME_LEN = 255


def validate(name: str) -> None:
    """Raise ``InvalidArgument`` unless ``name`` is a plain file name: non-empty, at most
    ``MAX_NAME_LEN`` bytes, not ``.`` or ``..``, and free of ``/`` (so neither absolute nor
    with directories), ``\\`` and NUL."""
    if not name:
        reason = "must not be empty"
    elif name in (".", ".."):
        reason = 'must not be "." or ".."'
    elif "/" in name:
        reason = "must not contain '/' (names are flat: no directories, no absolute paths)"
    elif "\\" in name:
        reason = "must not contain '\\'"
    elif "\0" in name:
        reason = "must not contain NUL"
    elif len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_LEN:
        reason = "is too long"
    else:
        return
    raise InvalidArgument(f"invalid fileName {name!r}: {reason}")


def generate() -> str:
    """A fresh random name: 32 lowercase hex digits (128 bits from the platform's random
    source; in the component ``wasi:random``)."""
    return secrets.token_hex(16)
