"""The loop every Kafka worker that writes to PostgreSQL shares.

Subscribe; on assignment seek each partition to just after the position
stored with the worker's effects; poll; hand each partition's records to the
worker (which writes effects and position in one transaction); then commit
the offset to Kafka only to keep the group's lag visible. Transient poll
failures are retried; a stop request ends the loop after the batch in hand.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from consumers.lifecycle import TRANSIENT, StopRequestedError, retrying


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: PartitionWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker.log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:

            def read(tp: TopicPartition = tp) -> int | None:
                return self.worker.stored_position(tp)

            done = retrying(read, self.worker.stop, "reading the stored position")
            if done is not None:
                self.worker.consumer.seek(tp, done + 1)
            self.worker.done_up_to[tp] = None if done is None else done + 1
        self.worker.log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))


class PartitionWorker(ABC):
    """A consumer whose position lives with its effects; subclasses say what to do."""

    log: logging.Logger

    def __init__(self, topic: str, consumer: KafkaConsumer, stop: threading.Event) -> None:
        self.topic = topic
        self.consumer = consumer
        self.stop = stop
        # The partitions' (ends, starts) as last measured, swapped as one object: the
        # status line reads it from another thread (None: not measured, or failed).
        self._bounds: tuple[dict[TopicPartition, int], dict[TopicPartition, int]] | None = None
        self._lag_measured = 0.0
        # Per assigned partition, the next offset whose effect is not yet stored
        # (None: nothing stored yet, so the partition's beginning).
        self.done_up_to: dict[TopicPartition, int | None] = {}

    @abstractmethod
    def stored_position(self, tp: TopicPartition) -> int | None:
        """The last offset whose effect is durable (None: nothing yet)."""

    @abstractmethod
    def handle(self, tp: TopicPartition, records: list[Any]) -> None:
        """Apply a partition's records and store their last offset, in one transaction."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """What the worker has done so far (for status lines and waiting callers)."""

    def when_idle(self) -> None:  # noqa: B027 - optional hook; most workers have nothing to do
        """Housekeeping that waits until the worker has caught up (a poll found nothing)."""

    def status(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.counts().items())

    def run(self) -> None:
        self._wait_for_topic()
        self.consumer.subscribe([self.topic], listener=_SeekToStored(self))
        clean = False
        try:
            while not self.stop.is_set():
                try:
                    polled = self.consumer.poll(timeout_ms=500)
                except TRANSIENT as exc:
                    self.log.warning("poll failed (%s); retrying", type(exc).__name__)
                    self.stop.wait(1.0)
                    continue
                for tp, records in polled.items():
                    self.handle(tp, records)
                    self.done_up_to[tp] = records[-1].offset + 1
                self._measure_lag()
                if not polled:
                    self.when_idle()
            clean = True
        except StopRequestedError:
            clean = True
        finally:
            self.log.info("stopping: %s", self.status())
            self.consumer.close(autocommit=False)
            if not clean:
                self.log.error("stopped on an error; restart to resume where it was")

    def _wait_for_topic(self) -> None:
        """Know the topic's partitions before joining the group.

        A consumer that joined before its topic's metadata was known was once
        assigned nothing and, now and then, never assigned anything after:
        the services demo then waited ten minutes for a projector doing nothing.
        """
        waited = False
        while not self.stop.is_set():
            try:
                if self.consumer.partitions_for_topic(self.topic):
                    return
            except TRANSIENT as exc:
                self.log.warning(
                    "reading %s's metadata failed (%s)", self.topic, type(exc).__name__
                )
            if not waited:
                self.log.info("waiting for the topic %s to have partitions", self.topic)
                waited = True
            self.stop.wait(1.0)

    def commit(self, tp: TopicPartition, last_offset: int) -> None:
        try:
            self.consumer.commit({tp: OffsetAndMetadata(last_offset + 1, "", -1)})
        except TRANSIENT as exc:  # the database already holds the position
            self.log.warning(
                "offset commit failed (%s); the stored position stands", type(exc).__name__
            )

    @property
    def lag(self) -> int:
        """Messages on the assigned partitions whose effect is not stored yet (-1: unknown).

        The ends of the partitions are measured every few seconds; what was
        applied is counted now, so a busy worker's figure does not lag behind
        its own progress (it once read lag=3000 with 3340 of 5000 applied).
        """
        bounds = self._bounds  # one read: the worker thread may replace it meanwhile
        if bounds is None:
            return -1
        ends, starts = bounds
        lag = 0
        for tp, end in ends.items():
            start = starts.get(tp, 0)
            done = self.done_up_to.get(tp)
            lag += max(0, end - (start if done is None else max(done, start)))
        return lag

    def _measure_lag(self) -> None:
        """The ends of the assigned partitions, measured every few seconds.

        Lag is counted from what was applied, not from the consumer's fetch
        position, which runs ahead by whatever the client has prefetched.
        """
        now = time.monotonic()
        if now - self._lag_measured < 5:
            return
        self._lag_measured = now
        assigned = list(self.consumer.assignment())
        try:
            ends = self.consumer.end_offsets(assigned) if assigned else {}
            starts = self.consumer.beginning_offsets(assigned) if assigned else {}
        except TRANSIENT:
            self._bounds = None
            return
        self._bounds = (ends, starts)
