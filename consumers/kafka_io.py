"""kafka-python clients configured the one way this project uses them.

Producers wait for every in-sync replica (acks=all) and are idempotent, so a
retried send is not written twice; consumers never auto-commit: a worker
commits an offset only after its effect is durable.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from cme.settings import Settings


def client_id(worker: str) -> str:
    return f"cme-{worker}-{socket.gethostname()}-{os.getpid()}"


def producer(settings: Settings, worker: str, **overrides: Any) -> KafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.require_kafka(),
        "client_id": client_id(worker),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "retries": 2147483647,
        "max_in_flight_requests_per_connection": 5,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return KafkaProducer(**options)


def consumer(settings: Settings, worker: str, **overrides: Any) -> KafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.require_kafka(),
        "client_id": client_id(worker),
        "group_id": f"{settings.kafka_group_prefix}-{worker}",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Polls span partitions; each partition's share becomes one transaction.
        "max_poll_records": settings.intake_batch_size * 4,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
    options.update(overrides)
    return KafkaConsumer(**options)
