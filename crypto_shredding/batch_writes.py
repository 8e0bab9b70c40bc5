"""Key-store and blind-index rows that must commit with the events that need them.

A batch of commands creates data keys for new children, index rows that let
later messages find them, and expiry changes when a date of birth is
rectified. Written apart from the events, a crash or a lost connection
between the two left keys with no child (retried batches made new ones) or
children no later message could find (the retry saw the position stored and
skipped the index). A recorder that can write them in the events'
transaction (``AtomicBatchWrites``) gets them with the events; any other
store gets them around the events, keys first and index after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable
from uuid import UUID

from crypto_shredding.keystore import WrappedKey

BATCH_WRITES = "batch_writes"
"""The keyword under which the application hands a batch's writes to the recorder."""


@dataclass
class BatchWrites:
    new_keys: list[WrappedKey] = field(default_factory=list)
    index_rows: list[tuple[UUID, str, bytes]] = field(default_factory=list)
    index_drops: list[tuple[UUID, str]] = field(default_factory=list)
    """Rows of these (child, kind) pairs are deleted before ``index_rows`` are added."""
    expiry_changes: dict[UUID, date | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.new_keys or self.index_rows or self.index_drops or self.expiry_changes)


@runtime_checkable
class AtomicBatchWrites(Protocol):
    """A recorder that writes a batch's keys and index rows in the events' transaction."""

    writes_batch_atomically: bool
