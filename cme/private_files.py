"""Files this system writes that may hold personal data or secrets: owner-only, from the start.

Mode 0600 is set on the descriptor before anything is written, so there is
no moment in which another account could read the file; a new export never
overwrites an existing file (``O_EXCL``), so a mistyped path destroys nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def open_private(path: Path, *, replace: bool = False) -> Iterator[TextIO]:
    """Open ``path`` for writing as owner-only; refuse an existing file unless ``replace``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file being replaced keeps no wider mode
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        yield out


def write_private(path: Path, text: str, *, replace: bool = False) -> None:
    with open_private(path, replace=replace) as out:
        out.write(text)


def exports_folder(data_dir: Path) -> Path:
    """``$CME_DATA_DIR/exports``, made owner-only: where exports go when no folder is given."""
    folder = data_dir / "exports"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    return folder
