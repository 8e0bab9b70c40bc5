"""From stored events (a notification, or a message of the events topic) to read-model changes.

Shared by the Kafka projector and the embedded in-process feed, so both build
the read models with the same code: open each event's personal part with its
child's key (loaded for the whole batch at once), then the pure projections.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent

from crypto_shredding.mapper import PersonalDataMapper
from domain.stored_reads import notifications_after
from projections.caseworker import project
from projections.store import ProjectedEvent


def subject_of_stored(stored: StoredEvent) -> UUID:
    """Whose event this is, read from the clear part of the stored state."""
    child_id = orjson.loads(stored.state).get("child_id")
    if isinstance(child_id, dict):  # the library's transcoding of a UUID
        return UUID(child_id["_data_"])
    return (
        stored.originator_id
        if isinstance(stored.originator_id, UUID)
        else UUID(str(stored.originator_id))
    )


def notifications_of(recorder: ApplicationRecorder, child_id: UUID) -> list[Notification]:
    """Every stored event of the child or naming the child, in log order (a full scan)."""
    mine: list[Notification] = []
    position = 0
    while True:
        batch = notifications_after(recorder, position, 5000)
        if not batch:
            return mine
        mine += [n for n in batch if subject_of_stored(n) == child_id]
        position = batch[-1].id


def project_stored(
    mapper: PersonalDataMapper, stored: Sequence[StoredEvent]
) -> list[ProjectedEvent]:
    """Read-model changes of a batch, with one key-store query for the whole batch."""
    projected = []
    for item, event in zip(stored, mapper.to_domain_events(stored), strict=True):
        originator = (
            item.originator_id
            if isinstance(item.originator_id, UUID)
            else UUID(str(item.originator_id))
        )
        projected.append(
            ProjectedEvent(originator, item.originator_version, project(item.topic, event))
        )
    return projected


def replay(
    recorder: ApplicationRecorder, mapper: PersonalDataMapper, page: int = 10_000
) -> Iterator[list[DomainEventProtocol[UUID]]]:
    """The whole log as domain events, a page at a time, personal parts opened.

    Each page's keys are unwrapped with one query before its events are
    opened, so a full replay costs a key-store round trip per page rather
    than per child.
    """
    position = 0
    while True:
        notifications = notifications_after(recorder, position, page)
        if not notifications:
            return
        yield mapper.to_domain_events(notifications)
        position = notifications[-1].id
