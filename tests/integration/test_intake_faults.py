"""Intake under faults on the real services: crashes, lost connections, concurrent writers.

Each case here once lost or doubled work, or stopped the worker: a batch's
blind-index rows written after its commit (then lost with the connection),
data keys written before it (left behind by every retry), a re-published
message run through the handlers before the duplicate check, a conflict
with a caseworker's write ending the worker with exit code 0.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from kafka import KafkaProducer

from cme.bootstrap import App, build_application
from cme.secrets import intake_public_key
from cme.settings import PROJECT_ROOT
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.quarantine_kafka import read_quarantine
from devtools.synthetic import SyntheticTraffic
from domain.commands import PlaceLegalHold, ReleaseLegalHold
from tests.conftest import Services
from tests.intake_support import Sealer
from tests.integration.workers import WorkerEnvironment, wait_for


def publish(workers: WorkerEnvironment, lines: list[dict[str, Any]]) -> list[bytes]:
    """Seal and publish with a plain producer; return the exact bytes sent."""
    sealer = Sealer(*intake_public_key(workers.settings), workers.senders)
    sent = [sealer.seal(line) for line in lines]
    republish(workers, lines, sent)
    return sent


def republish(workers: WorkerEnvironment, lines: list[dict[str, Any]], sent: list[bytes]) -> None:
    """Send the same bytes again, as a sender that timed out would."""
    send(
        workers,
        [(line["subject_ref"].encode(), value) for line, value in zip(lines, sent, strict=True)],
    )


def send(workers: WorkerEnvironment, records: list[tuple[bytes, bytes]]) -> None:
    """Publish (key, value) records with a plain producer, waiting for every ack."""
    producer = KafkaProducer(**kafka_io.connection(workers.settings, KafkaRole.SENDER), acks="all")
    try:
        for key, value in records:
            producer.send(workers.settings.topic_upstream, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def child_of(app: App, line: dict[str, Any]) -> Any:
    return app.find_child_by_sender_ref(f"{line['sender']}|{line['subject_ref']}")


def store_counts(services: Services) -> dict[str, int]:
    """Children, their data keys, and children with no blind-index row, read as the admin."""
    with psycopg.connect(services.database_url) as conn:
        children = conn.execute(
            "SELECT count(*) FROM eventstore.cme_events "
            "WHERE originator_version = 1 AND topic = 'domain.child:Child.Registered'"
        ).fetchone()
        keys = conn.execute(
            "SELECT count(*) FROM keystore.data_keys k WHERE NOT EXISTS ("
            "SELECT 1 FROM eventstore.cme_events e WHERE e.originator_id = k.child_id)"
        ).fetchone()
        unindexed = conn.execute(
            "SELECT count(*) FROM eventstore.cme_events e "
            "WHERE e.topic = 'domain.child:Child.Registered' AND NOT EXISTS ("
            "SELECT 1 FROM matching.blind_index b WHERE b.child_id = e.originator_id)"
        ).fetchone()
    assert children and keys and unindexed
    return {"children": children[0], "orphan_keys": keys[0], "unindexed": unindexed[0]}


def assert_once_each(services: Services, before: dict[str, int], messages: int) -> None:
    """Every referral registered one child: none lost, none doubled, no key or index row astray."""
    after = store_counts(services)
    assert after["children"] - before["children"] == messages, (after, before)
    assert after["orphan_keys"] == before["orphan_keys"], "a crashed batch left data keys behind"
    assert after["unindexed"] == before["unindexed"], "a child no later message could find"


def intake_counts(workers: WorkerEnvironment) -> dict[str, int]:
    """The last status line of the intake worker, as numbers."""
    for line in reversed(workers.logs().splitlines()):
        if "intake[" in line:
            inside = line.split("intake[", 1)[1].split("]", 1)[0]
            return {k: int(v) for k, v in (p.split("=") for p in inside.split())}
    return {}


def test_a_republished_message_of_every_type_is_a_duplicate_not_quarantined(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
) -> None:
    child = traffic.new_child()
    lines = traffic.one_of_each(child)
    worker = workers.start("intake")
    sent = publish(workers, lines)
    wait_for(lambda: child_of(app, lines[-1]) is not None, 60, "the messages", workers.logs)
    time.sleep(3)  # every partition's batch committed
    before = store_counts(services)
    events_before = len(list(app.events.get(child_of(app, lines[0]))))
    # The sender publishes everything again, in later batches.
    republish(workers, lines, sent)
    wait_for(
        lambda: intake_counts(workers).get("duplicates", 0) >= len(lines),
        60,
        "the repeats to be counted as duplicates",
        workers.logs,
    )
    assert list(read_quarantine(workers.settings)) == []
    assert store_counts(services) == before
    assert len(list(app.events.get(child_of(app, lines[0])))) == events_before
    assert workers.stop(worker) == 0, workers.logs()


def test_killed_before_commit_leaves_no_key_and_no_unindexed_child(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
    tmp_path: Path,
) -> None:
    before = store_counts(services)
    lines = [traffic.referral(traffic.new_child()) for _ in range(40)]
    marker = tmp_path / "paused"
    # The batch's new keys and index rows are written in its transaction; SIGKILL before commit.
    worker = workers.start("intake", fault="eventstore:batch-written", marker=marker)
    publish(workers, lines)
    wait_for(marker.exists, 60, "the worker to reach the fault point", workers.logs)
    workers.kill(worker)
    restarted = workers.start("intake")
    wait_for(
        lambda: all(child_of(app, line) is not None for line in lines),
        60,
        "every referral",
        workers.logs,
    )
    assert workers.stop(restarted) == 0, workers.logs()
    assert_once_each(services, before, len(lines))


def test_a_connection_lost_while_writing_index_rows_loses_none(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
) -> None:
    before = store_counts(services)
    lines = [traffic.referral(traffic.new_child()) for _ in range(60)]
    with psycopg.connect(services.database_url) as locker:
        # Hold the blind index so the batch's write waits on it...
        locker.execute("LOCK TABLE matching.blind_index IN EXCLUSIVE MODE")
        worker = workers.start("intake")
        publish(workers, lines)

        def waiting() -> list[int]:
            with psycopg.connect(services.database_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE usename = 'cme_writer' "
                    "AND wait_event_type = 'Lock'"
                ).fetchall()
            return [r[0] for r in rows]

        wait_for(lambda: bool(waiting()), 60, "intake to wait on the index lock", workers.logs)
        # ...then cut its connection while it waits, as a failover would.
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            for pid in waiting():
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        locker.rollback()
    wait_for(
        lambda: all(child_of(app, line) is not None for line in lines),
        90,
        "every referral after the retry",
        workers.logs,
    )
    assert workers.stop(worker) == 0, workers.logs()
    assert_once_each(services, before, len(lines))


def test_caseworkers_writing_to_the_same_children_do_not_stop_intake(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
) -> None:
    children = [traffic.new_child() for _ in range(5)]
    first = [traffic.referral(child) for child in children]
    worker = workers.start("intake")
    publish(workers, first)
    wait_for(
        lambda: all(child_of(app, line) is not None for line in first),
        60,
        "the children",
        workers.logs,
    )
    ids = [child_of(app, line) for line in first]
    # Staff change those children (a hold placed and released: two writes to the
    # child each time) while notices about them arrive. Reads no longer write to
    # the child (they go to its access log), so they would conflict with nothing.
    stop = threading.Event()
    recorded = [0]

    def caseworker() -> None:
        writer = build_application(services.settings)
        try:
            while not stop.is_set():
                for child_id in ids:
                    hold = {"actor": "staff:dpo-test", "child_id": child_id, "hold_id": uuid4()}
                    try:
                        writer.place_legal_hold(
                            PlaceLegalHold.of(
                                {**hold, "reason": "fault test", "authority": "Synthetic Court"}
                            )
                        )
                        writer.release_legal_hold(ReleaseLegalHold.of(hold))
                        recorded[0] += 1
                    except Exception as exc:
                        if type(exc).__name__ != "IntegrityError":
                            raise
        finally:
            writer.close()

    drivers = [threading.Thread(target=caseworker) for _ in range(2)]
    for driver in drivers:
        driver.start()
    notices = [traffic.address_information(child) for child in children for _ in range(40)]
    try:
        publish(workers, notices)
        wait_for(
            lambda: intake_counts(workers).get("applied", 0) >= len(first) + len(notices),
            120,
            "every notice",
            workers.logs,
        )
    finally:
        stop.set()
        for driver in drivers:
            driver.join()
    assert recorded[0] > 0
    assert worker.poll() is None, "intake stopped:\n" + workers.logs()
    assert intake_counts(workers)["quarantined"] == 0, workers.logs()
    assert workers.stop(worker) == 0, workers.logs()
    assert "conflicted with another writer" in workers.logs(), "no conflict: nothing was tested"
    # Exactly once: one address change per notice, none lost, none doubled.
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM eventstore.cme_events WHERE originator_id = ANY(%s) "
            "AND topic = 'domain.child:Child.AddressChanged'",
            (ids,),
        ).fetchone()
    assert row == (len(notices),)


def test_a_worker_that_dies_ends_cme_run_with_an_error(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic
) -> None:
    # A bug in the ledger writer (raised at its commit) while other workers run.
    publish(workers, [traffic.referral(traffic.new_child())])
    process = workers.start("intake", "relay", "ledger", raise_at="ledger:before-commit")
    code = process.wait(timeout=90)
    logs = workers.logs()
    assert code == 1, logs
    assert "worker ledger died: FaultInjectedError" in logs, logs
    assert "restart it to resume" in logs, logs


def test_cme_run_with_one_worker_exits_non_zero_when_it_dies(
    workers: WorkerEnvironment, traffic: SyntheticTraffic
) -> None:
    publish(workers, [traffic.referral(traffic.new_child())])
    result = subprocess.run(
        [sys.executable, "-m", "cme.cli", "run", "intake"],
        env={**workers.env, "CME_FAULT_RAISE": "intake:before-db-commit"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("cme run: worker intake died: FaultInjectedError at "), last
    assert "restart it to resume" in last


def test_the_database_crashing_mid_intake_loses_and_doubles_nothing(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
) -> None:
    from devtools.services import manager

    plan = manager.plan(services.settings.model_copy(update={"database_url": None}))
    assert plan.postgres is not None, "this test crashes the project's own PostgreSQL"
    before = store_counts(services)
    lines = [traffic.referral(traffic.new_child()) for _ in range(1500)]
    publish(workers, lines)
    worker = workers.start("intake")
    wait_for(
        lambda: store_counts(services)["children"] > before["children"],
        60,
        "intake to commit its first batch",
        workers.logs,
    )
    part_way = store_counts(services)["children"] - before["children"]
    plan.postgres.down(mode="immediate")  # a crash: no checkpoint, connections cut
    assert part_way < len(lines), "intake finished before the crash: nothing was tested"
    plan.postgres.up()
    app.close()
    fresh = build_application(services.settings)
    try:
        wait_for(
            lambda: all(child_of(fresh, line) is not None for line in lines),
            120,
            "every referral after the crash",
            workers.logs,
        )
        ids = {child_of(fresh, line) for line in lines}
        # Each line is a different synthetic child: two on one child is a wrong match.
        assert len(ids) == len(lines), f"{len(lines) - len(ids)} referrals matched another's"
        for line in lines[:50]:
            case_id = fresh.get_child(child_of(fresh, line)).open_case_id
            assert case_id is not None
            assert fresh.get_case(case_id).enquiries == [], "a referral had a second effect"
    finally:
        fresh.close()
    assert workers.stop(worker) == 0, workers.logs()
    assert_once_each(services, before, len(lines))
    assert list(read_quarantine(workers.settings)) == []


def test_two_intake_processes_in_one_group_apply_everything_once(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
) -> None:
    before = store_counts(services)
    lines = [traffic.referral(traffic.new_child()) for _ in range(600)]
    first = workers.start("intake")
    publish(workers, lines[:300])
    second = workers.start("intake")  # joins the group: partitions move between them
    publish(workers, lines[300:])
    wait_for(
        lambda: store_counts(services)["children"] - before["children"] >= len(lines),
        120,
        "every referral",
        workers.logs,
    )
    time.sleep(2)  # anything applied twice would have landed by now
    assert workers.stop(first) == 0, workers.logs()
    assert workers.stop(second) == 0, workers.logs()
    assert_once_each(services, before, len(lines))
    assert list(read_quarantine(workers.settings)) == []


def test_a_worker_runs_with_its_own_roles_and_holds_no_other_password(
    services: Services,
    workers: WorkerEnvironment,
    app: App,
    traffic: SyntheticTraffic,
) -> None:
    import json
    import os
    import shlex
    import signal

    from cme.db.roles import WORKER_ROLES, Role, passwords_file
    from devtools.services import manager

    # What `scripts/services env --worker intake` gives a process: its own credentials only.
    mine = WORKER_ROLES["intake"]
    given = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in manager.worker_env_lines(manager.Plan(services.settings, None, None), "intake")
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "CME_DATA_DIR": workers.env["CME_DATA_DIR"],
        **{k: v for k, v in workers.env.items() if k.startswith(("CME_TOPIC_", "CME_KAFKA_G"))},
        **given,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cme.cli", "run", "intake"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = traffic.referral(traffic.new_child())
        publish(workers, [line])
        wait_for(lambda: child_of(app, line) is not None, 60, "the referral, applied")
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        passwords = json.loads(passwords_file(services.settings).read_text())
        admin_password = (services.database_url.split("@")[0]).rsplit(":", 1)[1]
        assert admin_password.encode() not in environ, "the admin password is in the worker"
        for role in Role:
            held = passwords[role.value].encode() in environ
            assert held == (role in mine), f"{role.value}: held={held}"
        kafka_passwords = json.loads(services.settings.kafka_passwords_path.read_text())
        for principal in KafkaRole:
            held = kafka_passwords[principal.value].encode() in environ
            assert held == (principal is KafkaRole.INTAKE), f"Kafka {principal.value}: held={held}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
