"""A Dapr local-storage output binding over a directory (``bindings.localstorage``
semantics).

Plain Python with no dependency on the generated WIT bindings, so it runs and is tested on
CPython; ``app.py`` adapts it to the ``output-binding-component`` world.
"""

from .errors import BindingError, InvalidArgument, NotFound, Other, Unimplemented
from .ops import OPERATIONS, Response, invoke
from .storage import Storage

__all__ = [
    "OPERATIONS",
    "BindingError",
    "InvalidArgument",
    "NotFound",
    "Other",
    "Response",
    "Storage",
    "Unimplemented",
    "invoke",
]
