"""From stored events (a notification, or a message of the events topic) to read-model changes.

Shared by the Kafka projector and the embedded in-process feed, so both build
the read models with the same code: open each event's personal part with its
child's key (loaded for the whole batch at once), then the pure projections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent

from application.ports import BatchMapper, EventStoreQueries
from consumers.lifecycle import TRANSIENT, where
from eventstore.scanning import subject_of_stored
from projections.caseworker import project
from projections.changes import RedactChild
from projections.store import ParkedEvent, ProjectedEvent, SqlReadModels

log = logging.getLogger("cme.projector")


def notifications_of(recorder: EventStoreQueries, child_id: UUID) -> list[Notification]:
    """Every stored event of the child or naming the child, in log order (a full scan)."""
    mine: list[Notification] = []
    position = 0
    while True:
        batch = recorder.notifications_after(position, 5000)
        if not batch:
            return mine
        mine += [n for n in batch if subject_of_stored(n) == child_id]
        position = batch[-1].id


def project_stored(mapper: BatchMapper, stored: Sequence[StoredEvent]) -> list[ProjectedEvent]:
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


UNREADABLE = "(unreadable message)"
"""The topic given to a message of the events topic that is no stored event at all."""


@dataclass
class Fed:
    """What one feeding of the read models did."""

    applied: int = 0
    parked: int = 0
    redacted: int = 0


def _originator(item: StoredEvent) -> UUID:
    oid = item.originator_id
    return oid if isinstance(oid, UUID) else UUID(str(oid))


def feed(
    mapper: BatchMapper,
    read_models: SqlReadModels,
    stored: Sequence[StoredEvent],
    positions: Sequence[int],
    consumer: str,
    part: int,
) -> Fed:
    """Apply a batch with its last position, setting aside any event that cannot be applied.

    The batch goes in one transaction. If it fails for a reason other than
    a service being down, each event is tried alone, with its own position:
    one that still fails is parked with the reason (the exception's type and
    place, never its message), and so is every later event of the same
    aggregate, so its rows are not built on a gap; every other child's rows
    flow on. Used by the Kafka projector, the embedded feed and the rebuild.
    """
    held = read_models.parked_among(_originator(item) for item in stored)
    if not held:
        try:
            projected = project_stored(mapper, stored)
            return Fed(
                applied=read_models.apply(projected, consumer, part, positions[-1]),
                redacted=_redactions(projected),
            )
        except TRANSIENT:
            raise
        except Exception:
            log.warning("a batch of %d events failed; applying them one by one", len(stored))
    fed = Fed()
    for item, position in zip(stored, positions, strict=True):
        originator = _originator(item)
        reason = None
        if item.topic == UNREADABLE:
            reason = "unreadable_message: not an event the relay publishes"
        elif originator in held:
            reason = "behind_a_parked_event"
            fed.redacted += _redact_now(mapper, read_models, item)
        else:
            try:
                projected = project_stored(mapper, [item])
                fed.applied += read_models.apply(projected, consumer, part, position)
                fed.redacted += _redactions(projected)
                continue
            except TRANSIENT:
                raise
            except Exception as exc:
                reason = where(exc)
        parked = ParkedEvent.now(
            originator, item.originator_version, item.topic, bytes(item.state or b""), reason
        )
        read_models.park(parked, consumer, part, position)
        log.error("parked %s v%d (%s): %s", originator, item.originator_version, item.topic, reason)
        held.add(originator)
        fed.parked += 1
    return fed


def _redactions(projected: Sequence[ProjectedEvent]) -> int:
    return sum(isinstance(c, RedactChild) for p in projected for c in p.changes)


def _redact_now(mapper: BatchMapper, read_models: SqlReadModels, item: StoredEvent) -> int:
    """A shredding must not wait behind a parked event: the values go now, the facts later."""
    try:
        projected = project_stored(mapper, [item])
    except TRANSIENT:
        raise
    except Exception:
        return 0
    redactions = [c for c in projected[0].changes if isinstance(c, RedactChild)]
    if redactions:
        read_models.redact(redactions)
    return len(redactions)


def replay_parked(mapper: BatchMapper, read_models: SqlReadModels) -> Fed:
    """Try every parked event again, aggregate by aggregate in version order.

    An event that now applies leaves the parked table in the same
    transaction; the first that still fails keeps itself and the rest of its
    aggregate parked, with the new reason.
    """
    fed = Fed()
    stuck: set[UUID] = set()
    for parked in read_models.parked():
        if parked.originator_id in stuck or parked.topic == UNREADABLE:
            fed.parked += 1
            continue
        item = StoredEvent(parked.originator_id, parked.version, parked.topic, parked.state)
        try:
            fed.applied += read_models.apply(
                project_stored(mapper, [item]),
                "replay",
                0,
                None,
                unpark=[(parked.originator_id, parked.version)],
            )
        except TRANSIENT:
            raise
        except Exception as exc:
            again = ParkedEvent.now(
                parked.originator_id, parked.version, parked.topic, parked.state, where(exc)
            )
            read_models.park(again, "replay", 0, None)
            stuck.add(parked.originator_id)
            fed.parked += 1
    return fed


def replay(
    recorder: EventStoreQueries, mapper: BatchMapper, page: int = 10_000
) -> Iterator[list[DomainEventProtocol[UUID]]]:
    """The whole log as domain events, a page at a time, personal parts opened.

    Each page's keys are unwrapped with one query before its events are
    opened, so a full replay costs a key-store round trip per page rather
    than per child.
    """
    position = 0
    while True:
        notifications = recorder.notifications_after(position, page)
        if not notifications:
            return
        yield mapper.to_domain_events(notifications)
        position = notifications[-1].id
