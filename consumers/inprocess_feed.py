"""The embedded path: read models fed straight from the event store's notification log.

With no Kafka, the projections follow the store's own ordered log; the
position is the notification id, kept with the rows in one transaction.
"""

from __future__ import annotations

from consumers.projection_feed import feed
from domain.application import CMEApplication, cme_mapper
from domain.stored_reads import notifications_after
from projections.store import SqlReadModels

CONSUMER = "notification-log"


def catch_up(app: CMEApplication, read_models: SqlReadModels, batch: int = 1000) -> int:
    """Apply every notification after the stored position; return how many were read."""
    mapper = cme_mapper(app.data_keys)
    position = read_models.position(CONSUMER, 0) or 0
    total = 0
    while True:
        notifications = notifications_after(app.recorder, position, batch)
        if not notifications:
            return total
        feed(mapper, read_models, notifications, [n.id for n in notifications], CONSUMER, 0)
        position = notifications[-1].id
        total += len(notifications)
