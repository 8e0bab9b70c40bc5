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
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.persistence import StoredEvent
from kafka import KafkaConsumer, TopicPartition

from consumers import kafka_io
from consumers.config import KafkaRole, KafkaSettings
from consumers.lifecycle import fault_point, retrying
from consumers.partition_worker import PartitionWorker
from consumers.projection_feed import UNREADABLE, Fed, feed
from crypto_shredding.mapper import PersonalDataMapper
from projections.store import SqlReadModels

log = logging.getLogger("cme.projector")


def stored_from_message(message: Any) -> StoredEvent:
    """The stored event a message carries; an unreadable one for anything else on the topic.

    Only the relay writes this topic, but a worker must not die on what a
    message says: a record without the relay's headers, or with no value,
    becomes an UNREADABLE stored event, which the feed parks with its reason.
    """
    try:
        headers = {k: v.decode() for k, v in message.headers or []}
        stored = StoredEvent(
            originator_id=UUID(headers["cme-originator-id"]),
            originator_version=int(headers["cme-originator-version"]),
            topic=headers["cme-topic"],
            state=message.value,
        )
        if isinstance(message.value, bytes):
            return stored
    except (KeyError, ValueError, UnicodeDecodeError):
        pass
    where = f"kafka:{message.topic}:{message.partition}:{message.offset}"
    return StoredEvent(uuid5(NAMESPACE_URL, where), 0, UNREADABLE, message.value or b"")


class Projector(PartitionWorker):
    log = log

    def __init__(
        self,
        settings: KafkaSettings,
        mapper: PersonalDataMapper,
        read_models: SqlReadModels,
        stop: threading.Event,
        consumer: KafkaConsumer | None = None,
    ) -> None:
        super().__init__(
            settings.topic_events,
            consumer or kafka_io.consumer(settings, KafkaRole.PROJECTOR),
            stop,
        )
        self.settings = settings
        self.mapper = mapper
        self.read_models = read_models
        self.consumer_name = f"kafka:{settings.topic_events}"
        self.applied = 0
        self.parked = 0
        self.vacuum_due_since: float | None = None
        self.read = 0

    def counts(self) -> dict[str, int]:
        return {"read": self.read, "applied": self.applied, "parked": self.parked, "lag": self.lag}

    def when_idle(self) -> None:
        """After shredded children's rows were redacted, vacuum away their old versions."""
        self._vacuum()

    def _vacuum(self) -> None:
        vacuum = getattr(self.read_models, "vacuum_redacted", None)
        if self.vacuum_due_since is not None and vacuum is not None:
            retrying(vacuum, self.stop, "vacuuming redacted rows")
            log.info("vacuumed the caseworker tables after redactions")
        self.vacuum_due_since = None

    def stored_position(self, tp: TopicPartition) -> int | None:
        return self.read_models.position(self.consumer_name, tp.partition)

    def handle(self, tp: TopicPartition, messages: list[Any]) -> None:
        stored = [stored_from_message(m) for m in messages]

        def apply() -> Fed:
            offsets = [m.offset for m in messages]
            return feed(
                self.mapper, self.read_models, stored, offsets, self.consumer_name, tp.partition
            )

        fed = retrying(apply, self.stop, "projecting a batch")
        if fed.redacted and self.vacuum_due_since is None:
            self.vacuum_due_since = time.monotonic()
        self.applied += fed.applied
        self.parked += fed.parked
        self.read += len(messages)
        fault_point("projector:after-db-commit")
        self.commit(tp, messages[-1].offset)
        if self.vacuum_due_since is not None and time.monotonic() - self.vacuum_due_since > 60:
            self._vacuum()  # busy for a minute since the redactions: do not wait for a lull
