"""The relay: the event store's notification log, in order, onto the events topic.

Each stored event goes out as it is stored (personal part still sealed),
keyed by its child so one child's events stay in one partition and in order.
The relay's position is written to the tracking table after the broker has
acknowledged the batch; a crash in between republishes that batch, which the
consumers recognise (by aggregate version) and skip.
"""

from __future__ import annotations

import logging
import threading
from functools import partial

from eventsourcing.persistence import IntegrityError, Notification, ProcessRecorder, Tracking
from kafka import KafkaProducer

from application import CMEApplication
from consumers import kafka_io
from consumers.config import KafkaRole, KafkaSettings
from consumers.lifecycle import StopRequestedError, fault_point, retrying
from eventstore.scanning import subject_of_stored

log = logging.getLogger("cme.relay")


def headers_of(notification: Notification) -> list[tuple[str, bytes]]:
    return [
        ("cme-notification-id", str(notification.id).encode()),
        ("cme-originator-id", str(notification.originator_id).encode()),
        ("cme-originator-version", str(notification.originator_version).encode()),
        ("cme-topic", notification.topic.encode()),
    ]


class Relay:
    def __init__(
        self,
        settings: KafkaSettings,
        app: CMEApplication,
        stop: threading.Event,
        producer: KafkaProducer | None = None,
        batch: int = 500,
    ) -> None:
        self.settings = settings
        self.app = app
        self.stop = stop
        self.producer = producer or kafka_io.producer(settings, KafkaRole.RELAY)
        self.batch = batch
        self.name = f"relay:{settings.topic_events}"
        self.published = 0

    def counts(self) -> dict[str, int]:
        return {"published": self.published}

    def run(self) -> None:
        try:
            position = (
                retrying(
                    lambda: self.app.tracked_position(self.name),
                    self.stop,
                    "reading relay position",
                )
                or 0
            )
            while not self.stop.is_set():
                moved = retrying(partial(self.step, position), self.stop, "relaying events")
                if moved == position:
                    self.stop.wait(0.2)
                position = moved
        except StopRequestedError:
            pass
        finally:
            log.info("relay stopping: published=%d", self.published)
            self.producer.close()

    def step(self, position: int) -> int:
        """Publish the next batch after ``position``; return the new position."""
        notifications = self.app.recorder.select_notifications(
            start=position, limit=self.batch, inclusive_of_start=False
        )
        if not notifications:
            return position
        futures = [
            self.producer.send(
                self.settings.topic_events,
                key=str(subject_of_stored(n)).encode(),
                value=n.state,
                headers=headers_of(n),
            )
            for n in notifications
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)
        fault_point("relay:after-publish")
        recorder = self.app.recorder
        assert isinstance(recorder, ProcessRecorder)  # noqa: S101 - see construct_recorder
        last = notifications[-1].id
        try:
            recorder.insert_tracking(Tracking(self.name, last))
        except IntegrityError:
            # The same position is stored already: a commit whose reply was lost
            # (the database went down), retried. Anything else is a real conflict.
            stored = self.app.tracked_position(self.name)
            if stored is None or stored < last:
                raise
        self.published += len(notifications)
        return last
