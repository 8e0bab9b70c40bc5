"""Each Kafka principal may do its own work and nothing else; strangers get nothing at all.

The expected rights are written out here, independently of ``cme.kafka_access``,
so a change to what a role may do has to change this table too. Every probe
is a bare kafka-python client with no project code but the connection
options: the broker, not the project, is what refuses.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from cme.bootstrap import build_application
from cme.kafka_access import revoke_principal
from cme.settings import PROJECT_ROOT, Settings
from consumers import kafka_io
from consumers.config import KafkaRole
from tests.integration.workers import WorkerEnvironment

PARTITIONS = 1

UP, QUARANTINE, EVENTS = "upstream", "quarantine", "events"
MAY_WRITE = {
    KafkaRole.SENDER: {UP},
    KafkaRole.INTAKE: {QUARANTINE},
    KafkaRole.RELAY: {EVENTS},
    KafkaRole.PROJECTOR: set(),
    KafkaRole.RETENTION: {QUARANTINE},
    KafkaRole.OPERATOR: {UP},
    KafkaRole.AUDITOR: set(),
}
MAY_READ = {
    KafkaRole.SENDER: set(),
    KafkaRole.INTAKE: {UP},
    KafkaRole.RELAY: set(),
    KafkaRole.PROJECTOR: {EVENTS},
    KafkaRole.RETENTION: {QUARANTINE},
    KafkaRole.OPERATOR: {QUARANTINE},
    KafkaRole.AUDITOR: {UP, QUARANTINE, EVENTS},
}
OWN_GROUP = {KafkaRole.INTAKE, KafkaRole.PROJECTOR}


def _topic(settings: Settings, which: str) -> str:
    return {
        UP: settings.topic_upstream,
        QUARANTINE: settings.topic_quarantine,
        EVENTS: settings.topic_events,
    }[which]


def _can_write(options: dict[str, Any], topic: str) -> bool:
    # Not idempotent: a principal with no WRITE anywhere is refused a producer id before
    # any topic is asked about, which would hide what this probes.
    producer = KafkaProducer(**options, acks="all", enable_idempotence=False, max_block_ms=10_000)
    try:
        producer.send(topic, key=b"probe", value=b"probe").get(timeout=10)
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        producer.close(timeout=5)


def _can_read(options: dict[str, Any], topic: str) -> bool:
    """A record is on the topic: either it arrives, or the broker refuses the fetch."""
    consumer = KafkaConsumer(**options, enable_auto_commit=False)
    try:
        if not consumer.partitions_for_topic(topic):
            return False  # not even DESCRIBE: the broker does not show it to this principal
        part = TopicPartition(topic, 0)
        consumer.assign([part])
        consumer.seek_to_beginning(part)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if consumer.poll(timeout_ms=500):
                return True
        raise AssertionError(f"{topic} holds a record, yet it neither arrived nor was refused")
    except TopicAuthorizationFailedError:
        return False
    finally:
        consumer.close()


def _can_join(options: dict[str, Any], topic: str, group: str) -> bool:
    consumer = KafkaConsumer(topic, **options, group_id=group, enable_auto_commit=False)
    try:
        consumer.poll(timeout_ms=3000)
        return True
    except GroupAuthorizationFailedError:
        return False
    finally:
        consumer.close()


def _admin_can(options: dict[str, Any], action: str, topic: str) -> bool:
    admin = KafkaAdminClient(**options)
    try:
        if action == "create":
            admin.create_topics([NewTopic(topic, 1, 1)])
        else:
            admin.delete_topics([topic])
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        admin.close()


@pytest.fixture
def seeded(workers: WorkerEnvironment) -> Settings:
    """The test's own topics, each holding one record written by the super user."""
    settings = workers.settings
    admin = kafka_io.connection(settings, KafkaRole.ADMIN)
    for which in (UP, QUARANTINE, EVENTS):
        assert _can_write(admin, _topic(settings, which))
    return settings


