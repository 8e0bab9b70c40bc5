"""`scripts/services up|down|status|env`: the project's own services, or configured ones.

When CME_DATABASE_URL / CME_KAFKA_BOOTSTRAP_SERVERS point at existing servers,
those are used and nothing is started; otherwise the project starts a private
PostgreSQL cluster and a KRaft broker under CME_DATA_DIR (default ``.local``).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cme.db.roles import WORKER_ROLES, passwords_file, role_env_name, role_url
from cme.db.setup import setup_database
from cme.kafka_access import (
    WORKER_PRINCIPALS,
    load_or_create_passwords,
    local_credentials,
    provision,
    set_credentials,
)
from cme.secrets import ledger_public_key_text
from cme.settings import ConfigurationError, Settings, load_settings
from consumers.config import KafkaRole
from devtools.services.common import ServiceStatus, port_open
from devtools.services.kafka import LocalKafka
from devtools.services.keycloak import LocalKeycloak
from devtools.services.postgres import LocalPostgres


@dataclass(frozen=True)
class Plan:
    """Which services are ours to manage and which are configured elsewhere."""

    settings: Settings
    postgres: LocalPostgres | None
    kafka: LocalKafka | None
    keycloak: LocalKeycloak | None = None

    @property
    def issuer(self) -> str | None:
        return self.keycloak.issuer if self.keycloak is not None else self.settings.oidc_issuer

    @property
    def database_url(self) -> str:
        if self.postgres is not None:
            return self.postgres.url
        return self.settings.require_database_url()

    @property
    def bootstrap(self) -> str:
        if self.kafka is not None:
            return self.kafka.bootstrap
        return self.settings.require_kafka()


MANAGED = "CME_SERVICES_MANAGED"
"""Set by `scripts/services env`: the URLs in this shell are our own services,
so `down` and `status` still manage them."""


def plan(settings: Settings | None = None) -> Plan:
    settings = settings or load_settings()
    if os.environ.get(MANAGED) == "1":
        settings = settings.model_copy(
            update={"database_url": None, "kafka_bootstrap_servers": None, "oidc_issuer": None}
        )
    pg_port = _port("CME_PG_PORT", 54329)
    kafka_port = _port("CME_KAFKA_PORT", 19092)
    keycloak_port = _port("CME_KEYCLOAK_PORT", 18080)
    return Plan(
        settings=settings,
        postgres=None if settings.database_url else LocalPostgres(settings.data_dir, pg_port),
        kafka=None
        if settings.kafka_bootstrap_servers
        else LocalKafka(settings.data_dir, kafka_port, settings.kafka_passwords_path),
        keycloak=None
        if settings.oidc_issuer
        else LocalKeycloak(
            settings.data_dir, keycloak_port, settings.secrets_dir / "keycloak.json"
        ),
    )


def _port(variable: str, default: int) -> int:
    text = os.environ.get(variable, str(default))
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        msg = f"{variable}: not a port number (1-65535), e.g. {default}"
        raise ConfigurationError(msg)
    return int(text)


def up(p: Plan) -> list[str]:
    """Start what is ours and not running, then set up roles and topics; names what started."""
    started = []
    if p.postgres is not None and p.postgres.up():
        started.append("postgresql")
    configured = p.settings.model_copy(
        update={"database_url": p.database_url, "kafka_bootstrap_servers": p.bootstrap}
    )
    if p.kafka is not None:
        if p.kafka.up():
            started.append("kafka")
        passwords = load_or_create_passwords(p.kafka.passwords)
        set_credentials(configured, local_credentials(passwords))
        write_client_properties(
            configured.secrets_dir / "kafka-auditor.properties",
            KafkaRole.AUDITOR.default_username,
            passwords[KafkaRole.AUDITOR.value],
        )
    if p.keycloak is not None and p.keycloak.up():
        started.append("keycloak")
    setup_database(configured)
    created = provision(configured)
    if created:
        print(f"created topics: {', '.join(created)}", flush=True)
    return started


def write_client_properties(path: Path, username: str, password: str) -> None:
    """A Java client's ``--command-config`` (Kafka's own tools), owner-only: it holds a password."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(
        "security.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";\n'
    )


