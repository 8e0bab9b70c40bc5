"""How the command line reads what it is given: one line for every mistake, no value echoed."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn
from uuid import UUID

from domain.commands import ACTOR_PATTERN, SENDER_PATTERN


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {_unquoted(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _unquoted(message: str) -> str:
    """Argparse's message without what was typed: it may be a name typed in the wrong place."""
    message = re.sub(r"invalid choice: '.*?' \(choose", "invalid choice (choose", message)
    message = re.sub(r"invalid (\w+) value: '.*'", r"not a valid \1", message)
    if message.startswith("unrecognized arguments: "):
        message = unrecognized(message.removeprefix("unrecognized arguments: ").split())
    return message


def unrecognized(words: list[str]) -> str:
    """How many arguments were not taken, naming only the option names among them."""
    options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
    named = f": {' '.join(options)}" if options else ""
    return f"{len(words)} unrecognized argument(s){named}"


def an_id(text: str) -> UUID:
    """An id on the command line; what was typed is never repeated (it may be a name)."""
    try:
        return UUID(text)
    except ValueError:
        msg = "not an id (ids are UUIDs, such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427)"
        raise argparse.ArgumentTypeError(msg) from None


def a_date(text: str) -> date:
    """A day as YYYY-MM-DD; an impossible one (30 February) or another format is refused."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = "not a date: give it as YYYY-MM-DD, e.g. 2026-11-30"
        raise argparse.ArgumentTypeError(msg) from None


def an_instant(text: str) -> datetime:
    """A moment in ISO 8601 with its UTC offset: without one it would compare ambiguously."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        msg = "not a moment: give it in ISO 8601 with its offset, e.g. 2026-11-30T12:00:00+00:00"
        raise argparse.ArgumentTypeError(msg) from None
    if instant.tzinfo is None:
        msg = "no UTC offset: add one, e.g. 2026-11-30T12:00:00+00:00"
        raise argparse.ArgumentTypeError(msg)
    return instant


def _whole(text: str, minimum: int, maximum: int | None = None) -> int:
    """Plain ASCII digits only: int() also takes "+3", " 3", "1_0" (ten) and full-width digits."""
    if not re.fullmatch(r"-?[0-9]{1,40}", text):
        msg = "not a whole number"
        raise argparse.ArgumentTypeError(msg)
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        msg = f"must be {minimum} or more" if maximum is None else f"must be {minimum}-{maximum}"
        raise argparse.ArgumentTypeError(msg)
    return value


MOST = 10_000_000
"""No count the commands take needs more (a store's integers end at 2**63)."""


def a_count(text: str) -> int:
    """A whole number of at least 1 (a batch, a limit, a number of days)."""
    return _whole(text, 1, MOST)


def minutes(text: str) -> int:
    """A whole number of minutes, 0 included (at most a day)."""
    return _whole(text, 0, 24 * 60)


def an_entry_number(text: str) -> int:
    """A ledger entry's seq: 1 up to the largest a PostgreSQL bigint holds."""
    return _whole(text, 1, 2**63 - 1)


def token_minutes(text: str) -> int:
    """How long a development token lives: 1 minute to a day."""
    return _whole(text, 1, 24 * 60)


def a_port(text: str) -> int:
    return _whole(text, 1, 65535)


def a_text_file(text: str) -> Path:
    """A file to read: present, a file, readable, not empty, and text rather than binary."""
    path = Path(text)
    if not path.exists():
        msg = "no such file"
        raise argparse.ArgumentTypeError(msg)
    if not path.is_file():
        msg = "is a folder, not a file" if path.is_dir() else "is not a regular file"
        raise argparse.ArgumentTypeError(msg)
    if not os.access(path, os.R_OK):
        msg = "cannot be read (check its permissions)"
        raise argparse.ArgumentTypeError(msg)
    with path.open("rb") as file:
        head = file.read(65536)
        blank = not head.strip()
        while blank and (more := file.read(65536)):  # leading blank space is not emptiness
            head, blank = more, not more.strip()
    if blank:
        msg = "is empty" if path.stat().st_size == 0 else "holds only blank space"
        raise argparse.ArgumentTypeError(msg)
    if b"\0" in head:
        msg = "is not text (it holds binary data)"
        raise argparse.ArgumentTypeError(msg)
    return path


def a_new_file(text: str) -> Path:
    """A file to create: its folder exists, and nothing is there to be overwritten."""
    path = Path(text)
    if path.exists() or path.is_symlink():
        msg = "already exists: give a new name (nothing is overwritten)"
        raise argparse.ArgumentTypeError(msg)
    if not path.parent.is_dir():
        msg = "its folder does not exist: make it first"
        raise argparse.ArgumentTypeError(msg)
    return path


def a_folder(text: str) -> Path:
    """A folder to write into, which must already exist."""
    path = Path(text)
    if not path.is_dir():
        msg = "is a file, not a folder" if path.exists() else "no such folder: make it first"
        raise argparse.ArgumentTypeError(msg)
    if not os.access(path, os.W_OK | os.X_OK):
        msg = "cannot be written (check its permissions)"
        raise argparse.ArgumentTypeError(msg)
    return path


def an_actor(text: str) -> str:
    """Who acts, as recorded: a staff or system id, never blank and never a person's name."""
    if not re.fullmatch(ACTOR_PATTERN, text):
        msg = "not an actor id: 1-80 of letters, digits and . _ : @ / -, e.g. staff:dpo-1"
        raise argparse.ArgumentTypeError(msg)
    return text


def a_sender(text: str) -> str:
    """An upstream system's id, as senders sign their messages: ``kind:name``."""
    if not re.fullmatch(SENDER_PATTERN, text):
        msg = "not a sender id: kind:name, e.g. school-mis:123456 or attendance:herts"
        raise argparse.ArgumentTypeError(msg)
    return text


def a_quarantine_id(text: str) -> str:
    """A quarantined message's id, or enough of its start to name one (as `list` shows it)."""
    if not re.fullmatch(r"[0-9a-f-]{4,36}", text):
        msg = "not a quarantine id: its first characters (0-9, a-f), as `cme quarantine list` shows"
        raise argparse.ArgumentTypeError(msg)
    return text


def a_principal(text: str) -> str:
    """A Kafka SCRAM user name, as `cme kafka principals` lists them."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", text):
        msg = "not a principal name: 1-64 of letters, digits and . _ -, e.g. school-mis-117001"
        raise argparse.ArgumentTypeError(msg)
    return text
