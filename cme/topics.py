"""The Kafka topics the project needs, created idempotently with kafka-python."""

from __future__ import annotations

from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from cme.settings import Settings
from consumers import kafka_io
from consumers.config import KafkaRole


def required_topics(settings: Settings) -> dict[str, int]:
    """Topic name to partition count; one child's messages share a partition by key."""
    partitions = settings.kafka_partitions
    return {
        settings.topic_upstream: partitions,
        settings.topic_quarantine: max(1, partitions // 2),
        settings.topic_events: partitions,
    }


HOUR_MS = 3_600_000


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Per-topic retention, set by the project rather than left to the broker's defaults.

    - upstream: kept ``CME_UPSTREAM_RETENTION_HOURS`` (7 days), long enough
      for intake to be down over a weekend; applied records are deleted
      earlier by the shred cascade. Hourly segments, so deleted records
      leave the disk within about an hour (Kafka removes whole segments).
    - quarantine: compacted, so a shredded child's tombstoned records leave
      the log; kept as long as quarantined originals stay readable.
    - events: sealed under each child's key, so shredding makes every copy
      unreadable wherever it is; kept 7 days for the projector to catch up.
    """
    upstream_ms = settings.upstream_retention_hours * HOUR_MS
    quarantine_ms = (settings.quarantine_retention_days + 31) * 24 * HOUR_MS
    return {
        settings.topic_upstream: {
            "retention.ms": str(upstream_ms),
            "segment.ms": str(HOUR_MS),
        },
        settings.topic_quarantine: {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(quarantine_ms),
            "segment.ms": str(HOUR_MS),
        },
        settings.topic_events: {"retention.ms": str(7 * 24 * HOUR_MS)},
    }


def ensure_topics(
    settings: Settings, topics: dict[str, int], configs: dict[str, dict[str, str]] | None = None
) -> list[str]:
    """Create the missing topics and apply ``configs`` as the admin; the names created now."""
    configs = configs or {}
    admin = kafka_io.admin(settings, KafkaRole.ADMIN, "topic-admin")
    try:
        existing = set(admin.list_topics())
        missing = [name for name in topics if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name, topics[name], 1, topic_configs=configs.get(name, {}))]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        changes = [
            ConfigResource(ConfigResourceType.TOPIC, name, configs=wanted)
            for name, wanted in configs.items()
            if name in existing
        ]
        if changes:
            admin.alter_configs(changes)
        return created
    finally:
        admin.close()
