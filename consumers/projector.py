"""The projector: the events topic into the caseworker read models, exactly once in effect.

Each partition's poll becomes one transaction: the rows, the aggregate
versions now reflected, and the partition's offset. On assignment the
consumer seeks to the offset stored with the rows, so a crash at any instant
neither loses nor doubles a change.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from cme.settings import Settings
from consumers import kafka_io
from consumers.lifecycle import TRANSIENT, StopRequestedError, fault_point, retrying
from consumers.projection_feed import project_stored
from crypto_shredding.mapper import PersonalDataMapper
from projections.store import SqlReadModels

log = logging.getLogger("cme.projector")


def stored_from_message(message: Any) -> StoredEvent:
    headers = {k: v.decode() for k, v in message.headers or []}
    return StoredEvent(
        originator_id=UUID(headers["cme-originator-id"]),
        originator_version=int(headers["cme-originator-version"]),
        topic=headers["cme-topic"],
        state=message.value,
    )


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:

            def read(tp: TopicPartition = tp) -> int | None:
                return self.projector.read_models.position(
                    self.projector.consumer_name, tp.partition
                )

            done = retrying(read, self.projector.stop, "reading projector position")
            if done is not None:
                self.projector.consumer.seek(tp, done + 1)
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))


class Projector:
    def __init__(
        self,
        settings: Settings,
        mapper: PersonalDataMapper,
        read_models: SqlReadModels,
        stop: threading.Event,
        consumer: KafkaConsumer | None = None,
        worker: str = "projector",
    ) -> None:
        self.settings = settings
        self.mapper = mapper
        self.read_models = read_models
        self.stop = stop
        self.consumer = consumer or kafka_io.consumer(settings, worker)
        self.consumer_name = f"kafka:{settings.topic_events}"
        self.applied = 0
        self.read = 0
        self.lag = -1  # events behind the end of the topic; -1 until first measured
        self._lag_measured = 0.0

    def status(self) -> str:
        return f"read={self.read} applied={self.applied} lag={self.lag}"

    def run(self) -> None:
        self.consumer.subscribe([self.settings.topic_events], listener=_SeekToStored(self))
        try:
            while not self.stop.is_set():
                try:
                    polled = self.consumer.poll(timeout_ms=500)
                except TRANSIENT as exc:
                    log.warning("poll failed (%s); retrying", type(exc).__name__)
                    self.stop.wait(1.0)
                    continue
                for tp, messages in polled.items():
                    self._handle(tp, messages)
                self._measure_lag()
        except StopRequestedError:
            pass
        finally:
            log.info("projector stopping: read=%d applied=%d", self.read, self.applied)
            self.consumer.close(autocommit=False)

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

    def _handle(self, tp: TopicPartition, messages: list[Any]) -> None:
        stored = [stored_from_message(m) for m in messages]
        subjects = [UUID(m.key.decode()) for m in messages]

        def apply() -> int:
            projected = project_stored(self.mapper, stored, subjects)
            return self.read_models.apply(
                projected, self.consumer_name, tp.partition, messages[-1].offset
            )

        self.applied += retrying(apply, self.stop, "projecting a batch")
        self.read += len(messages)
        fault_point("projector:after-db-commit")
        try:
            self.consumer.commit({tp: OffsetAndMetadata(messages[-1].offset + 1, "", -1)})
        except TRANSIENT as exc:
            log.warning("offset commit failed (%s); the stored position stands", type(exc).__name__)
