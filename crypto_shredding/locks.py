"""Locks that serialise retention runs: a file lock (embedded) and a PostgreSQL advisory lock."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

LOCK_KEY = 0x434D4553  # "CMES"


@contextmanager
def file_lock(path: Path, *, wait: bool = False) -> Iterator[bool]:
    """An exclusive lock on a file (the embedded mode's advisory lock); ``wait`` blocks for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_lock(url: str) -> Callable[[], AbstractContextManager[bool]]:
    """A session advisory lock, held on its own connection for the whole run."""

    @contextmanager
    def lock() -> Iterator[bool]:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            acquired = bool(row and row[0])
            try:
                yield acquired
            finally:
                if acquired:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

    return lock
