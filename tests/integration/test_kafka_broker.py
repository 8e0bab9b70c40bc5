"""The real broker: an idempotent producer and a consumer group with manual commits."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from consumers import kafka_io
from consumers.config import KafkaRole
from tests.conftest import Services


def _admin(services: Services) -> dict[str, Any]:
    """The super user's connection: these tests exercise the broker, not the ACLs."""
    return kafka_io.connection(services.settings, KafkaRole.ADMIN)


def _fresh_topic(services: Services, partitions: int = 3) -> str:
    """A topic under this run's prefix, deleted with the run's other topics."""
    name = f"{services.prefix}.roundtrip.{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(**_admin(services))
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


def _consume(consumer: KafkaConsumer, count: int) -> list[tuple[bytes, bytes, int, int]]:
    got: list[tuple[bytes, bytes, int, int]] = []
    for _ in range(60):
        for records in consumer.poll(timeout_ms=500).values():
            got.extend((r.key, r.value, r.partition, r.offset) for r in records)
        if len(got) >= count:
            break
    return got


def test_project_topics_exist_with_partitions(services: Services) -> None:
    consumer = KafkaConsumer(**_admin(services))
    try:
        topics = consumer.topics()
        for name in (services.settings.topic_upstream, services.settings.topic_events):
            assert name in topics
            assert len(consumer.partitions_for_topic(name)) == services.settings.kafka_partitions
        assert services.settings.topic_quarantine in topics
    finally:
        consumer.close()


def test_group_round_trip_with_manual_commits(services: Services) -> None:
    topic = _fresh_topic(services)
    group = f"cme-test-{uuid.uuid4().hex[:8]}"

    # Publish ten keyed messages with acks=all and the idempotent producer.
    producer = KafkaProducer(**_admin(services), acks="all", enable_idempotence=True)
    for i in range(10):
        producer.send(topic, key=f"child-{i % 3}".encode(), value=f"message-{i}".encode())
    producer.flush()
    producer.close()

    # Read them in a group without auto-commit, committing only half.
    first = KafkaConsumer(
        topic,
        **_admin(services),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    received = _consume(first, 10)
    assert sorted(v for _, v, _, _ in received) == sorted(
        f"message-{i}".encode() for i in range(10)
    )

    # The same key always lands on the same partition, so one child's messages stay ordered.
    partitions_by_key: dict[bytes, set[int]] = {}
    for key, _, partition, _ in received:
        partitions_by_key.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in partitions_by_key.values())

    # Commit offset+1 of the first message of each partition: that is the next to read.
    from kafka.structs import OffsetAndMetadata

    firsts: dict[int, int] = {}
    for _, _, partition, offset in received:
        firsts[partition] = min(offset, firsts.get(partition, offset))
    first.commit(
        {TopicPartition(topic, p): OffsetAndMetadata(o + 1, "", -1) for p, o in firsts.items()}
    )
    first.close(autocommit=False)

    # A new member of the group resumes after the committed offsets: nothing lost, nothing doubled.
    second = KafkaConsumer(
        topic,
        **_admin(services),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    rest = _consume(second, 10 - len(firsts))
    second.close(autocommit=False)
    assert len(rest) == 10 - len(firsts)
    seen = {(p, o) for _, _, p, o in rest}
    assert not seen & {(p, o) for p, o in firsts.items()}


def test_the_brokers_files_are_readable_by_their_owner_only(services: Services) -> None:
    import os
    import stat

    from devtools.services import manager

    plan = manager.plan(services.settings.model_copy(update={"kafka_bootstrap_servers": None}))
    assert plan.kafka is not None, "this test inspects the project's own broker (scripts/services)"
    manager.up(plan)  # as `scripts/services up` leaves it
    loose = []
    for folder, dirs, files in os.walk(plan.kafka.home):
        for name in dirs + files:
            mode = (Path(folder) / name).stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                loose.append(f"{oct(stat.S_IMODE(mode))} {Path(folder) / name}")
    assert not loose, (
        "readable by others (a broker started before its umask was set keeps making such "
        "files: `scripts/services down && scripts/services up`):\n" + "\n".join(loose[:10])
    )
    assert stat.S_IMODE(plan.kafka.home.stat().st_mode) == 0o700


def test_the_readiness_check_tells_a_refused_admin_from_an_accepted_one(
    services: Services, tmp_path: Path
) -> None:
    """What `scripts/services up` asks before calling the broker ready: can the admin sign in."""
    import json

    from devtools.services.kafka import LocalKafka

    port = int(services.bootstrap.rsplit(":", 1)[1])
    right = LocalKafka(services.settings.data_dir, port, services.settings.kafka_passwords_path)
    assert right.admin_signs_in(within=30)
    wrong_file = tmp_path / "kafka-passwords.json"
    wrong_file.write_text(json.dumps({"admin": "not-the-admins-password"}))
    wrong = LocalKafka(services.settings.data_dir, port, wrong_file)
    assert not wrong.admin_signs_in(within=3)


def test_the_admin_password_is_on_no_command_line_while_the_storage_is_formatted(
    services: Services, tmp_path: Path
) -> None:
    """Any local user reads /proc/PID/cmdline; the format carries the admin's credential."""
    import threading
    import time

    from cme.kafka_access import load_or_create_passwords
    from devtools.services.kafka import LocalKafka, fetch_jars

    passwords = tmp_path / "kafka-passwords.json"
    broker = LocalKafka(tmp_path, 1, passwords)  # formatted only, never started
    admin_password = load_or_create_passwords(passwords)[KafkaRole.ADMIN.value]
    broker.home.mkdir(mode=0o700)
    broker._write_config(admin_password)
    libs = fetch_jars()
    seen: list[str] = []
    formatting = threading.Event()
    formatting.set()

    def watch() -> None:
        while formatting.is_set():
            for entry in Path("/proc").glob("[0-9]*"):
                try:
                    command = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if admin_password.encode() in command:
                    seen.append(command.replace(b"\0", b" ")[:80].decode(errors="replace"))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        broker._format(libs, admin_password)
    finally:
        formatting.clear()
        watcher.join()
    assert seen == [], f"the admin's password was on a command line: {seen[0]}"
    assert (broker.log_dirs / "meta.properties").exists()
    credential_written = any(
        b"cme-admin" in path.read_bytes() for path in broker.log_dirs.rglob("*") if path.is_file()
    )
    assert credential_written, "the format wrote no SCRAM credential for the admin"
    assert not list(broker.home.glob("*.args")), "the argument file is removed after the format"
