"""Who may do what on the broker: one SCRAM principal per role, and the ACLs each holds.

The broker denies everything no ACL allows (StandardAuthorizer, no
``allow.everyone.if.no.acl.found``), so these lists are the whole of each
role's rights: a sender cannot read a topic or write the events, intake
cannot write the events topic, only the admin creates or deletes topics.
The ACLs name this deployment's topics and groups literally; a test run or
benchmark on topics of its own gets the same rights on those names.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    UserScramCredentialUpsertion,
)

from cme.private_files import write_private
from cme.settings import ConfigurationError, Settings
from cme.topics import ensure_topics, required_topics, topic_configs
from consumers import kafka_io
from consumers.config import KafkaRole

Right = tuple[ResourceType, str, ACLOperation]


def rights(settings: Settings) -> dict[KafkaRole, list[Right]]:
    """Each role's rights on this deployment's topics and consumer groups; nothing else."""
    upstream, quarantine, events = (
        settings.topic_upstream,
        settings.topic_quarantine,
        settings.topic_events,
    )
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    read, write, delete = ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DELETE
    return {
        KafkaRole.SENDER: [(topic, upstream, write)],
        KafkaRole.INTAKE: [
            (topic, upstream, read),
            (group, kafka_io.group_id(settings, KafkaRole.INTAKE), read),
            (topic, quarantine, write),
        ],
        KafkaRole.RELAY: [(topic, events, write)],
        KafkaRole.PROJECTOR: [
            (topic, events, read),
            (group, kafka_io.group_id(settings, KafkaRole.PROJECTOR), read),
        ],
        KafkaRole.RETENTION: [
            (topic, quarantine, read),
            (topic, quarantine, write),
            (topic, upstream, ACLOperation.DESCRIBE),
            (topic, upstream, delete),
        ],
        KafkaRole.OPERATOR: [(topic, quarantine, read), (topic, upstream, write)],
        # Reading configs too: how long each topic keeps data is part of what an auditor checks.
        KafkaRole.AUDITOR: [
            (topic, name, operation)
            for name in (upstream, quarantine, events)
            for operation in (read, ACLOperation.DESCRIBE_CONFIGS)
        ],
    }


WORKER_PRINCIPALS: dict[str, tuple[KafkaRole, ...]] = {
    "intake": (KafkaRole.INTAKE,),
    "relay": (KafkaRole.RELAY,),
    "projector": (KafkaRole.PROJECTOR,),
    "ledger": (),
    "retention": (KafkaRole.RETENTION,),
    "api": (),
}
"""The Kafka principal each worker connects as (the ledger writer reads PostgreSQL only)."""


def principal(settings: Settings, role: KafkaRole) -> str:
    """``User:NAME`` of a role: the name it is given (CME_KAFKA_USER_<ROLE>), else the default."""
    given = getattr(settings, f"kafka_user_{role.value}")
    name = given.get_secret_value().partition(":")[0] if given else role.default_username
    return f"User:{name}"


def required_acls(settings: Settings, senders: tuple[str, ...] = ()) -> list[ACL]:
    """The ALLOW entries of every role; ``senders`` are further sender principals' names."""
    acls = []
    for role, granted in rights(settings).items():
        names = [principal(settings, role)]
        if role is KafkaRole.SENDER:
            names += [f"User:{name}" for name in senders]
        acls += [
            ACL(name, "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, resource))
            for name in names
            for kind, resource, operation in granted
        ]
    return acls


def grant(settings: Settings, acls: list[ACL]) -> None:
    """Create the ACLs as the admin principal; creating one that exists changes nothing."""
    admin = kafka_io.admin(settings, KafkaRole.ADMIN, "acl-admin")
    try:
        result = admin.create_acls(acls)
    finally:
        admin.close()
    if result["failed"]:
        msg = f"the broker refused {len(result['failed'])} ACL(s): {result['failed'][0]}"
        raise ConfigurationError(msg)


def _held_by(principal: str | None) -> ACLFilter:
    """Every ACL of ``principal`` (``User:NAME``), or everyone's for None."""
    return ACLFilter(
        principal,
        None,
        ACLOperation.ANY,
        ACLPermissionType.ANY,
        ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )


def _delete_acls(
    settings: Settings, principal: str | None, doomed: Callable[[ACL], bool] = lambda _: True
) -> int:
    """Delete the ACLs of ``principal`` (or anyone's) that ``doomed`` picks; how many."""
    admin = kafka_io.admin(settings, KafkaRole.ADMIN, "acl-admin")
    try:
        acls, _ = admin.describe_acls(_held_by(principal))
        chosen = [acl for acl in acls if doomed(acl)]
        if chosen:
            admin.delete_acls(chosen)
        return len(chosen)
    finally:
        admin.close()


@dataclass(frozen=True)
class Principal:
    """A user the broker knows: by its SCRAM credential, its ACLs, or both."""

    name: str
    has_credential: bool
    acls: tuple[ACL, ...]


def principals(settings: Settings) -> dict[str, Principal]:
    """Every principal with a SCRAM credential or an ACL on this broker, by name."""
    admin = kafka_io.admin(settings, KafkaRole.ADMIN, "acl-admin")
    try:
        credentials = admin.describe_user_scram_credentials()
        acls, _ = admin.describe_acls(_held_by(None))
    finally:
        admin.close()
    names = {name for name, described in credentials.items() if not described.get("error")}
    by_name: dict[str, list[ACL]] = {}
    for acl in acls:
        kind, _, name = acl.principal.partition(":")
        if kind == "User":
            by_name.setdefault(name, []).append(acl)
    return {
        name: Principal(name, name in names, tuple(by_name.get(name, ())))
        for name in sorted(names | set(by_name))
    }


def revoke_under(settings: Settings, prefix: str) -> int:
    """Delete the ACLs on topics and groups named under ``prefix`` (a test run's, at its end)."""
    starts = (f"{prefix}.", f"{prefix}-", f"{prefix.replace('.', '-')}-")
    return _delete_acls(
        settings, None, lambda acl: acl.resource_pattern.resource_name.startswith(starts)
    )


def revoke_principal(settings: Settings, username: str) -> int:
    """Take a principal's rights away: its ACLs deleted, its password replaced by one nobody has.

    Its SCRAM credential is never deleted. On Apache Kafka 4.1.1 a
    RemoveUserScramCredential record in the metadata log leaves a restarted
    KRaft broker refusing every SCRAM login, the admin's included (found
    here: a log cut just before that record restarts fine, just after it
    does not). Returns how many ACLs were deleted.
    """
    if username == KafkaRole.ADMIN.default_username:
        msg = "the admin principal cannot be revoked (it is the broker's only super user)"
        raise ConfigurationError(msg)
    set_credentials(settings, {username: secrets.token_urlsafe(32)})  # then forgotten
    return _delete_acls(settings, f"User:{username}")


def authorizing(settings: Settings) -> bool:
    """Whether clients authenticate here, so the broker has principals to give ACLs to."""
    return settings.kafka_security(KafkaRole.ADMIN).username is not None


def provision(settings: Settings) -> list[str]:
    """The deployment's topics and every role's ACLs on them; the topics created now."""
    created = ensure_topics(settings, required_topics(settings), topic_configs(settings))
    if authorizing(settings):
        grant(settings, required_acls(settings))
    return created


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """The local broker's password of each role, generating any that are missing (0600)."""
    current: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [role.value for role in KafkaRole if role.value not in current]
    if missing:
        current.update({name: secrets.token_urlsafe(24) for name in missing})
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, json.dumps(current, indent=2, sort_keys=True), replace=True)
    return current


