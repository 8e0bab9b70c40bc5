"""A batch of use cases written in one transaction: what it changed, and what it must write.

Intake applies a whole poll of upstream messages as one batch: aggregates
are kept in an identity map so a later command sees an earlier one's
changes, and the new data keys, identity-index rows and key expiries the
batch causes wait here, to be written with its events and its consumer
position in one transaction (``BatchWrites``, handed to the recorder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking

from application.ports import NewKey

BATCH_WRITES = "batch_writes"
"""The keyword under which the application hands a batch's writes to the recorder."""


@dataclass
class UnitOfWork:
    tracking: Tracking | None
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    new_keys: list[tuple[UUID, date]] = field(default_factory=list)
    expiry_changes: dict[UUID, date | None] = field(default_factory=dict)
    index_rows: dict[UUID, list[tuple[str, bytes]]] = field(default_factory=dict)
    reindexed: set[UUID] = field(default_factory=set)
    pending_index: dict[tuple[str, bytes], list[UUID]] = field(default_factory=dict)
    known_index: dict[tuple[str, bytes], list[UUID]] | None = None
    known_entries: set[tuple[str, bytes]] = field(default_factory=set)


@dataclass
class BatchWrites:
    """Key-store and index rows that must commit with the events that need them.

    Written apart from the events, a crash or a lost connection between the
    two left keys with no child (retried batches made new ones) or children
    no later message could find (the retry saw the position stored and
    skipped the index).
    """

    new_keys: list[NewKey] = field(default_factory=list)
    index_rows: list[tuple[UUID, str, bytes]] = field(default_factory=list)
    index_drops: list[tuple[UUID, str]] = field(default_factory=list)
    """Rows of these (child, kind) pairs are deleted before ``index_rows`` are added."""
    expiry_changes: dict[UUID, date | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.new_keys or self.index_rows or self.index_drops or self.expiry_changes)
