"""The vocabulary of read-model changes that projection functions return.

Projections are pure: an event in, a list of these out. A store adapter turns
them into SQL (the same statements on PostgreSQL and SQLite), so the Kafka
path and the embedded path build identical read models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Latest:
    """Keep the larger of the stored and the new value (dates that may arrive out of order)."""

    value: Any


@dataclass(frozen=True)
class Add:
    """Add to the stored number."""

    value: int


@dataclass(frozen=True)
class When:
    """Set the column to ``value`` only while ``column`` of the stored row equals ``equals``."""

    column: str
    equals: Any
    value: Any


@dataclass(frozen=True)
class Upsert:
    """Insert the row, or update only the given columns of the existing row."""

    table: str
    key: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Append:
    """Insert a row once (its key makes a repeat harmless)."""

    table: str
    key: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RedactChild:
    """Remove every personal value of one child from every read model."""

    child_id: UUID
    shredded_on: Any


Change = Upsert | Append | RedactChild
