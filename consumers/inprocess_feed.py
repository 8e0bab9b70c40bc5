"""The embedded path: read models fed straight from the event store's notification log.

With no Kafka, the projections follow the store's own ordered log; the
position is the notification id, kept with the rows in one transaction.
"""

from __future__ import annotations

from application import CMEApplication
from consumers.projection_feed import feed
from projections.store import SqlReadModels

CONSUMER = "notification-log"


def catch_up(app: CMEApplication, read_models: SqlReadModels, batch: int = 1000) -> int:
    """Apply every notification after the stored position; return how many were read."""
    mapper = app.batch_mapper
    position = read_models.position(CONSUMER, 0) or 0
    total = 0
    while True:
        notifications = app.queries.notifications_after(position, batch)
        if not notifications:
            return total
        feed(mapper, read_models, notifications, [n.id for n in notifications], CONSUMER, 0)
        position = notifications[-1].id
        total += len(notifications)
