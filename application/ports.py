"""What the use cases need from the world, as protocols the adapters implement.

The application layer imports no cryptography, no database driver and no
Kafka client: the composition root (``cme.bootstrap``) hands it a key ring,
an identity index, a sealing mapper and an event store recorder that answer
these protocols. Each names only what the use cases call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

# Kinds of identity-index entry (the index keeps keyed digests, never values).
UPN = "upn"
SURNAME_DOB = "name+dob"  # surname, first forename, date of birth
SENDER_REF = "sender-ref"


class NewKey(Protocol):
    """A data key made for a new child, ready for the key store (wrapped: opaque here)."""

    @property
    def child_id(self) -> UUID: ...


class StoredKey(Protocol):
    """A key store row as the use cases see it: whose, and until when (never the key)."""

    @property
    def expires_on(self) -> date | None: ...


class KeyStore(Protocol):
    """The key store's rows, as far as the use cases and the retention job touch them."""

    def add(self, keys: Sequence[Any]) -> set[UUID]: ...

    def get_many(self, child_ids: Iterable[UUID]) -> Mapping[UUID, StoredKey]: ...

    def set_expiry(self, child_id: UUID, expires_on: date | None) -> None: ...

    def due(self, on: date, limit: int, exclude: Collection[UUID] = ()) -> list[UUID]: ...

    def unfinished(self, limit: int) -> list[UUID]: ...

    def tombstones(self, child_ids: Iterable[UUID]) -> dict[UUID, Any]: ...

    def mark_cascade_done(self, child_ids: Sequence[UUID], at: datetime) -> None: ...


class DataKeys(Protocol):
    """Per-child data keys: made for new children, loaded for reads, destroyed at 25."""

    @property
    def store(self) -> KeyStore: ...

    def prepare_many(self, children: Iterable[tuple[UUID, date | None]]) -> Sequence[NewKey]: ...

    def forget(self, child_ids: Iterable[UUID]) -> None: ...

    def load(self, child_ids: Iterable[UUID], *, missing_ok: bool = False) -> dict[UUID, Any]: ...

    def destroy_many(
        self, child_ids: Sequence[UUID], reason: str, at: datetime | None = None
    ) -> set[UUID]: ...


class IndexStore(Protocol):
    """The identity index's rows (keyed digests per child)."""

    def find_many(
        self, entries: Iterable[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], list[UUID]]: ...

    def add_many(self, rows: Iterable[tuple[UUID, str, bytes]]) -> None: ...

    def remove_entries(self, child_id: UUID, kind: str) -> None: ...

    def digests_of(self, child_ids: Sequence[UUID], kind: str) -> dict[UUID, set[bytes]]: ...


class IdentityIndex(Protocol):
    """Finding a child by UPN, name and date of birth, or a sender's reference, blind."""

    @property
    def store(self) -> IndexStore: ...

    def entries(
        self, upn: str | None, surname: str, date_of_birth: date, forenames: str
    ) -> list[tuple[str, bytes]]: ...

    def upn_entry(self, upn: str) -> tuple[str, bytes]: ...

    def surname_dob_entry(
        self, surname: str, date_of_birth: date, forenames: str
    ) -> tuple[str, bytes]: ...

    def sender_ref_entry(self, sender_ref: str) -> tuple[str, bytes]: ...

    def find(self, kind: str, digest: bytes) -> list[UUID]: ...

    def forget(self, *child_ids: UUID) -> int: ...


@runtime_checkable
class BatchMapper(Protocol):
    """A mapper that turns many stored events into domain events with one key lookup."""

    def to_domain_events(
        self, stored: Sequence[StoredEvent], *, withhold_personal: bool = False
    ) -> list[Any]: ...


@runtime_checkable
class EventStoreQueries(Protocol):
    """The reads the use cases make beyond the library's one-aggregate-at-a-time API.

    Each backend's recorder answers them its own way (one ``= ANY`` query on
    PostgreSQL, a loop elsewhere), as the library's searchable-content
    example does, rather than the callers branching on the backend.
    """

    def select_many(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...

    def recorded_among(self, ids: Sequence[UUID]) -> set[UUID]: ...

    def aggregates_about(self, child_id: UUID) -> list[UUID]: ...

    def notifications_after(self, position: int, limit: int) -> Sequence[Notification]: ...

    def originators_of(self, topic: str) -> list[UUID]:
        """The aggregates with an event of this type (e.g. every decided rights request)."""
        ...


@runtime_checkable
class AtomicBatchWrites(Protocol):
    """A recorder that writes a batch's keys and index rows in the events' transaction."""

    writes_batch_atomically: bool
