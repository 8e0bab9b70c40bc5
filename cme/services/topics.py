"""The Kafka topics the project needs, created idempotently with kafka-python."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from cme.settings import Settings


def required_topics(settings: Settings) -> dict[str, int]:
    """Topic name to partition count; one child's messages share a partition by key."""
    partitions = settings.kafka_partitions
    return {
        settings.topic_upstream: partitions,
        settings.topic_quarantine: max(1, partitions // 2),
        settings.topic_events: partitions,
    }


def ensure_topics(bootstrap: str, topics: dict[str, int]) -> list[str]:
    """Create the missing topics; return the names this call created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="cme-services")
    try:
        existing = set(admin.list_topics())
        missing = [name for name in topics if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, topics[name], 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
