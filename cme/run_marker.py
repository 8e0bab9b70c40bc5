"""Whether `cme run` is running on this machine: a small owner-only file while it does.

`cme status` reads it to say so, because the read models and the ledger move
only while the workers run; a record that "did not change" is most often a
`cme run` nobody started. Workers on other machines are not seen here: the
status says "on this machine" for that reason.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cme.private_files import write_private


@dataclass(frozen=True)
class RunMarker:
    pid: int
    workers: list[str]
    started_at: str


def marker_path(data_dir: Path) -> Path:
    return data_dir / "run" / f"cme-run-{socket.gethostname()}-{os.getpid()}.json"


@contextmanager
def marked_running(data_dir: Path, workers: Sequence[str]) -> Iterator[None]:
    path = marker_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    document = {"pid": os.getpid(), "workers": list(workers), "started_at": started}
    write_private(path, json.dumps(document), replace=True)
    try:
        yield
    finally:
        with suppress(FileNotFoundError):
            path.unlink()


def running_here(data_dir: Path) -> list[RunMarker]:
    """The `cme run` processes alive on this machine (a marker left by a killed one is ignored)."""
    found = []
    for path in sorted((data_dir / "run").glob(f"cme-run-{socket.gethostname()}-*.json")):
        try:
            document = json.loads(path.read_text())
            os.kill(int(document["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(RunMarker(int(document["pid"]), document["workers"], document["started_at"]))
    return found
