"""The quarantine topic: a Kafka sink for records, and a reader for the operator's tools."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from kafka import KafkaProducer, TopicPartition

from consumers.config import KafkaRole, KafkaSettings
from consumers.kafka_io import producer as make_producer
from consumers.kafka_io import reader
from consumers.quarantine import QuarantineRecord, subject_keys


class KafkaQuarantine:
    """Durable when ``put`` returns: the records are acknowledged by the broker."""

    def __init__(self, settings: KafkaSettings, producer: KafkaProducer | None = None) -> None:
        self.topic = settings.topic_quarantine
        self.producer = producer or make_producer(settings, KafkaRole.INTAKE)

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


class QuarantineView:
    """The quarantine topic's current records (latest copy per id, tombstones applied).

    Kept open, ``refresh`` reads only what arrived since the last call, so the
    shred cascade can look a thousand children up at a time without reading
    the whole topic again for each batch.
    """

    def __init__(self, settings: KafkaSettings, role: KafkaRole, timeout_ms: int = 2000) -> None:
        self.timeout_ms = timeout_ms
        self.consumer = reader(settings, role, "quarantine-reader", consumer_timeout_ms=timeout_ms)
        partitions = self.consumer.partitions_for_topic(settings.topic_quarantine) or set()
        self.assigned = [TopicPartition(settings.topic_quarantine, p) for p in sorted(partitions)]
        self.consumer.assign(self.assigned)
        self.consumer.seek_to_beginning(*self.assigned)
        self.records: dict[str, QuarantineRecord] = {}

    def refresh(self) -> dict[str, QuarantineRecord]:
        ends = self.consumer.end_offsets(self.assigned)
        remaining = {tp for tp in self.assigned if self.consumer.position(tp) < ends[tp]}
        while remaining:
            polled = self.consumer.poll(timeout_ms=self.timeout_ms)
            if not polled:
                break
            for tp, messages in polled.items():
                for message in messages:
                    if message.value is None:  # a tombstone: erased with a shredded child
                        self.records.pop(message.key.decode(), None)
                        continue
                    record = QuarantineRecord.from_json(message.value)
                    self.records[record.quarantine_id] = record
                if self.consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return self.records

    def close(self) -> None:
        self.consumer.close()


def read_quarantine(
    settings: KafkaSettings, role: KafkaRole = KafkaRole.OPERATOR, timeout_ms: int = 2000
) -> Iterator[QuarantineRecord]:
    """Every record on the quarantine topic, latest copy per id, oldest first."""
    view = QuarantineView(settings, role, timeout_ms)
    try:
        records = view.refresh()
    finally:
        view.close()
    yield from sorted(records.values(), key=lambda r: r.received_at)


class KafkaQuarantineEraser:
    """Erases quarantined messages with tombstones on the (compacted) quarantine topic.

    Readers skip an id once its tombstone follows it; compaction then removes
    the record from the broker's log (the topic is created with
    ``cleanup.policy=compact,delete``). The copy was also sealed under its
    month's key, destroyed at the end of the quarantine retention. A view of
    the topic stays open between calls until :meth:`close` (the end of a run).
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._view: QuarantineView | None = None

    def keys_of(self, digests: set[str]) -> set[UUID]:
        if not digests:
            return set()
        if self._view is None:
            self._view = QuarantineView(self.settings, KafkaRole.RETENTION)
        return subject_keys(self._view.refresh().values(), digests)

    def erase(self, digests: set[str]) -> dict[str, list[str]]:
        if not digests:
            return {}
        if self._view is None:
            self._view = QuarantineView(self.settings, KafkaRole.RETENTION)
        erased: dict[str, list[str]] = {}
        for record in self._view.refresh().values():
            if record.subject_digest in digests:
                erased.setdefault(record.subject_digest, []).append(record.quarantine_id)
        if erased:
            producer = make_producer(self.settings, KafkaRole.RETENTION)
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

    def close(self) -> None:
        if self._view is not None:
            self._view.close()
            self._view = None
