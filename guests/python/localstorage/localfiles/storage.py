"""Files directly inside the root directory.

Every operation validates the caller's name (so the path is always ``root/<one component>``)
and refuses to act on a symlink or a directory: the path is inspected with ``lstat``, which
does not follow links, and files are opened with ``O_NOFOLLOW`` where the platform has it.
The host's WASI sandbox, which confines the component to the granted directory, is the real
boundary; these checks give clean errors.
"""

from __future__ import annotations

import builtins
import errno
import os
import stat

from . import names
from .errors import InvalidArgument, NotFound, Other

#: How many fresh names ``create`` tries before giving up (a collision of 128-bit random
#: names means something is badly wrong).
GENERATE_ATTEMPTS = 4

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class Storage:
    """The root directory of the binding."""

    def __init__(self, root: str) -> None:
        """Open ``root``, which must be an existing directory (a symlink to one is fine: the
        root is chosen by the operator, not by callers)."""
        if not root:
            raise InvalidArgument("metadata rootPath must not be empty")
        self.root = root
        self.check_root()

    def check_root(self) -> None:
        """Fail unless the root is (still) an existing directory."""
        try:
            info = os.stat(self.root)
        except OSError as err:
            raise Other(
                f"rootPath {self.root!r} is not an existing directory: {err.strerror or err}"
            ) from None
        if not stat.S_ISDIR(info.st_mode):
            raise Other(f"rootPath {self.root!r} is not a directory")

    def create(self, name: str | None, data: bytes) -> str:
        """Write ``data`` to ``name`` (creating or overwriting it), or to a fresh random name
        when ``name`` is ``None``. Returns the name written."""
        if name is None:
            return self._create_fresh(data)
        path = self._path(name)
        self._inspect(path, name)
        self._write(path, name, data, os.O_CREAT | os.O_TRUNC)
        return name

    def get(self, name: str) -> bytes:
        """The contents of ``name``; a missing file is ``NotFound``."""
        path = self._path(name)
        if not self._inspect(path, name):
            raise _not_found(name)
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
        except OSError as err:
            raise _io_error("read", name, err) from None
        with os.fdopen(fd, "rb") as file:
            try:
                return file.read()
            except OSError as err:
                raise _io_error("read", name, err) from None

    def list(self) -> builtins.list[str]:
        """The names of the regular files directly inside the root, sorted. Directories,
        symlinks, other special files and names that are not valid UTF-8 (which no request
        could address) are left out."""
        try:
            with os.scandir(self.root) as entries:
                found = [e.name for e in entries if e.is_file(follow_symlinks=False)]
        except OSError as err:
            raise Other(f"cannot list rootPath {self.root!r}: {err.strerror or err}") from None
        return sorted(n for n in found if _is_utf8(n))

    def delete(self, name: str) -> None:
        """Delete ``name``; a missing file is ``NotFound``."""
        path = self._path(name)
        if not self._inspect(path, name):
            raise _not_found(name)
        try:
            os.remove(path)
        except OSError as err:
            raise _io_error("delete", name, err) from None

    # --- internals

    def _path(self, name: str) -> str:
        names.validate(name)
        return os.path.join(self.root, name)

    @staticmethod
    def _inspect(path: str, name: str) -> bool:
        """Whether ``path`` is an existing regular file (``False``: missing). A symlink, a
        directory or any other kind of file is ``InvalidArgument``."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return False
        except OSError as err:
            raise _io_error("inspect", name, err) from None
        if stat.S_ISLNK(mode):
            raise InvalidArgument(f"fileName {name!r} is a symlink")
        if stat.S_ISDIR(mode):
            raise InvalidArgument(f"fileName {name!r} is a directory")
        if not stat.S_ISREG(mode):
            raise InvalidArgument(f"fileName {name!r} is not a regular file")
        return True

    def _create_fresh(self, data: bytes) -> str:
        for _ in range(GENERATE_ATTEMPTS):
            name = names.generate()
            try:
                # O_EXCL fails rather than follow or clobber anything already there.
                self._write(self._path(name), name, data, os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue
            return name
        raise Other("could not generate an unused file name")

    @staticmethod
    def _write(path: str, name: str, data: bytes, flags: int) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | flags | _NOFOLLOW | _CLOEXEC, 0o644)
        except FileExistsError:
            raise
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise InvalidArgument(f"fileName {name!r} is a symlink") from None
            raise _io_error("write", name, err) from None
        with os.fdopen(fd, "wb") as file:
            try:
                file.write(data)
            except OSError as err:
                raise _io_error("write", name, err) from None


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def _not_found(name: str) -> NotFound:
    return NotFound(f"file {name!r} not found")


def _io_error(action: str, name: str, err: OSError) -> Exception:
    if isinstance(err, FileNotFoundError):
        return _not_found(name)
    return Other(f"cannot {action} file {name!r}: {err.strerror or err}")
