"""Intake end to end on the real broker and database, with real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from cme.bootstrap import App
from cme.secrets import intake_public_key
from cme.settings import PROJECT_ROOT
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.envelopes import seal_line
from consumers.quarantine_kafka import read_quarantine
from devtools.services import manager
from devtools.synthetic import SyntheticTraffic
from tests.conftest import Services
from tests.integration.workers import WorkerEnvironment, wait_for


def publish(
    workers: WorkerEnvironment, lines: list[dict[str, Any]], raw: list[bytes] | None = None
) -> None:
    kid, public_key = intake_public_key(workers.settings)
    producer = KafkaProducer(**kafka_io.connection(workers.settings, KafkaRole.SENDER), acks="all")
    try:
        for line in lines:
            envelope, value = seal_line(line, kid, public_key, workers.senders)
            producer.send(
                workers.settings.topic_upstream, key=envelope.subject_ref.encode(), value=value
            )
        for value in raw or []:
            producer.send(workers.settings.topic_upstream, key=b"poison", value=value)
        producer.flush()
    finally:
        producer.close()


CME = [sys.executable, "-m", "cme.cli"]


def child_of(app: App, line: dict[str, Any]) -> Any:
    return app.find_child_by_sender_ref(f"{line['sender']}|{line['subject_ref']}")


def referral_applied_once(app: App, line: dict[str, Any]) -> bool:
    """A referral opens one case; applied twice it would add an enquiry to that case."""
    child_id = child_of(app, line)
    if child_id is None:
        return False
    case_id = app.get_child(child_id).open_case_id
    assert case_id is not None
    assert app.get_case(case_id).enquiries == [], "a referral had a second effect"
    return True


def test_every_message_type_end_to_end(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic
) -> None:
    child = traffic.new_child()
    lines = traffic.one_of_each(child)
    worker = workers.start("intake")
    publish(workers, lines)
    wait_for(lambda: child_of(app, lines[-1]) is not None, 60, "the last message", workers.logs)

    # The two children's messages may sit on different partitions: wait for each.
    def moved_out() -> bool:
        child_id = child_of(app, lines[0])
        return child_id is not None and app.get_child(child_id).move is not None

    wait_for(moved_out, 60, "the move out", workers.logs)
    child_id = child_of(app, lines[0])
    record = app.get_child(child_id)
    assert record.reduced_timetable is not None
    address = record.current_details().address
    assert address is not None
    assert address.postcode == lines[4]["payload"]["address"]["postcode"]
    assert workers.stop(worker) == 0, workers.logs()


def test_killed_after_db_commit_redelivers_without_a_second_effect(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic, tmp_path: Path
) -> None:
    lines = [traffic.referral(traffic.new_child()) for _ in range(30)]
    marker = tmp_path / "paused"
    # The worker commits a batch to PostgreSQL, then stops before the Kafka offset commit.
    worker = workers.start("intake", fault="intake:after-db-commit", marker=marker)
    publish(workers, lines)
    wait_for(marker.exists, 60, "the worker to reach the fault point", workers.logs)
    workers.kill(worker)  # SIGKILL at exactly that instant
    # A fresh worker gets the same messages again from Kafka.
    restarted = workers.start("intake")
    wait_for(
        lambda: all(referral_applied_once(app, line) for line in lines),
        60,
        "all referrals",
        workers.logs,
    )
    assert workers.stop(restarted) == 0, workers.logs()
    for line in lines:
        assert referral_applied_once(app, line)


def test_poison_is_quarantined_with_reasons_while_good_messages_flow(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic
) -> None:
    goods = [traffic.referral(traffic.new_child()) for _ in range(5)]
    future_dob = traffic.referral()
    future_dob["payload"]["child"]["date_of_birth"] = "2999-01-01"
    poison = [
        b"not json at all",
        json.dumps({"message_id": "x"}).encode(),
        json.dumps(future_dob).encode(),  # forgot to seal: personal data in clear
    ]
    worker = workers.start("intake")
    publish(workers, goods, raw=poison)
    wait_for(
        lambda: all(referral_applied_once(app, g) for g in goods), 60, "good messages", workers.logs
    )
    wait_for(
        lambda: len(list(read_quarantine(workers.settings))) == 3, 30, "quarantine", workers.logs
    )
    records = list(read_quarantine(workers.settings))
    assert sorted(r.reason.code for r in records) == [
        "invalid_envelope",
        "invalid_envelope",
        "not_json",
    ]
    for record in records:
        assert future_dob["payload"]["child"]["legal_surname"].encode() not in record.to_json()
    assert workers.stop(worker) == 0, workers.logs()


def test_broker_restart_in_the_middle_loses_nothing(
    services: Services, workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic
) -> None:
    plan = manager.plan(services.settings.model_copy(update={"kafka_bootstrap_servers": None}))
    assert plan.kafka is not None, "this test restarts the project's own broker (scripts/services)"
    lines = [traffic.referral(traffic.new_child()) for _ in range(60)]
    worker = workers.start("intake")
    publish(workers, lines[:30])
    wait_for(lambda: referral_applied_once(app, lines[0]), 60, "first messages", workers.logs)
    # Restart the broker while the worker runs, then publish the rest.
    plan.kafka.down()
    restarter = threading.Thread(target=plan.kafka.up)
    restarter.start()
    restarter.join(timeout=120)
    publish(workers, lines[30:])
    wait_for(
        lambda: all(referral_applied_once(app, line) for line in lines),
        120,
        "all messages",
        workers.logs,
    )
    assert workers.stop(worker) == 0, workers.logs()


def test_cme_publish_applies_good_lines_and_quarantines_bad_ones(
    workers: WorkerEnvironment, app: App, traffic: SyntheticTraffic, tmp_path: Path
) -> None:
    goods = [traffic.referral(traffic.new_child()) for _ in range(3)]
    bad = traffic.removal_from_roll()
    bad["payload"]["deletion_ground"] = "ran_away_to_sea"
    stranger = traffic.address_information(traffic.new_child())  # valid, but nobody we know
    file = tmp_path / "messages.jsonl"
    file.write_text(
        "\n".join(json.dumps(x) for x in [goods[0], bad, goods[1], "{oops", stranger, goods[2]])
        + "\n"
    )
    # Each school is registered as a council would: the key pair made here, the
    # private half in this test's own sender keys file for `cme publish`.
    env = {**workers.env, "CME_SENDER_KEYS_FILE": str(tmp_path / "sender-keys")}
    for sender in sorted({line["sender"] for line in [*goods, bad, stranger]}):
        added = subprocess.run(
            [*CME, "senders", "add", sender, "--generate", "--actor", "staff:test"],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stdout + added.stderr
        assert f"registered {sender}" in added.stdout
    assert (tmp_path / "sender-keys").stat().st_mode & 0o077 == 0
    worker = workers.start("intake")
    published = subprocess.run(
        [sys.executable, "-m", "cme.cli", "publish", str(file)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # Lines invalid on their face are refused locally, with the consumer's reason.
    assert "line 2: rejected invalid_payload payload.deletion_ground" in published.stderr
    assert "line 4: rejected" in published.stderr
    assert "published 4 message(s); rejected 2 line(s)" in published.stdout
    assert published.returncode == 1
    wait_for(
        lambda: all(referral_applied_once(app, g) for g in goods), 60, "good lines", workers.logs
    )
    # A line only the domain can refuse is quarantined by the consumer.
    wait_for(
        lambda: len(list(read_quarantine(workers.settings))) == 1, 30, "quarantine", workers.logs
    )
    (record,) = read_quarantine(workers.settings)
    assert record.reason.code == "domain_rejected:unknown_child"
    assert workers.stop(worker) == 0, workers.logs()
