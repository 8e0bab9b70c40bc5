"""The projector parks what PostgreSQL refuses and keeps every other child's rows flowing.

A raw producer writes straight to the events topic: two good events and,
between them, one whose clear text holds a NUL, which PostgreSQL refuses in
text columns. Before parking, that one event froze every read model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import psycopg
from kafka import KafkaProducer

from cme.bootstrap import App
from cme.settings import PROJECT_ROOT
from consumers import kafka_io
from consumers.config import KafkaRole
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild
from tests.conftest import Services
from tests.integration.workers import WorkerEnvironment, wait_for
from tests.seeds import seed

PARTITIONS = 1


def registered(app: App, child_id: Any) -> Any:
    (stored,) = app.recorder.select_events(child_id, lte=1)
    return stored


def send(producer: KafkaProducer, topic: str, stored: Any, state: bytes) -> None:
    producer.send(
        topic,
        key=str(stored.originator_id).encode(),
        value=state,
        partition=0,
        headers=[
            ("cme-originator-id", str(stored.originator_id).encode()),
            ("cme-originator-version", str(stored.originator_version).encode()),
            ("cme-topic", stored.topic.encode()),
        ],
    )


def rows(services: Services, child_ids: list[Any]) -> set[str]:
    with psycopg.connect(services.database_url) as conn:
        found = conn.execute(
            "SELECT child_id::text FROM caseworker.children WHERE child_id = ANY(%s)",
            (child_ids,),
        ).fetchall()
    return {r[0] for r in found}


def test_an_event_postgresql_refuses_is_parked_and_the_rest_flows(
    services: Services, workers: WorkerEnvironment, app: App
) -> None:
    county = SyntheticCounty(seed=seed("projector parking"))
    first, poisoned, last = (
        app.register_child(RegisterChild.of(county.register_child())) for _ in range(3)
    )
    bad = registered(app, poisoned)
    state = json.loads(bad.state)
    state["source"] = "sch\u0000ool"  # clear, so the seal still opens; PostgreSQL refuses it
    producer = KafkaProducer(**kafka_io.connection(workers.settings, KafkaRole.RELAY), acks="all")
    try:
        topic = workers.settings.topic_events
        send(producer, topic, registered(app, first), registered(app, first).state)
        send(producer, topic, bad, json.dumps(state).encode())
        send(producer, topic, registered(app, last), registered(app, last).state)
        producer.flush()
    finally:
        producer.close()
    worker = workers.start("projector")
    wait_for(
        lambda: rows(services, [first, last]) == {str(first), str(last)},
        60,
        "the good children's rows",
        workers.logs,
    )
    listing = subprocess.run(
        [sys.executable, "-m", "cme.cli", "projections", "parked"],
        env=workers.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    (line,) = [x for x in listing.stdout.splitlines() if str(poisoned) in x]
    assert "domain.child:Child.Registered" in line
    assert line.split("\t")[-1].startswith("DataError at "), line
    assert "sch" not in listing.stdout  # the reason never quotes the value
    assert rows(services, [poisoned]) == set()
    status = subprocess.run(
        [sys.executable, "-m", "cme.cli", "status"],
        env=workers.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "1 parked event(s)" in status.stdout, status.stdout + status.stderr
    assert worker.poll() is None, workers.logs()
    assert workers.stop(worker) == 0, workers.logs()
