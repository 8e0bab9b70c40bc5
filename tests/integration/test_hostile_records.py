"""Hostile records from a raw Kafka producer never stop intake: each is quarantined with its reason.

The records are built and published without the project's publisher: a
plain kafka-python producer, HPKE sealing straight from ``cryptography``, and
values no well-behaved sender would send (tombstones, 10,000-deep nesting,
NUL characters, duplicate keys, wrong record keys). Each once stopped a
worker for good or slipped past a check.
"""

from __future__ import annotations

from kafka import KafkaProducer

from cme.bootstrap import App
from cme.secrets import intake_public_key
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.quarantine_kafka import read_quarantine
from devtools.synthetic import SyntheticCounty, SyntheticTraffic
from tests.intake_support import Sealer, hostile_records
from tests.integration.workers import WorkerEnvironment, wait_for
from tests.seeds import seed

PARTITIONS = 1


def test_hostile_records_are_quarantined_and_intake_keeps_going(
    workers: WorkerEnvironment, app: App
) -> None:
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed("hostile records")))
    kid, public_key = intake_public_key(workers.settings)
    sealer = Sealer(kid, public_key, workers.senders)
    cases = hostile_records(sealer, traffic)
    goods = [traffic.referral(traffic.new_child()) for _ in cases]
    # One partition: each hostile record is followed by a good one behind it.
    producer = KafkaProducer(**kafka_io.connection(workers.settings, KafkaRole.SENDER), acks="all")
    try:
        for (_, value, key, _, _), good in zip(cases, goods, strict=True):
            producer.send(workers.settings.topic_upstream, key=key, value=value)
            producer.send(
                workers.settings.topic_upstream,
                key=good["subject_ref"].encode(),
                value=sealer.seal(good),
            )
        producer.flush()
    finally:
        producer.close()
    worker = workers.start("intake")

    def applied(line: dict[str, object]) -> bool:
        return app.find_child_by_sender_ref(f"{line['sender']}|{line['subject_ref']}") is not None

    wait_for(lambda: all(applied(g) for g in goods), 90, "every good record", workers.logs)
    wait_for(
        lambda: len(list(read_quarantine(workers.settings))) == len(cases),
        30,
        "the quarantine",
        workers.logs,
    )
    found = {r.source_offset: r.reason for r in read_quarantine(workers.settings)}
    for index, (name, _, _, code, field) in enumerate(cases):
        reason = found[2 * index]
        assert (reason.code, reason.field) == (code, field), name
    # The worker is alive and stops cleanly: nothing it read killed it.
    assert worker.poll() is None, workers.logs()
    assert workers.stop(worker) == 0, workers.logs()
