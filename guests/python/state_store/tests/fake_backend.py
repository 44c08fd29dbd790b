"""An in-memory stand-in for the host's versioned bucket (``keyvalue-atomics``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from statestore import Absent, AnyVersion, AtVersion, CommitConflict, Versioned, Write


class FakeBackend:
    """Versions are unique and strictly increasing; ``commit`` applies all or nothing,
    checking each precondition against the state left by the earlier writes."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[bytes, int]] = {}
        self.last_version = 0
        self.commits = 0
        #: Runs once, just before the next commit: simulates a concurrent writer.
        self.before_commit: Callable[[FakeBackend], object] | None = None

    def put_raw(self, key: str, value: bytes) -> int:
        """Write raw bytes directly, bypassing the store."""
        self.last_version += 1
        self.entries[key] = (value, self.last_version)
        return self.last_version

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def get_versioned(self, key: str) -> Versioned | None:
        found = self.entries.get(key)
        return None if found is None else Versioned(found[0], found[1])

    def commit(self, writes: Sequence[Write]) -> list[int]:
        hook, self.before_commit = self.before_commit, None
        if hook is not None:
            hook(self)
        self.commits += 1
        entries = dict(self.entries)
        last = self.last_version
        versions = []
        for index, write in enumerate(writes):
            current = entries.get(write.key)
            match write.precondition:
                case AnyVersion():
                    holds = True
                case Absent():
                    holds = current is None
                case AtVersion(version=version):
                    holds = current is not None and current[1] == version
            if not holds:
                raise CommitConflict(index)
            if write.value is None:
                entries.pop(write.key, None)
                versions.append(0)
            else:
                last += 1
                entries[write.key] = (bytes(write.value), last)
                versions.append(last)
        self.entries, self.last_version = entries, last
        return versions
