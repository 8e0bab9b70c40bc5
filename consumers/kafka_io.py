"""kafka-python clients configured the one way this project uses them.

Producers wait for every in-sync replica (acks=all) and are idempotent, so a
retried send is not written twice; consumers never auto-commit: a worker
commits an offset only after its effect is durable. Every client names the
role it acts as and authenticates as that role's own principal, so the
broker's ACLs decide what it may touch.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaConnectionError

from consumers.config import KafkaRole, KafkaSettings

# SCRAM sends a salted proof, never the password; kafka-python warns at every
# connection over SASL_PLAINTEXT all the same (loopback only; production is SASL_SSL).
logging.getLogger("kafka.net.sasl.scram").setLevel(logging.ERROR)

RECONNECT = {
    # After a broker restart kafka-python's backoff grows to 30 s between tries.
    "reconnect_backoff_max_ms": 1_000,
}


_LOGINS: dict[str, KafkaRole] = {}
"""The principals this process has logged in as, for telling a person which one was refused."""


def logins() -> dict[str, KafkaRole]:
    return dict(_LOGINS)


def client_id(name: str) -> str:
    return f"cme-{name}-{socket.gethostname()}-{os.getpid()}"


def require_answer(servers: str, timeout: float = 3.0) -> None:
    """Raise at once when no bootstrap server accepts a connection.

    kafka-python otherwise retries until its own timeout (31 s for a command,
    longer for a consumer) before saying the broker is down.
    """
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except (OSError, ValueError):
            continue
    msg = f"no broker answers at {servers}"
    raise KafkaConnectionError(msg)


def connection(settings: KafkaSettings, role: KafkaRole) -> dict[str, Any]:
    """Where the brokers are and how ``role`` proves who it is there."""
    security = settings.kafka_security(role)
    servers = settings.require_kafka()
    require_answer(servers)
    options: dict[str, Any] = {
        "bootstrap_servers": servers,
        "security_protocol": security.protocol,
        **RECONNECT,
        **_WAITING,
    }
    if security.username is not None:
        _LOGINS[security.username] = role
        options["sasl_mechanism"] = security.mechanism
        options["sasl_plain_username"] = security.username
        options["sasl_plain_password"] = security.password
    if security.cafile is not None:
        options["ssl_cafile"] = security.cafile
    return options


def admin(settings: KafkaSettings, role: KafkaRole, name: str) -> KafkaAdminClient:
    return KafkaAdminClient(client_id=client_id(name), **connection(settings, role))


def reader(settings: KafkaSettings, role: KafkaRole, name: str, **options: Any) -> KafkaConsumer:
    """A consumer outside any group: it assigns its partitions itself and commits nothing."""
    return KafkaConsumer(
        client_id=client_id(name),
        enable_auto_commit=False,
        **{**connection(settings, role), **options},
    )


COMMAND = {"bootstrap_timeout_ms": 5_000}
"""For a command a person waits on: an unreachable broker is reported in seconds, not 30."""

_WAITING: dict[str, Any] = {}


@contextmanager
def a_person_waits() -> Iterator[None]:
    """Every client made inside gives up bootstrapping after seconds, not kafka-python's 30.

    The broker answers a wrong password by closing the connection, which
    kafka-python retries as if the broker were slow: a command took 31 s to
    say so. Workers keep the long wait (a broker restarting is normal there).
    """
    _WAITING.update(COMMAND)
    try:
        yield
    finally:
        _WAITING.clear()


def producer(settings: KafkaSettings, role: KafkaRole, **overrides: Any) -> KafkaProducer:
    options: dict[str, Any] = {
        **connection(settings, role),
        "client_id": client_id(role.value),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "retries": 2147483647,
        "max_in_flight_requests_per_connection": 5,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return KafkaProducer(**options)


def recovery(settings: KafkaSettings) -> dict[str, Any]:
    """How fast a group notices a member that died without leaving (SIGKILL, a lost host).

    Such a member holds its partitions until its session times out (45 s by
    kafka-python's default), and they stand still meanwhile. The project's
    default is 10 s (CME_KAFKA_SESSION_TIMEOUT_MS), above the broker's
    minimum of 6 s, with heartbeats ten times as often. `scripts/bench
    recovery` measures it beside the defaults and static membership.
    """
    session = settings.kafka_session_timeout_ms
    return {
        "session_timeout_ms": session,
        "heartbeat_interval_ms": min(3_000, session // 10),
        **RECONNECT,
    }


def consumer(settings: KafkaSettings, role: KafkaRole, **overrides: Any) -> KafkaConsumer:
    """A member of the role's group ``PREFIX-ROLE``, the one group its ACLs let it join."""
    options: dict[str, Any] = {
        **connection(settings, role),
        "client_id": client_id(role.value),
        "group_id": group_id(settings, role),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Polls span partitions; each partition's share becomes one transaction.
        "max_poll_records": settings.intake_batch_size * 4,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        **recovery(settings),
    }
    if settings.kafka_instance_id:
        # Static membership: a restarted process with the same id takes its
        # partitions back at once, with no rebalance of the others.
        options["group_instance_id"] = f"{settings.kafka_instance_id}-{role.value}"
    options.update(overrides)
    return KafkaConsumer(**options)


def group_id(settings: KafkaSettings, role: KafkaRole) -> str:
    return f"{settings.kafka_group_prefix}-{role.value}"


def read_to_end(settings: KafkaSettings, topic: str, role: KafkaRole) -> Iterator[ConsumerRecord]:
    """Every record of a topic, from each partition's start to the end the broker reports now.

    For checks that must see everything (a shredding certificate): reading
    until a quiet spell would let an empty read pass for an empty topic.
    """
    consumer = reader(settings, role, f"{role.value}-reader")
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for tp, records in consumer.poll(timeout_ms=5000).items():
                yield from (r for r in records if r.offset < ends[tp])
    finally:
        consumer.close()


def start_offsets(settings: KafkaSettings, topic: str, role: KafkaRole) -> dict[int, int]:
    """Each partition's first offset still readable (records below it are deleted)."""
    consumer = reader(settings, role, f"{role.value}-offsets")
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        starts = consumer.beginning_offsets(parts)
        return {tp.partition: offset for tp, offset in starts.items()}
    finally:
        consumer.close()


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
