"""The errors the binding reports, one class per case of the WIT ``types.error`` variant it
uses. ``app.py`` maps them onto the variant."""


class BindingError(Exception):
    """Base class: a failed operation with a human-readable message."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidArgument(BindingError):
    """A bad file name, a missing ``fileName``, a symlink or directory where a file is
    expected, a bad ``rootPath``."""


class NotFound(BindingError):
    """The file does not exist."""


class Unimplemented(BindingError):
    """An operation this binding does not have."""


class Other(BindingError):
    """Anything else: an I/O failure, a missing root directory."""
