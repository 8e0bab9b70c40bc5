"""The typed marker that stands where a shredded child's personal data used to be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Shredded:
    """Personal data that can no longer be read because its child's key was destroyed.

    Readers get this instead of an exception so that the non-personal facts of
    the same event (what happened, when, by whom, under which basis) stay usable.
    """

    child_id: UUID
    shredded_at: datetime | None = None
    reason: str = ""

    def __str__(self) -> str:
        when = f" on {self.shredded_at.date().isoformat()}" if self.shredded_at else ""
        return f"[shredded{when}]"


@dataclass(frozen=True)
class Withheld(Shredded):
    """Personal data left sealed on purpose: the reader needs only the facts.

    The retention job reads children this way (legal holds, versions), so it
    never decrypts what it is about to destroy. Aggregates read with it treat
    the values as unavailable, exactly as after shredding.
    """

    def __str__(self) -> str:
        return "[withheld]"