def local_credentials(passwords: dict[str, str]) -> dict[str, str]:
    """The local broker's user name and password of every role but the admin (set at format)."""
    return {
        role.default_username: passwords[role.value]
        for role in KafkaRole
        if role is not KafkaRole.ADMIN
    }


def given_credentials(settings: Settings) -> dict[str, str]:
    """The principals this process was given (``CME_KAFKA_USER_<ROLE>``), name to password."""
    given = {}
    for role in KafkaRole:
        if role is not KafkaRole.ADMIN and getattr(settings, f"kafka_user_{role.value}"):
            security = settings.kafka_security(role)
            if security.username and security.password:
                given[security.username] = security.password
    return given


def set_credentials(settings: Settings, credentials: dict[str, str]) -> None:
    """Create or reset each user's SCRAM credential on the broker, as the admin."""
    if not credentials:
        return
    upserts = [
        UserScramCredentialUpsertion(user, settings.kafka_sasl_mechanism, password)
        for user, password in credentials.items()
    ]
    admin = kafka_io.admin(settings, KafkaRole.ADMIN, "user-admin")
    try:
        errors = {user: e for user, e in admin.alter_user_scram_credentials(upserts).items() if e}
    finally:
        admin.close()
    if errors:
        user, error = next(iter(errors.items()))
        msg = f"the broker refused the SCRAM credential of {user}: {error}"
        raise ConfigurationError(msg)
