"""Shredding reaches every copy: the upstream topic and the quarantine topic included.

After a child was shredded, their upstream messages still sat on the
upstream topic, sealed to the intake key that intake keeps, and opened; an
"erased" quarantine record stayed on the topic behind its tombstone with its
month's key alive. `cme shred verify` must fail while any of that opens and
pass once nothing does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from cme.bootstrap import App, build_application, build_retention_job
from cme.secrets import intake_public_key
from cme.shred import _upstream_topic, verify
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.upstream_erasure import KafkaUpstreamEraser
from devtools.synthetic import SyntheticCounty, SyntheticTraffic
from domain.commands import RegisterChild
from domain.values import ShredReason
from tests.conftest import Services
from tests.intake_support import Sealer
from tests.integration.workers import WorkerEnvironment, wait_for
from tests.seeds import seed

PARTITIONS = 2


@pytest.fixture
def app(workers: WorkerEnvironment) -> Iterator[App]:
    application = build_application(workers.settings)
    yield application
    application.close()


def publish(workers: WorkerEnvironment, lines: list[dict[str, Any]]) -> None:
    sealer = Sealer(*intake_public_key(workers.settings), workers.senders)
    producer = KafkaProducer(**kafka_io.connection(workers.settings, KafkaRole.SENDER), acks="all")
    try:
        for line in lines:
            producer.send(
                workers.settings.topic_upstream,
                key=line["subject_ref"].encode(),
                value=sealer.seal(line),
            )
        producer.flush()
    finally:
        producer.close()


def nothing_left_on_the_upstream_topic(workers: WorkerEnvironment) -> bool:
    """Every partition's start is its end: no record can be read by anyone."""
    topic = workers.settings.topic_upstream
    consumer = KafkaConsumer(**kafka_io.connection(workers.settings, KafkaRole.AUDITOR))
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        starts, ends = consumer.beginning_offsets(parts), consumer.end_offsets(parts)
        assert sum(ends.values()) > 0, "nothing was ever published: the check proves nothing"
        return all(starts[tp] == ends[tp] for tp in parts)
    finally:
        consumer.close()


def test_verify_fails_while_upstream_messages_open_and_passes_once_none_can(
    workers: WorkerEnvironment, app: App
) -> None:
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed("upstream shredding")))
    child = traffic.new_child()
    lines = [traffic.referral(child), traffic.address_information(child)]
    worker = workers.start("intake")
    publish(workers, lines)
    ref = f"{lines[0]['sender']}|{lines[0]['subject_ref']}"
    wait_for(lambda: app.find_child_by_sender_ref(ref) is not None, 60, "intake", workers.logs)
    child_id = app.find_child_by_sender_ref(ref)
    assert child_id is not None
    wait_for(
        lambda: len(list(app.events.get(child_id))) >= 3, 60, "the address notice", workers.logs
    )
    assert workers.stop(worker) == 0, workers.logs()
    # An erasure shredded by a cascade that leaves the upstream topic alone (as it once did).
    job = build_retention_job(workers.settings, app)
    job.upstream = None
    assert job.shred_now(child_id, ShredReason.ERASURE_APPROVED)
    passed, detail = _upstream_topic(workers.settings, app, child_id)()
    assert not passed, detail
    assert detail == "2 messages of the child, 0 deleted from the topic, 2 still on it"
    certificate = verify(workers.settings, child_id)
    assert not certificate.passed
    # Off the topic with what intake has applied: nothing of the child opens any more.
    KafkaUpstreamEraser(workers.settings, app.tracked_position).erase_applied()
    passed, detail = _upstream_topic(workers.settings, app, child_id)()
    assert passed, detail
    assert detail == "2 messages of the child, 2 deleted from the topic, 0 still on it"
    assert nothing_left_on_the_upstream_topic(workers)


def test_the_retention_cascade_takes_the_upstream_messages_off_the_topic(
    workers: WorkerEnvironment, app: App
) -> None:
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed("upstream cascade")))
    children = [traffic.new_child() for _ in range(3)]
    lines = [traffic.referral(c) for c in children]
    worker = workers.start("intake")
    publish(workers, lines)
    refs = [f"{line['sender']}|{line['subject_ref']}" for line in lines]
    wait_for(lambda: all(app.find_child_by_sender_ref(r) for r in refs), 60, "intake", workers.logs)
    assert workers.stop(worker) == 0, workers.logs()
    child_id = app.find_child_by_sender_ref(refs[0])
    assert child_id is not None
    assert build_retention_job(workers.settings, app).shred_now(
        child_id, ShredReason.ERASURE_APPROVED
    )
    passed, detail = _upstream_topic(workers.settings, app, child_id)()
    assert passed, detail
    assert nothing_left_on_the_upstream_topic(workers)


def test_the_projector_vacuums_a_shredded_childs_old_rows_away(
    services: Services, workers: WorkerEnvironment, app: App
) -> None:
    import psycopg

    county = SyntheticCounty(seed=seed("vacuum after redaction"))
    child_id = app.register_child(RegisterChild.of(county.register_child()))

    def vacuumed() -> Any:
        with psycopg.connect(services.database_url) as conn:
            row = conn.execute(
                "SELECT last_vacuum FROM pg_stat_user_tables "
                "WHERE schemaname = 'caseworker' AND relname = 'children'"
            ).fetchone()
        return row[0] if row else None

    def shredded_on() -> Any:
        with psycopg.connect(services.database_url) as conn:
            row = conn.execute(
                "SELECT shredded_on, legal_surname FROM caseworker.children WHERE child_id = %s",
                (child_id,),
            ).fetchone()
        return row

    before = vacuumed()
    worker = workers.start("relay", "projector")
    wait_for(lambda: shredded_on() is not None, 60, "the child's row", workers.logs)
    assert build_retention_job(workers.settings, app).shred_now(
        child_id, ShredReason.ERASURE_APPROVED
    )
    wait_for(lambda: shredded_on()[0] is not None, 60, "the redaction", workers.logs)
    assert shredded_on()[1] is None
    wait_for(
        lambda: vacuumed() is not None and (before is None or vacuumed() > before),
        60,
        "the vacuum after the redaction",
        workers.logs,
    )
    assert workers.stop(worker) == 0, workers.logs()
