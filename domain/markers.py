"""What stands where personal data cannot be read: destroyed (Shredded) or left sealed (Withheld).

Readers get a marker instead of an exception so that the non-personal facts
of the same event (what happened, when, by whom, under which basis) stay
usable. Both are Unavailable; only Shredded means the data is gone for good,
so a child read with its data withheld is not a shredded child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Unavailable:
    """Personal data this reader cannot see."""

    child_id: UUID


@dataclass(frozen=True)
class Shredded(Unavailable):
    """Personal data that can no longer be read because its child's key was destroyed."""

    shredded_at: datetime | None = None
    reason: str = ""

    def __str__(self) -> str:
        when = f" on {self.shredded_at.date().isoformat()}" if self.shredded_at else ""
        return f"[shredded{when}]"


@dataclass(frozen=True)
class Withheld(Unavailable):
    """Personal data left sealed on purpose: the reader needs only the facts.

    The retention job reads children this way (legal holds, versions), so it
    never decrypts what it is about to destroy.
    """

    def __str__(self) -> str:
        return "[withheld]"
