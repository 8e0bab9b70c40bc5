"""The key store port: wrapped data keys, their expiry, and tombstones of destroyed keys.

Only wrapped keys are stored; the expiry (the child's 25th birthday) is kept in
clear so the shredding job can find what is due without decrypting anything,
and a tombstone records when and why a key was destroyed (no personal data),
so readers can say "shredded on DATE" rather than "unknown".
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True, repr=False)
class WrappedKey:
    """A data key as stored: wrapped under the KEK ``kek_id``."""

    child_id: UUID
    kek_id: str
    wrapped: bytes
    expires_on: date | None

    def __repr__(self) -> str:
        return f"WrappedKey(child_id={self.child_id}, kek_id={self.kek_id!r})"


@dataclass(frozen=True)
class Tombstone:
    """Proof that a key existed and was destroyed, and why."""

    child_id: UUID
    destroyed_at: datetime
    reason: str


class KeyStore(Protocol):
    """Where wrapped data keys live; one adapter per backend."""

    def add(self, keys: Sequence[WrappedKey]) -> set[UUID]:
        """Store new keys; a child that already has (or had) a key keeps it.

        Returns the children whose key this call stored.
        """

    def get_many(self, child_ids: Iterable[UUID]) -> dict[UUID, WrappedKey]: ...

    def tombstones(self, child_ids: Iterable[UUID]) -> dict[UUID, Tombstone]: ...

    def destroy(self, child_ids: Sequence[UUID], destroyed_at: datetime, reason: str) -> set[UUID]:
        """Delete the keys and write their tombstones in one transaction.

        Returns those this call destroyed: a key already gone is not destroyed twice.
        """

    def set_expiry(self, child_id: UUID, expires_on: date | None) -> None: ...

    def unfinished(self, limit: int) -> list[UUID]:
        """Destroyed keys whose shred cascade has not been marked complete."""

    def mark_cascade_done(self, child_ids: Sequence[UUID], at: datetime) -> None: ...

    def due(self, on: date, limit: int, exclude: Collection[UUID] = ()) -> list[UUID]:
        """Children whose key expires on or before ``on``, earliest first, but ``exclude``."""

    def scan(self, batch: int) -> Iterator[list[WrappedKey]]:
        """Every live key, in batches (for KEK rotation)."""

    def rewrap(self, keys: Sequence[WrappedKey]) -> None:
        """Replace the wrapping of existing keys (same child, new KEK)."""

    def count_by_kek(self) -> dict[str, int]:
        """How many live keys each KEK wraps (a KEK may go only when its count is 0)."""


class InMemoryKeyStore:
    """A key store in a dict, for unit tests and benchmarks' references."""

    def __init__(self) -> None:
        self._keys: dict[UUID, WrappedKey] = {}
        self._tombstones: dict[UUID, Tombstone] = {}
        self._done: set[UUID] = set()
        self._lock = threading.Lock()

    def add(self, keys: Sequence[WrappedKey]) -> set[UUID]:
        created = set()
        with self._lock:
            for key in keys:
                if key.child_id not in self._tombstones and key.child_id not in self._keys:
                    self._keys[key.child_id] = key
                    created.add(key.child_id)
        return created

    def get_many(self, child_ids: Iterable[UUID]) -> dict[UUID, WrappedKey]:
        return {c: self._keys[c] for c in child_ids if c in self._keys}

    def tombstones(self, child_ids: Iterable[UUID]) -> dict[UUID, Tombstone]:
        return {c: self._tombstones[c] for c in child_ids if c in self._tombstones}

    def destroy(self, child_ids: Sequence[UUID], destroyed_at: datetime, reason: str) -> set[UUID]:
        destroyed = set()
        with self._lock:
            for child_id in child_ids:
                if self._keys.pop(child_id, None) is not None:
                    self._tombstones[child_id] = Tombstone(child_id, destroyed_at, reason)
                    destroyed.add(child_id)
        return destroyed

    def set_expiry(self, child_id: UUID, expires_on: date | None) -> None:
        with self._lock:
            if child_id in self._keys:
                self._keys[child_id] = replace(self._keys[child_id], expires_on=expires_on)

    def unfinished(self, limit: int) -> list[UUID]:
        return [c for c in self._tombstones if c not in self._done][:limit]

    def mark_cascade_done(self, child_ids: Sequence[UUID], at: datetime) -> None:
        self._done.update(child_ids)

    def due(self, on: date, limit: int, exclude: Collection[UUID] = ()) -> list[UUID]:
        due = [
            k.child_id
            for k in sorted(
                self._keys.values(), key=lambda k: (k.expires_on or date.max, k.child_id)
            )
            if k.expires_on and k.expires_on <= on and k.child_id not in exclude
        ]
        return due[:limit]

    def scan(self, batch: int) -> Iterator[list[WrappedKey]]:
        keys = list(self._keys.values())
        for start in range(0, len(keys), batch):
            yield keys[start : start + batch]

    def count_by_kek(self) -> dict[str, int]:
        return dict(Counter(k.kek_id for k in self._keys.values()))

    def rewrap(self, keys: Sequence[WrappedKey]) -> None:
        with self._lock:
            for key in keys:
                if key.child_id in self._keys:
                    self._keys[key.child_id] = key
