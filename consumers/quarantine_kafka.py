"""The quarantine topic: a Kafka sink for records, and a reader for the operator's tools."""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from cme.settings import Settings
from consumers.kafka_io import client_id
from consumers.kafka_io import producer as make_producer
from consumers.quarantine import QuarantineRecord


class KafkaQuarantine:
    """Durable when ``put`` returns: the records are acknowledged by the broker."""

    def __init__(self, settings: Settings, producer: KafkaProducer | None = None) -> None:
        self.topic = settings.topic_quarantine
        self.producer = producer or make_producer(settings, "intake-quarantine")

    def put(self, records: list[QuarantineRecord]) -> None:
        futures = [
            self.producer.send(
                self.topic,
                key=record.quarantine_id.encode(),
                value=record.to_json(),
                headers=record.headers(),
            )
            for record in records
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker did not take it

    def close(self) -> None:
        self.producer.close()


def read_quarantine(settings: Settings, timeout_ms: int = 2000) -> Iterator[QuarantineRecord]:
    """Every record on the quarantine topic, latest copy per id, oldest first."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.require_kafka(),
        client_id=client_id("quarantine-reader"),
        enable_auto_commit=False,
        consumer_timeout_ms=timeout_ms,
    )
    try:
        partitions = consumer.partitions_for_topic(settings.topic_quarantine) or set()
        assigned = [TopicPartition(settings.topic_quarantine, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        seen: dict[str, QuarantineRecord] = {}
        remaining = {tp for tp in assigned if ends[tp] > 0}
        while remaining:
            polled = consumer.poll(timeout_ms=timeout_ms)
            if not polled:
                break
            for tp, messages in polled.items():
                for message in messages:
                    if message.value is None:  # a tombstone: erased with a shredded child
                        seen.pop(message.key.decode(), None)
                        continue
                    record = QuarantineRecord.from_json(message.value)
                    seen[record.quarantine_id] = record
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        yield from sorted(seen.values(), key=lambda r: r.received_at)
    finally:
        consumer.close()


class KafkaQuarantineEraser:
    """Erases quarantined messages with tombstones on the (compacted) quarantine topic.

    Readers skip an id once its tombstone follows it; compaction then removes
    the record from the broker's log (the topic is created with
    ``cleanup.policy=compact,delete``). The copy was also sealed under its
    month's key, destroyed at the end of the quarantine retention.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def erase(self, digests: set[str]) -> dict[str, list[str]]:
        if not digests:
            return {}
        erased: dict[str, list[str]] = {}
        for record in read_quarantine(self.settings):
            if record.subject_digest in digests:
                erased.setdefault(record.subject_digest, []).append(record.quarantine_id)
        if erased:
            producer = make_producer(self.settings, "quarantine-eraser")
            try:
                futures = [
                    producer.send(self.settings.topic_quarantine, key=qid.encode(), value=None)
                    for ids in erased.values()
                    for qid in ids
                ]
                producer.flush()
                for future in futures:
                    future.get(timeout=30)
            finally:
                producer.close()
        return erased

    def present(self, quarantine_ids: set[str]) -> set[str]:
        if not quarantine_ids:
            return set()
        return {r.quarantine_id for r in read_quarantine(self.settings)} & quarantine_ids
