"""What the workers need to know of the configuration, as a protocol the settings satisfy.

The settings themselves belong to the composition root (``cme.settings``);
workers read only these few values, so they depend on nothing above them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class KafkaSettings(Protocol):
    @property
    def topic_upstream(self) -> str: ...

    @property
    def topic_quarantine(self) -> str: ...

    @property
    def topic_events(self) -> str: ...

    @property
    def kafka_group_prefix(self) -> str: ...

    @property
    def kafka_session_timeout_ms(self) -> int: ...

    @property
    def kafka_instance_id(self) -> str | None: ...

    @property
    def intake_batch_size(self) -> int: ...

    def require_kafka(self) -> str: ...

    def kafka_security(self, role: KafkaRole) -> KafkaSecurity: ...


class KafkaRole(StrEnum):
    """Who a Kafka client authenticates as: one principal per kind of process.

    Each holds only the ACLs its work needs (README, "Who may do what"): a
    sender writes the upstream topic and nothing else, intake reads it and
    writes the quarantine, the relay alone writes the events topic.
    """

    ADMIN = "admin"  # creates and deletes topics, users and ACLs; the broker's super user
    SENDER = "sender"  # an upstream system: writes the upstream topic only
    INTAKE = "intake"  # reads upstream, writes the quarantine
    RELAY = "relay"  # writes the events topic
    PROJECTOR = "projector"  # reads the events topic
    RETENTION = "retention"  # deletes applied upstream records, tombstones quarantined ones
    OPERATOR = "operator"  # lists the quarantine, replays a fixed message upstream
    AUDITOR = "auditor"  # reads every topic, writes none (shredding certificates)

    @property
    def default_username(self) -> str:
        """The local broker's user name for this role; a deployment names its own."""
        return "cme-sender-dev" if self is KafkaRole.SENDER else f"cme-{self.value}"


@dataclass(frozen=True)
class KafkaSecurity:
    """How one client connects: the protocol and, under SASL, whose name and password."""

    protocol: str  # PLAINTEXT, SASL_PLAINTEXT, SASL_SSL or SSL
    mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