def down(p: Plan) -> list[str]:
    stopped = []
    if p.keycloak is not None and p.keycloak.down():
        stopped.append("keycloak")
    if p.kafka is not None and p.kafka.down():
        stopped.append("kafka")
    if p.postgres is not None and p.postgres.down():
        stopped.append("postgresql")
    return stopped


def statuses(p: Plan) -> list[ServiceStatus]:
    result = []
    if p.postgres is not None:
        result.append(p.postgres.status())
    else:
        result.append(_external("postgresql", p.settings.require_database_url()))
    if p.kafka is not None:
        result.append(p.kafka.status())
    else:
        result.append(_external("kafka", p.settings.require_kafka()))
    if p.keycloak is not None:
        result.append(p.keycloak.status())
    elif p.settings.oidc_issuer:
        result.append(_external("oidc", p.settings.oidc_issuer))
    return result


def _external(name: str, where: str) -> ServiceStatus:
    if "://" in where:
        parts = urlsplit(where)
        default = {"https": 443, "http": 80}.get(parts.scheme, 5432)
        host, port = parts.hostname or "", parts.port or default
        shown = f"{host}:{port}{parts.path}"
    else:
        host, _, port_text = where.split(",", maxsplit=1)[0].rpartition(":")
        port, shown = int(port_text), where
    return ServiceStatus(
        name=name,
        running=port_open(host, port),
        where=shown,
        pid=None,
        managed=False,
        log=None,
        detail="configured, not started by this project",
    )


def worker_env_lines(p: Plan, worker: str) -> list[str]:
    """Shell lines for a process running one worker: its roles' URLs, never the admin's."""
    if worker not in WORKER_ROLES:
        msg = f"unknown worker {worker!r}; the workers are {', '.join(WORKER_ROLES)}"
        raise ConfigurationError(msg)
    admin_settings = p.settings.model_copy(update={"database_url": p.database_url})
    values = {
        "CME_MODE": "services",
        "CME_KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
        **{role_env_name(r): role_url(admin_settings, r) for r in WORKER_ROLES[worker]},
        **_kafka_user_lines(p.settings, WORKER_PRINCIPALS[worker]),
        # The API checks every token against the council's sign-in and the ledger's
        # checkpoints against its public key: public values, no secret.
        **(_api_lines(p) if worker == "api" else {}),
    }
    return [f"export {key}={shlex.quote(value)}" for key, value in values.items()]


def _api_lines(p: Plan) -> dict[str, str]:
    lines = {"CME_LEDGER_PUBLIC_KEY": ledger_public_key_text(p.settings)}
    if p.issuer:
        lines["CME_OIDC_ISSUER"] = p.issuer
    return lines


def _kafka_user_lines(settings: Settings, roles: tuple[KafkaRole, ...]) -> dict[str, str]:
    """``CME_KAFKA_USER_<ROLE>`` of each role, when the broker authenticates its clients."""
    lines = {}
    for role in roles:
        security = settings.kafka_security(role)
        if security.username is not None and security.password is not None:
            lines["CME_KAFKA_SECURITY_PROTOCOL"] = security.protocol
            lines[f"CME_KAFKA_USER_{role.value.upper()}"] = (
                f"{security.username}:{security.password}"
            )
    return lines


def env_lines(p: Plan) -> list[str]:
    """Shell lines that point the project's processes at these services."""
    values = {
        MANAGED: "1" if p.postgres is not None and p.kafka is not None else "0",
        "CME_MODE": "services",
        "CME_DATABASE_URL": p.database_url,
        "CME_DB_PASSWORDS_FILE": str(passwords_file(p.settings)),
        "CME_KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
        "CME_KAFKA_PASSWORDS_FILE": str(p.settings.kafka_passwords_path),
        **({"CME_OIDC_ISSUER": p.issuer} if p.issuer else {}),
        "CME_LEDGER_PUBLIC_KEY": ledger_public_key_text(p.settings),
        # Kept, so `scripts/services status|down` later in this shell find these services
        # and not another checkout's on the default ports.
        "CME_PG_PORT": str(_port("CME_PG_PORT", 54329)),
        "CME_KAFKA_PORT": str(_port("CME_KAFKA_PORT", 19092)),
        "CME_KEYCLOAK_PORT": str(_port("CME_KEYCLOAK_PORT", 18080)),
    }
    return [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
