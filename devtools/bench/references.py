"""References measured in the same run as the figure they stand beside."""

from __future__ import annotations

import uuid

from kafka import KafkaConsumer

from cme.settings import Settings
from consumers import kafka_io
from consumers.config import KafkaRole
from devtools.bench.report import Stopwatch


def raw_consume_seconds(settings: Settings, topic: str, count: int) -> float:
    """The reference: a bare consumer (as the admin, which any group may be) reading the topic."""
    consumer = KafkaConsumer(
        topic,
        **kafka_io.connection(settings, KafkaRole.ADMIN),
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    try:
        seen = 0
        watch: Stopwatch | None = None
        while seen < count:
            polled = consumer.poll(timeout_ms=1000)
            if watch is None and polled:
                watch = Stopwatch()
            seen += sum(len(records) for records in polled.values())
        return watch.seconds() if watch else 0.0
    finally:
        consumer.close()