@pytest.mark.parametrize("role", list(MAY_WRITE), ids=lambda r: r.value)
def test_each_principal_writes_and_reads_only_what_its_acls_allow(
    seeded: Settings, role: KafkaRole
) -> None:
    options = kafka_io.connection(seeded, role)
    wrote = {w for w in (UP, QUARANTINE, EVENTS) if _can_write(options, _topic(seeded, w))}
    read = {r for r in (UP, QUARANTINE, EVENTS) if _can_read(options, _topic(seeded, r))}
    assert (wrote, read) == (MAY_WRITE[role], MAY_READ[role])


@pytest.mark.parametrize("role", list(MAY_WRITE), ids=lambda r: r.value)
def test_only_the_admin_creates_or_deletes_topics(seeded: Settings, role: KafkaRole) -> None:
    options = kafka_io.connection(seeded, role)
    stranger = f"{seeded.topic_events}.{role.value}-{uuid.uuid4().hex[:6]}"
    assert not _admin_can(options, "create", stranger)
    assert not _admin_can(options, "delete", seeded.topic_events)
    assert not _admin_can(options, "delete", seeded.topic_quarantine)
    admin = kafka_io.connection(seeded, KafkaRole.ADMIN)
    assert _admin_can(admin, "create", stranger)
    assert _admin_can(admin, "delete", stranger)
    # Kafka authorises DeleteRecords and DeleteTopics with the one DELETE operation, so
    # the retention principal, which must delete applied upstream records, could also
    # drop the upstream topic (README says so); every other principal cannot.
    can_drop_upstream = _admin_can(options, "delete", seeded.topic_upstream)
    assert can_drop_upstream == (role is KafkaRole.RETENTION)


@pytest.mark.parametrize("role", sorted(OWN_GROUP), ids=lambda r: r.value)
def test_a_worker_joins_its_own_group_and_no_other(seeded: Settings, role: KafkaRole) -> None:
    options = kafka_io.connection(seeded, role)
    topic = seeded.topic_upstream if role is KafkaRole.INTAKE else seeded.topic_events
    assert _can_join(options, topic, kafka_io.group_id(seeded, role))
    other = KafkaRole.PROJECTOR if role is KafkaRole.INTAKE else KafkaRole.INTAKE
    assert not _can_join(options, topic, kafka_io.group_id(seeded, other))


LEAKS_ON_REFUSAL = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
"""kafka-python leaves its wake-up socket pair open when a client's constructor cannot bootstrap."""


def _refused(options: dict[str, Any]) -> KafkaError:
    with pytest.raises(KafkaTimeoutError) as refused:
        KafkaConsumer(**options, bootstrap_timeout_ms=4000).close()
    return refused.value


@LEAKS_ON_REFUSAL
def test_a_client_without_credentials_cannot_even_connect(seeded: Settings) -> None:
    bare = {"bootstrap_servers": seeded.require_kafka(), "security_protocol": "PLAINTEXT"}
    assert "Unable to bootstrap" in str(_refused(bare))


@LEAKS_ON_REFUSAL
def test_a_wrong_password_is_refused(seeded: Settings) -> None:
    wrong = seeded.model_copy(
        update={"kafka_user_sender": SecretStr(f"{KafkaRole.SENDER.default_username}:wrong")}
    )
    options = kafka_io.connection(wrong, KafkaRole.SENDER)
    assert "Unable to bootstrap" in str(_refused(options))


