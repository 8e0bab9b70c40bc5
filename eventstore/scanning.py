"""The application's extra reads for stores small enough to answer them with a loop.

SQLite (the embedded mode) and the in-memory store have no index of whose
event is whose; the embedded store holds one demo county, so a scan is fine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

import orjson
from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent


def subject_of_stored(stored: StoredEvent) -> UUID:
    """Whose event this is, read from the clear part of the stored state (no key needed)."""
    child_id = orjson.loads(stored.state).get("child_id")
    if isinstance(child_id, dict):  # the library's transcoding of a UUID
        return UUID(child_id["_data_"])
    return (
        stored.originator_id
        if isinstance(stored.originator_id, UUID)
        else UUID(str(stored.originator_id))
    )


class ScanningQueries(ApplicationRecorder):
    """``EventStoreQueries`` by the library's own one-aggregate reads and a log scan."""

    def select_many(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        found: dict[UUID, list[StoredEvent]] = {}
        for ident in ids:
            events = list(self.select_events(ident))
            if events:
                found[ident] = events
        return found

    def recorded_among(self, ids: Sequence[UUID]) -> set[UUID]:
        return {ident for ident in ids if self.select_events(ident, limit=1)}

    def aggregates_about(self, child_id: UUID) -> list[UUID]:
        return self._originators(
            lambda n: (
                n.originator_version == 1
                and n.originator_id != child_id
                and subject_of_stored(n) == child_id
            )
        )

    def originators_of(self, topic: str) -> list[UUID]:
        return self._originators(lambda n: n.topic == topic)

    def _originators(self, wanted: Callable[[Notification], bool]) -> list[UUID]:
        """The aggregates with a wanted event, in log order, each once (a scan of the log)."""
        found: dict[UUID, None] = {}
        position = 0
        while page := self.notifications_after(position, 5000):
            found.update((UUID(str(n.originator_id)), None) for n in page if wanted(n))
            position = page[-1].id
        return list(found)

    def notifications_after(self, position: int, limit: int) -> Sequence[Notification]:
        return self.select_notifications(start=position, limit=limit, inclusive_of_start=False)
