"""A school cannot publish as another, and a revoked sender is refused: through the real broker.

The records are written by a bare kafka-python producer holding only the
sender principal, as an upstream system in another language would; the
intake worker runs as its own process and reads the sender register from
PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from cme.bootstrap import App
from cme.secrets import intake_public_key
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.quarantine_kafka import read_quarantine
from devtools.senders import public_key_b64
from devtools.synthetic import SyntheticTraffic
from domain import commands as c
from tests.intake_support import Sealer
from tests.integration.test_intake_kafka import child_of, referral_applied_once
from tests.integration.workers import WorkerEnvironment, wait_for

PARTITIONS = 1


def _send(workers: WorkerEnvironment, records: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(**kafka_io.connection(workers.settings, KafkaRole.SENDER), acks="all")
    try:
        for key, value in records:
            producer.send(workers.settings.topic_upstream, key=key.encode(), value=value)
        producer.flush()
    finally:
        producer.close()


def _reasons(workers: WorkerEnvironment) -> list[tuple[str, str, str | None]]:
    records = sorted(read_quarantine(workers.settings), key=lambda r: r.source_offset)
    return [(r.reason.code, r.reason.field, r.message_id) for r in records]


def test_only_the_registered_sender_can_seal_as_itself_and_revocation_stops_it(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic
) -> None:
    sealer = Sealer(*intake_public_key(workers.settings), workers.senders)
    school_a = traffic.referral(traffic.new_child())
    school_b = traffic.referral(traffic.new_child())
    school_b["sender"] = "school-mis:900002"
    forged = traffic.referral(traffic.new_child())
    forged["sender"] = school_a["sender"]
    as_a_by_b = sealer.seal_plaintext(
        forged,
        json.dumps(forged["payload"]).encode(),
        sealed_by=workers.senders[school_b["sender"]],  # B's own, registered, key
    )
    worker = workers.start("intake")
    _send(
        workers,
        [
            (school_a["subject_ref"], sealer.seal(school_a)),
            (school_b["subject_ref"], sealer.seal(school_b)),
            (forged["subject_ref"], as_a_by_b),
            (forged["subject_ref"], sealer.seal_base_mode(forged)),
        ],
    )
    wait_for(lambda: len(_reasons(workers)) == 2, 60, "two refusals", workers.logs)
    assert child_of(app, school_a) is not None
    assert child_of(app, school_b) is not None
    assert child_of(app, forged) is None
    assert _reasons(workers) == [
        ("sender_not_authenticated", "payload", forged["message_id"]),
        ("sender_not_authenticated", "payload.alg", forged["message_id"]),
    ]

    app.revoke_sender(
        c.RevokeSender(actor="staff:dpo-1", sender=school_b["sender"], reason="key leaked")
    )
    after = traffic.referral(traffic.new_child())
    after["sender"] = school_b["sender"]
    _send(workers, [(after["subject_ref"], sealer.seal(after))])
    wait_for(lambda: len(_reasons(workers)) == 3, 60, "the revoked sender refused", workers.logs)
    assert _reasons(workers)[-1] == ("sender_not_authenticated", "sender", after["message_id"])
    assert child_of(app, after) is None
    assert workers.stop(worker) == 0, workers.logs()


def test_a_school_registered_late_has_its_quarantined_message_replayed_by_an_operator(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic
) -> None:
    """The operator's path end to end: refused, the school registered, replayed, applied once.

    The replay goes out as the operator principal with headers naming the
    quarantined message and who re-submitted it.
    """
    school = "school-mis:900777"
    key = X25519PrivateKey.generate()
    sealer = Sealer(*intake_public_key(workers.settings), {school: key})
    line = traffic.referral(traffic.new_child())
    line["sender"] = school
    worker = workers.start("intake")
    _send(workers, [(line["subject_ref"], sealer.seal(line))])
    wait_for(
        lambda: len(_reasons(workers)) == 1, 60, "the unregistered school refused", workers.logs
    )
    assert _reasons(workers) == [("sender_not_authenticated", "sender", line["message_id"])]
    assert child_of(app, line) is None

    app.register_sender(
        c.RegisterSender(actor="staff:dpo-1", sender=school, public_key=public_key_b64(key))
    )
    quarantined = next(iter(read_quarantine(workers.settings)))
    replay = ["quarantine", "replay", quarantined.quarantine_id[:12]]
    refused = workers.command(*replay)  # who re-submits it is required
    assert refused.returncode == 2 and "--actor" in refused.stderr
    replayed = workers.command(*replay, "--actor", "staff:ops-1")
    assert replayed.returncode == 0, replayed.stderr
    wait_for(lambda: child_of(app, line) is not None, 60, "the replay applied", workers.logs)
    assert referral_applied_once(app, line)
    headers = dict(_upstream_records(workers)[-1].headers)
    assert headers["cme-replay-of"] == quarantined.quarantine_id.encode()
    assert headers["cme-replayed-by"] == b"staff:ops-1"
    assert workers.stop(worker) == 0, workers.logs()


def _upstream_records(workers: WorkerEnvironment) -> list[Any]:
    """Every record on the upstream topic, read as the auditor (who may read every topic)."""
    consumer = KafkaConsumer(
        **kafka_io.connection(workers.settings, KafkaRole.AUDITOR),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        partitions = [
            TopicPartition(workers.settings.topic_upstream, p)
            for p in consumer.partitions_for_topic(workers.settings.topic_upstream) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        return sorted(consumer, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()
