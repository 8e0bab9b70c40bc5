"""Relay and projector on the real broker and database: killed at random, they converge.

The reference is the same projection code fed straight from the event store
into an SQLite read model (the embedded path): the Kafka path must give the
same rows, with no change counted twice.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from cme.bootstrap import App, build_application
from cme.db.roles import Role, role_url
from cme.settings import PROJECT_ROOT
from consumers.inprocess_feed import catch_up
from domain.commands import ReceiveRightsRequest
from domain.values import ShredReason
from projections.store import PostgresReadModels, SqliteReadModels
from tests.conftest import Services
from tests.intake_support import IntakeHarness
from tests.integration.workers import WorkerEnvironment, destroy_key, wait_for, worker_environment
from tests.seeds import seed


@dataclass
class Pipeline:
    app: App
    workers: WorkerEnvironment
    children: set[str]
    shredded: UUID
    restricted: UUID
    tmp: Path


def normalise(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def snapshot(store: Any, children: set[str]) -> dict[str, list[dict[str, Any]]]:
    result = {}
    for table, order in (
        ("children", "child_id"),
        ("cases", "case_id"),
        ("case_timeline", "case_id, seq"),
    ):
        rows = [
            {k: normalise(v) for k, v in row.items()}
            for row in store.rows(table, order)
            if str(row["child_id"]) in children
        ]
        result[table] = sorted(
            rows, key=lambda r: (r.get("child_id"), r.get("case_id") or "", r.get("seq") or "")
        )
    return result


def reference(pipeline: Pipeline) -> dict[str, list[dict[str, Any]]]:
    path = pipeline.tmp / f"reference-{time.monotonic_ns()}.db"
    store = SqliteReadModels(str(path))
    store.create()
    catch_up(pipeline.app, store)
    try:
        return snapshot(store, pipeline.children)
    finally:
        store.close()


def caseworker_rows(services: Services, children: set[str]) -> dict[str, list[dict[str, Any]]]:
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        role_url(services.settings, Role.CASEWORKER),
        min_size=1,
        max_size=1,
        open=True,
        kwargs={"autocommit": True},
    )
    try:
        return snapshot(PostgresReadModels(pool), children)
    finally:
        pool.close()


@pytest.fixture(scope="module")
def pipeline(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    tmp = tmp_path_factory.mktemp("pipeline")
    workers = worker_environment(services.settings, tmp)
    app = build_application(services.settings)
    harness = IntakeHarness(app, seed=seed("pipeline"))
    lines = harness.traffic.mixed(200)
    for start in range(0, 200, 50):
        harness.run([harness.seal(line) for line in lines[start : start + 50]], track=False)
    children = {
        str(c)
        for line in lines
        if (c := app.find_child_by_sender_ref(f"{line['sender']}|{line['subject_ref']}"))
        is not None
    }
    with_cases = [UUID(c) for c in sorted(children) if app.get_child(UUID(c)).open_case_id]
    shredded, restricted = with_cases[0], with_cases[1]
    app.receive_rights_request(
        ReceiveRightsRequest.of(
            {
                "actor": "dpo:1",
                "child_id": restricted,
                "request_type": "restriction",
                "received_on": date.today(),
                "requester_name": "Synthetic Parent",
            }
        )
    )
    destroy_key(services.settings, shredded, ShredReason.ERASURE_APPROVED.value)
    app.record_personal_data_shredded(shredded, ShredReason.ERASURE_APPROVED, actor="job:shred")
    yield Pipeline(app, workers, children, shredded, restricted, tmp)
    workers.stop_all()
    app.close()


def test_killed_relay_and_projector_converge_to_the_embedded_result(
    pipeline: Pipeline, services: Services
) -> None:
    workers = pipeline.workers
    # The relay dies right after the broker took a batch, before it recorded its position.
    marker = pipeline.tmp / "relay-paused"
    first = workers.start("relay", "projector", fault="relay:after-publish", marker=marker)
    wait_for(marker.exists, 60, "the relay to reach its fault point", workers.logs)
    workers.kill(first)
    # Then relay and projector are killed at random moments, three times.
    rng = random.Random(seed("pipeline kill moments"))
    for _ in range(3):
        process = workers.start("relay", "projector")
        time.sleep(rng.uniform(1.0, 4.0))
        workers.kill(process)
    final = workers.start("relay", "projector")
    expected = reference(pipeline)
    wait_for(
        lambda: caseworker_rows(services, pipeline.children) == expected,
        180,
        "the Kafka read models to match the embedded ones",
        workers.logs,
    )
    assert workers.stop(final) == 0, workers.logs()
    assert len(expected["children"]) == len(pipeline.children)
    assert sum(int(r["enquiries"] or 0) for r in expected["cases"]) > 0


def test_shredded_and_restricted_children_in_the_postgres_views(
    pipeline: Pipeline, services: Services
) -> None:
    rows = caseworker_rows(services, pipeline.children)["children"]
    by_id = {r["child_id"]: r for r in rows}
    gone = by_id[str(pipeline.shredded)]
    assert gone["shredded_on"] is not None and gone["legal_surname"] is None and gone["upn"] is None
    assert by_id[str(pipeline.restricted)]["restricted"] == "1"
    with psycopg.connect(role_url(services.settings, Role.CASEWORKER)) as conn:
        exportable = {
            str(r[0]) for r in conn.execute("SELECT child_id FROM caseworker.children_exportable")
        }
        views = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema = 'caseworker'"
            )
        }
    assert str(pipeline.restricted) not in exportable and str(pipeline.shredded) not in exportable
    assert {
        "open_cases",
        "whereabouts_unknown",
        "reduced_timetables_overdue",
        "moves_awaiting_confirmation",
        "dfe_cme_return",
    } <= views


def test_caseworker_role_reads_only_the_caseworker_schema(
    pipeline: Pipeline, services: Services
) -> None:
    with psycopg.connect(role_url(services.settings, Role.CASEWORKER)) as conn:
        row = conn.execute("SELECT count(*) FROM caseworker.open_cases").fetchone()
        (open_cases,) = row or (0,)
        assert open_cases > 0, "the pipeline's children have open cases the caseworker must see"
        for relation in ("eventstore.cme_events", "keystore.data_keys", "matching.blind_index"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM caseworker.children")


def test_rebuild_from_the_event_store_equals_the_incremental_models(
    pipeline: Pipeline, services: Services
) -> None:
    before = caseworker_rows(services, pipeline.children)
    rebuilt = subprocess.run(
        [sys.executable, "-m", "cme.cli", "projections", "rebuild"],
        env=pipeline.workers.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "swapped them in" in rebuilt.stdout
    assert caseworker_rows(services, pipeline.children) == before
