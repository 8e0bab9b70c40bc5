"""From stored events (a notification, or a message of the events topic) to read-model changes.

Shared by the Kafka projector and the embedded in-process feed, so both build
the read models with the same code: open each event's personal part with its
child's key (loaded for the whole batch at once), then the pure projections.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import orjson
from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent

from crypto_shredding.mapper import PersonalDataMapper
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
        batch = recorder.select_notifications(start=position, limit=5000, inclusive_of_start=False)
        if not batch:
            return mine
        mine += [n for n in batch if subject_of_stored(n) == child_id]
        position = batch[-1].id


def project_stored(
    mapper: PersonalDataMapper,
    stored: Sequence[StoredEvent],
    subjects: Sequence[UUID] | None = None,
) -> list[ProjectedEvent]:
    subjects = subjects if subjects is not None else [subject_of_stored(s) for s in stored]
    mapper.data_keys.load(set(subjects), missing_ok=True)
    projected = []
    for item in stored:
        event = mapper.to_domain_event(item)
        originator = (
            item.originator_id
            if isinstance(item.originator_id, UUID)
            else UUID(str(item.originator_id))
        )
        projected.append(
            ProjectedEvent(originator, item.originator_version, project(item.topic, event))
        )
    return projected
