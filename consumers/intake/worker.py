"""The intake worker: the upstream topic into the event store, one partition's poll at a time.

The database, not Kafka, holds the truth of how far intake has got: each
batch's last offset is written with its effects (the library's tracking
table). On assignment the worker seeks every partition to just after that
position; the Kafka commit that follows each batch only keeps the consumer
group's lag visible.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from eventsourcing.persistence import Tracking
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from cme.settings import Settings
from consumers import kafka_io
from consumers.intake.service import Inbound, IntakeService
from consumers.lifecycle import TRANSIENT, StopRequestedError, fault_point, retrying
from domain.application import CMEApplication

log = logging.getLogger("cme.intake")


def position_name(tp: TopicPartition) -> str:
    return f"intake:{tp.topic}:{tp.partition}"


class _SeekToRecorded(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: IntakeWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            name = position_name(tp)

            def read(name: str = name) -> int | None:
                return self.worker.app.tracked_position(name)

            done = retrying(read, self.worker.stop, "reading intake position")
            if done is not None:
                self.worker.consumer.seek(tp, done + 1)
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))


class IntakeWorker:
    def __init__(
        self,
        settings: Settings,
        app: CMEApplication,
        service: IntakeService,
        stop: threading.Event,
        consumer: KafkaConsumer | None = None,
    ) -> None:
        self.settings = settings
        self.app = app
        self.service = service
        self.stop = stop
        self.consumer = consumer or kafka_io.consumer(settings, "intake")
        self.applied = 0
        self.quarantined = 0
        self.duplicates = 0
        self.lag = -1  # messages behind the end of the topic; -1 until first measured
        self._lag_measured = 0.0

    def status(self) -> str:
        return (
            f"applied={self.applied} duplicates={self.duplicates} "
            f"quarantined={self.quarantined} lag={self.lag}"
        )

    def run(self) -> None:
        self.consumer.subscribe([self.settings.topic_upstream], listener=_SeekToRecorded(self))
        clean = False
        try:
            while not self.stop.is_set():
                try:
                    polled = self.consumer.poll(timeout_ms=500)
                except TRANSIENT as exc:
                    log.warning("poll failed (%s); retrying", type(exc).__name__)
                    self.stop.wait(1.0)
                    continue
                for tp, records in polled.items():
                    self._handle(tp, records)
                self._measure_lag()
            clean = True
        except StopRequestedError:
            clean = True
        finally:
            log.info(
                "intake stopping: applied=%d duplicates=%d quarantined=%d",
                self.applied,
                self.duplicates,
                self.quarantined,
            )
            self.consumer.close(autocommit=False)
            if not clean:
                log.error("intake stopped on an error; restart it to resume where it was")

    def _measure_lag(self) -> None:
        """How far behind the topic's end this worker is (for the status line)."""
        now = time.monotonic()
        if now - self._lag_measured < 5:
            return
        self._lag_measured = now
        assigned = list(self.consumer.assignment())
        if not assigned:
            return
        try:
            ends = self.consumer.end_offsets(assigned)
            self.lag = sum(max(0, ends[tp] - self.consumer.position(tp)) for tp in assigned)
        except TRANSIENT:
            self.lag = -1

    def _handle(self, tp: TopicPartition, records: list[Any]) -> None:
        batch = [Inbound(r.value, r.key, r.topic, r.partition, r.offset) for r in records]
        tracking = Tracking(position_name(tp), records[-1].offset)
        outcome = retrying(
            lambda: self.service.process(batch, tracking), self.stop, "applying an intake batch"
        )
        self.applied += outcome.applied
        self.duplicates += outcome.duplicates
        self.quarantined += len(outcome.quarantined)
        fault_point("intake:after-db-commit")
        try:
            self.consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)})
        except TRANSIENT as exc:  # the database already holds the position
            log.warning(
                "offset commit failed (%s); the database position stands", type(exc).__name__
            )
