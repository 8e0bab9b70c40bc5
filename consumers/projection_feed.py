"""From stored events (a notification, or a message of the events topic) to read-model changes.

Shared by the Kafka projector and the embedded in-process feed, so both build
the read models with the same code: open each event's personal part with its
child's key (loaded for the whole batch at once), then the pure projections.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

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
