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
from typing import Any

from eventsourcing.persistence import Tracking
from kafka import KafkaConsumer, TopicPartition

from application import CMEApplication
from consumers import kafka_io
from consumers.config import KafkaRole, KafkaSettings
from consumers.intake.service import Inbound, IntakeService
from consumers.lifecycle import fault_point, retrying
from consumers.partition_worker import PartitionWorker
from consumers.upstream_erasure import intake_position_name

log = logging.getLogger("cme.intake")


def position_name(tp: TopicPartition) -> str:
    return intake_position_name(tp.topic, tp.partition)


class IntakeWorker(PartitionWorker):
    log = log

    def __init__(
        self,
        settings: KafkaSettings,
        app: CMEApplication,
        service: IntakeService,
        stop: threading.Event,
        consumer: KafkaConsumer | None = None,
    ) -> None:
        super().__init__(
            settings.topic_upstream, consumer or kafka_io.consumer(settings, KafkaRole.INTAKE), stop
        )
        self.settings = settings
        self.app = app
        self.service = service
        self.applied = 0
        self.quarantined = 0
        self.duplicates = 0

    def counts(self) -> dict[str, int]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "lag": self.lag,
        }

    def stored_position(self, tp: TopicPartition) -> int | None:
        return self.app.tracked_position(position_name(tp))

    def handle(self, tp: TopicPartition, records: list[Any]) -> None:
        batch = [Inbound(r.value, r.key, r.topic, r.partition, r.offset) for r in records]
        tracking = Tracking(position_name(tp), records[-1].offset)
        outcome = retrying(
            lambda: self.service.process(batch, tracking), self.stop, "applying an intake batch"
        )
        self.applied += outcome.applied
        self.duplicates += outcome.duplicates
        self.quarantined += len(outcome.quarantined)
        fault_point("intake:after-db-commit")
        self.commit(tp, records[-1].offset)