def test_a_command_with_a_wrong_password_says_so_not_that_kafka_is_down(
    seeded: Settings, workers: WorkerEnvironment, tmp_path: Path
) -> None:
    lines = (PROJECT_ROOT / "examples" / "upstream" / "all-types.jsonl").read_text()
    one = tmp_path / "one.jsonl"
    one.write_text(lines.splitlines()[0] + "\n")
    wrong = f"{KafkaRole.SENDER.default_username}:wrong-{uuid.uuid4().hex}"
    result = subprocess.run(
        [sys.executable, "-m", "cme.cli", "publish", str(one)],
        env={**workers.env, "CME_KAFKA_USER_SENDER": wrong},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1, result.stderr
    principal = KafkaRole.SENDER.default_username
    assert f"answers but did not let {principal} (CME_KAFKA_USER_SENDER) in" in errors[0]
    assert wrong.split(":")[1] not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("command", "role"),
    [(["quarantine", "list"], KafkaRole.OPERATOR), (["kafka", "principals"], KafkaRole.ADMIN)],
    ids=["a reader", "the admin"],
)
def test_every_kind_of_client_names_a_wrong_password(
    workers: WorkerEnvironment, command: list[str], role: KafkaRole
) -> None:
    """Consumers and admin clients too: they once waited kafka-python's 30 s to say it."""
    variable = f"CME_KAFKA_USER_{role.value.upper()}"
    wrong = f"{role.default_username}:wrong-{uuid.uuid4().hex}"
    result = workers.command(*command, **{variable: wrong})
    assert result.returncode == 3, result.stderr
    assert f"did not let {role.default_username} ({variable}) in" in result.stderr
    assert wrong.split(":")[1] not in result.stderr + result.stdout


@LEAKS_ON_REFUSAL
def test_kafka_setup_gives_a_councils_own_sender_principal_its_rights(
    seeded: Settings, workers: WorkerEnvironment
) -> None:
    """`cme kafka setup` as a council runs it: a named principal, its password, its ACLs."""
    name, password = f"school-mis-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
    result = subprocess.run(
        [sys.executable, "-m", "cme.cli", "kafka", "setup"],
        env={**workers.env, "CME_KAFKA_USER_SENDER": f"{name}:{password}"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert f"SCRAM credentials set: {name}" in result.stdout
        school = seeded.model_copy(update={"kafka_user_sender": SecretStr(f"{name}:{password}")})
        options = kafka_io.connection(school, KafkaRole.SENDER)
        assert options["sasl_plain_username"] == name
        assert _can_write(options, seeded.topic_upstream)
        assert not _can_write(options, seeded.topic_events)
        assert not _can_read(options, seeded.topic_upstream)

        # A sender leaving: `cme kafka revoke` shows what would go, changes nothing
        # until confirmed, then takes its rights and its password away and records who.
        def revoke(*extra: str) -> subprocess.CompletedProcess[str]:
            return workers.command("kafka", "revoke", *extra)

        preview = revoke(name)
        assert preview.returncode == 0, preview.stderr
        assert f"ALLOW WRITE on TOPIC {seeded.topic_upstream}" in preview.stdout
        assert "nothing was changed" in preview.stderr
        assert _can_write(options, seeded.topic_upstream)  # still allowed
        unknown = revoke(f"no-such-{uuid.uuid4().hex[:6]}", "--confirm")
        assert unknown.returncode == 1
        assert "knows no principal of that name" in unknown.stderr
        unconfirmed = revoke(name, "--confirm")
        assert unconfirmed.returncode == 2
        assert "--confirm needs --actor and --reason" in unconfirmed.stderr
        revoked = revoke(name, "--confirm", "--actor", "staff:ops-1", "--reason", "school closed")
        assert revoked.returncode == 0, revoked.stderr
        assert "1 ACL(s) deleted" in revoked.stdout
        assert "Unable to bootstrap" in str(_refused(options))  # the old password: refused
        app = build_application(seeded)
        try:
            registry = app.sender_registry()
            assert registry is not None
            assert registry.principals_revoked == {name: "school closed"}
        finally:
            app.close()
    finally:
        # Never UserScramCredentialDeletion: a removal record in the metadata log
        # leaves this broker refusing every login after its next restart (Kafka 4.1.1).
        revoke_principal(seeded, name)
