"""The errors the store reports, one class per case of the WIT `types.error` variant.

The core package never imports the generated bindings (they exist only inside
componentize-py), so it raises these and `app.py` maps them onto the WIT variant.
"""


class StateError(Exception):
    """Base class: a failed state-store operation with a human-readable message."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class EtagMismatch(StateError):
    """The etag does not match (stale, malformed, or given for a missing key), or a
    first-write found the key already there."""


class InvalidArgument(StateError):
    """The request is malformed: an empty key, a bad `ttlInSeconds`, ..."""


class Unimplemented(StateError):
    """The operation is not supported by this store."""


class Other(StateError):
    """Anything else: a host failure, a corrupt stored record."""


class BackendError(Exception):
    """The host bucket failed (raised by a `Backend`); the message says why."""


class CommitConflict(Exception):
    """A precondition of a commit did not hold (raised by `Backend.commit`); nothing was
    written. `index` is the position of the first failing write."""

    def __init__(self, index: int) -> None:
        super().__init__(f"precondition of write {index} did not hold")
        self.index = index
