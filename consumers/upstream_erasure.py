"""Removing applied upstream messages from the upstream topic (Kafka's DeleteRecords).

An upstream message is sealed to the intake key, which intake keeps: while
the message stays on the topic, the intake key opens it, whatever happened
to the child's own data key. Once intake has applied a message, its effects
live in the event store under the child's key, so the topic's copy is only a
liability. The shred cascade (and each retention run) moves every
partition's start past the position intake stored with its effects, so a
shredded child's messages can no longer be read from the topic by anyone.
Kafka deletes the bytes with whole segments below the new start, once the
active segment has rolled (``segment.ms``, an hour, at the next append);
until then, and in any copy of the topic, they open only with an intake key,
which README's rotation procedure retires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kafka import TopicPartition

from consumers import kafka_io
from consumers.config import KafkaRole, KafkaSettings

log = logging.getLogger("cme.retention")


def intake_position_name(topic: str, partition: int) -> str:
    """The tracking name under which intake stores a partition's applied position."""
    return f"intake:{topic}:{partition}"


class KafkaUpstreamEraser:
    """Moves each upstream partition's start past what intake has applied."""

    def __init__(self, settings: KafkaSettings, applied: Callable[[str], int | None]) -> None:
        self.settings = settings
        self.applied = applied

    def erase_applied(self) -> dict[int, int]:
        """Delete the applied records of every partition; the new start offset of each."""
        topic = self.settings.topic_upstream
        targets: dict[TopicPartition, int] = {}
        for partition, start in kafka_io.start_offsets(
            self.settings, topic, KafkaRole.RETENTION
        ).items():
            position = self.applied(intake_position_name(topic, partition))
            if position is not None and position + 1 > start:
                targets[TopicPartition(topic, partition)] = position + 1
        if targets:
            admin = kafka_io.admin(self.settings, KafkaRole.RETENTION, "eraser")
            try:
                admin.delete_records(targets)
            finally:
                admin.close()
            log.info("deleted applied upstream records below %s", _describe(targets))
        return {tp.partition: offset for tp, offset in targets.items()}


def _describe(targets: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.partition}:{offset}" for tp, offset in sorted(targets.items()))
