"""One typed settings object, read from ``CME_*`` environment variables.

Every worker, script and test reads configuration through :func:`load_settings`
so that a missing or malformed value fails in one place, naming the variable,
before any data is touched. Secrets are ``SecretStr`` so they never appear in a
``repr``, a log line or an error message.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.config import KafkaRole, KafkaSecurity

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Mode(StrEnum):
    """Where the system keeps its state."""

    EMBEDDED = "embedded"  # SQLite files, projections fed in-process
    SERVICES = "services"  # PostgreSQL and Apache Kafka


class ConfigurationError(Exception):
    """A CME_* setting is missing or malformed; the message names the variable."""


def _check_postgres_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres"):
        msg = "must be a postgresql:// URL, e.g. postgresql://user:password@127.0.0.1:54329/cme"
        raise ValueError(msg)
    if not parts.hostname or not parts.path.strip("/"):
        msg = "must name a host and a database, e.g. postgresql://user:pw@127.0.0.1:54329/cme"
        raise ValueError(msg)
    return value


def _check_bootstrap(value: str | None) -> str | None:
    if value is None:
        return None
    for server in value.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            msg = "each server must be host:port, e.g. 127.0.0.1:19092 (the value is not repeated)"
            raise ValueError(msg)
    return value


def _check_cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value)
    except ValueError:
        msg = "not a cron schedule: five fields (minute hour day month weekday), e.g. 0 2 * * *"
        raise ValueError(msg) from None
    return value


def _check_data_dir(value: Path) -> Path:
    """A folder this process can use, made if missing: found now rather than at the first write."""
    if value.exists() and not value.is_dir():
        msg = f"{value} is not a folder"
        raise ValueError(msg)
    try:
        value.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        msg = f"cannot make the folder {value} ({exc.strerror})"
        raise ValueError(msg) from None
    return value


PostgresUrl = Annotated[str | None, AfterValidator(_check_postgres_url)]
BootstrapServers = Annotated[str | None, AfterValidator(_check_bootstrap)]
CronSchedule = Annotated[str, AfterValidator(_check_cron)]
DataFolder = Annotated[Path, AfterValidator(_check_data_dir)]


class Settings(BaseSettings):
    """Configuration of every CME process; see the table in README.md."""

    model_config = SettingsConfigDict(env_prefix="CME_", extra="ignore", frozen=True)

    mode: Mode | None = Field(
        default=None,
        description="embedded or services; defaults to services when CME_DATABASE_URL is set",
    )
    data_dir: DataFolder = Field(
        default=PROJECT_ROOT / ".local",
        description="Folder for embedded SQLite files, local services and dev secrets",
    )
    database_url: PostgresUrl = Field(
        default=None,
        description="Administrative PostgreSQL URL, used to create schemas and roles",
    )
    db_url_writer: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of the cme_writer role (its own credentials only)"
    )
    db_url_keystore: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the cme_keystore role (its own credentials only)",
    )
    db_url_keyreader: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the cme_keyreader role (its own credentials only)",
    )
    db_url_retention: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the cme_retention role (its own credentials only)",
    )
    db_url_projector: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the cme_projector role (its own credentials only)",
    )
    db_url_ledger: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of the cme_ledger role (its own credentials only)"
    )
    db_url_caseworker: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the cme_caseworker role (its own credentials only)",
    )
    db_url_auditor: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the cme_auditor role (its own credentials only)",
    )
    db_passwords_file: Path | None = Field(
        default=None,
        description="JSON file of the per-role database passwords written by `cme db setup`",
    )
    kafka_bootstrap_servers: BootstrapServers = Field(
        default=None, description="Comma-separated host:port list of Kafka brokers"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] | None = (
        Field(
            default=None,
            description="defaults to SASL_PLAINTEXT when credentials are given, else PLAINTEXT",
        )
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA certificate that signed the brokers' TLS certificates"
    )
    kafka_user_admin: SecretStr | None = Field(
        default=None, description="'username:password' of the Kafka admin principal (its own only)"
    )
    kafka_user_sender: SecretStr | None = Field(
        default=None, description="'username:password' of the Kafka sender principal (its own only)"
    )
    kafka_user_intake: SecretStr | None = Field(
        default=None, description="'username:password' of the Kafka intake principal (its own only)"
    )
    kafka_user_relay: SecretStr | None = Field(
        default=None, description="'username:password' of the Kafka relay principal (its own only)"
    )
    kafka_user_projector: SecretStr | None = Field(
        default=None,
        description="'username:password' of the Kafka projector principal (its own only)",
    )
    kafka_user_retention: SecretStr | None = Field(
        default=None,
        description="'username:password' of the Kafka retention principal (its own only)",
    )
    kafka_user_operator: SecretStr | None = Field(
        default=None,
        description="'username:password' of the Kafka operator principal (its own only)",
    )
    kafka_user_auditor: SecretStr | None = Field(
        default=None,
        description="'username:password' of the Kafka auditor principal (its own only)",
    )
    kafka_passwords_file: Path | None = Field(
        default=None,
        description="JSON file of the local broker's per-principal passwords (scripts/services)",
    )
    api_host: str = Field(default="127.0.0.1", description="where `cme run` serves the API")
    api_port: int = Field(default=8080, ge=1, le=65535)
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer the API trusts (its /.well-known/openid-configuration)",
    )
    oidc_audience: str = Field(default="cme-api", description="the audience API tokens must name")
    oidc_insecure_http: bool = Field(
        default=False,
        description="accept an http:// issuer off this machine: only on a private container "
        "network (docker-compose's own Keycloak), never across a real network",
    )
    dev_issuer: bool = Field(
        default=False,
        description="services mode only: accept the development token issuer (never in production)",
    )
    oidc_roles_claim: str = Field(
        default="realm_access.roles",
        description="dotted path of the token claim that lists the staff member's roles",
    )
    topic_upstream: str = "cme.upstream.v1"
    topic_quarantine: str = "cme.upstream.quarantine.v1"
    topic_events: str = "cme.events.v1"
    kafka_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_group_prefix: str = Field(
        default="cme",
        pattern=r"^[A-Za-z0-9._-]{1,60}$",
        description="consumer groups are PREFIX-WORKER",
    )
    upstream_retention_hours: int = Field(
        default=168,
        ge=1,
        le=24 * 90,
        description="how long the upstream topic keeps messages intake has not yet deleted",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        le=300_000,
        description="how long a consumer that died without leaving keeps its partitions",
    )
    kafka_instance_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,120}$",
        description=(
            "a stable name for this process (static group membership): set it only where "
            "each replica keeps its own name across restarts, never the same on two"
        ),
    )
    kek: SecretStr | None = Field(
        default=None,
        description="Key-encryption keys as 'id:base64[,id:base64...]', the first is current",
    )
    kek_file: Path | None = Field(
        default=None, description="File with one 'id base64' KEK per line, the first is current"
    )
    index_key: SecretStr | None = Field(
        default=None, description="base64 256-bit key for the blind index (HMAC-SHA256)"
    )
    index_key_file: Path | None = None
    intake_keys: SecretStr | None = Field(
        default=None,
        description="Intake private keys (X25519) as 'kid:base64[,...]', the first is current",
    )
    intake_keys_file: Path | None = None
    intake_public_key: str | None = Field(
        default=None, description="For senders: 'kid:base64' public key to seal payloads to"
    )
    sender_keys: SecretStr | None = Field(
        default=None,
        description="For senders: 'sender:base64[,...]' X25519 private keys this process seals as",
    )
    sender_keys_file: Path | None = Field(
        default=None,
        description="File of 'sender base64' private keys, one a line (cme senders add --generate)",
    )
    intake_batch_size: int = Field(default=500, ge=1, le=10_000)
    ledger_signing_key: SecretStr | None = Field(
        default=None, description="Ed25519 checkpoint signing key as 'kid:base64(raw 32 bytes)'"
    )
    ledger_signing_key_file: Path | None = None
    ledger_public_key: str | None = Field(
        default=None,
        description="Ed25519 checkpoint public key 'kid:base64' (`cme audit public-key`), "
        "for a process that only verifies",
    )
    ledger_checkpoint_every: int = Field(
        default=1,
        ge=1,
        description="entries between signed checkpoints (1: the head is signed at every batch)",
    )
    shred_schedule: CronSchedule = Field(
        default="0 2 * * *", description="cron (m h dom mon dow) of the daily retention run"
    )
    quarantine_retention_days: int = Field(default=30, ge=1, le=3650)
    key_cache_seconds: float = Field(default=60.0, gt=0, le=3600)
    key_cache_size: int = Field(default=10_000, ge=1)

    def role_database_url(self, role: str) -> str | None:
        """``CME_DB_URL_<ROLE>`` for a role (``cme_writer``...), if this process was given it."""
        value = getattr(self, f"db_url_{role.removeprefix('cme_')}", None)
        return value.get_secret_value() if isinstance(value, SecretStr) else None

    def kafka_security(self, role: KafkaRole) -> KafkaSecurity:
        """How a client acting as ``role`` connects: its own credentials, never another's.

        ``CME_KAFKA_USER_<ROLE>`` wins; a development checkout falls back to
        the passwords file ``scripts/services up`` writes for the local broker.
        """
        username, password = self._kafka_credentials(role)
        cafile = str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
        # A CA file means TLS: never fall back to sending credentials in the clear.
        default = ("SASL_SSL" if cafile else "SASL_PLAINTEXT") if password else "PLAINTEXT"
        protocol = self.kafka_security_protocol or (default if password or not cafile else "SSL")
        if not protocol.startswith("SASL"):
            return KafkaSecurity(protocol=protocol, cafile=cafile)
        if password is None:
            variable = f"CME_KAFKA_USER_{role.value.upper()}"
            msg = (
                f"{variable} is not set: this process connects to Kafka as its {role.value} "
                "principal; give it 'username:password' (`scripts/services env --worker NAME` "
                "prints it for the local broker)"
            )
            raise ConfigurationError(msg)
        return KafkaSecurity(protocol, self.kafka_sasl_mechanism, username, password, cafile)

    def _kafka_credentials(self, role: KafkaRole) -> tuple[str, str | None]:
        given = getattr(self, f"kafka_user_{role.value}")
        if isinstance(given, SecretStr):
            username, colon, password = given.get_secret_value().partition(":")
            if not colon or not username or not password:
                msg = f"CME_KAFKA_USER_{role.value.upper()}: must be 'username:password'"
                raise ConfigurationError(msg)
            return username, password
        path = self.kafka_passwords_path
        if path.exists():
            try:
                passwords = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                msg = f"{path}: not a readable JSON passwords file ({exc.__class__.__name__})"
                raise ConfigurationError(msg) from None
            if isinstance(passwords, dict) and isinstance(passwords.get(role.value), str):
                return role.default_username, passwords[role.value]
        return role.default_username, None

    @property
    def kafka_passwords_path(self) -> Path:
        return self.kafka_passwords_file or self.secrets_dir / "kafka-passwords.json"

    @property
    def has_role_urls(self) -> bool:
        return any(
            getattr(self, name) for name in type(self).model_fields if name.startswith("db_url_")
        )

    @model_validator(mode="after")
    def _role_urls_are_urls(self) -> Settings:
        """Each CME_DB_URL_<ROLE> is checked like CME_DATABASE_URL; none is ever repeated."""
        for name in type(self).model_fields:
            secret = getattr(self, name) if name.startswith("db_url_") else None
            if secret is not None:
                try:
                    _check_postgres_url(secret.get_secret_value())
                except ValueError as exc:
                    msg = f"CME_{name.upper()}: {exc}"
                    raise ValueError(msg) from None
        return self

    @model_validator(mode="after")
    def _services_need_urls(self) -> Settings:
        if self.mode is Mode.SERVICES and self.database_url is None and not self.has_role_urls:
            msg = (
                "CME_MODE=services needs CME_DATABASE_URL or CME_DB_URL_<ROLE>; start local "
                "services with "
                '`scripts/services up` and `eval "$(scripts/services env)"`'
            )
            raise ValueError(msg)
        return self

    @property
    def effective_mode(self) -> Mode:
        """Services when a database is configured, else the embedded default."""
        if self.mode is not None:
            return self.mode
        return Mode.SERVICES if self.database_url or self.has_role_urls else Mode.EMBEDDED

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def require_kafka(self) -> str:
        """Bootstrap servers, or an error that says how to get a broker."""
        if not self.kafka_bootstrap_servers:
            msg = (
                "CME_KAFKA_BOOTSTRAP_SERVERS is not set; start the local broker with "
                '`scripts/services up` and `eval "$(scripts/services env)"`'
            )
            raise ConfigurationError(msg)
        return self.kafka_bootstrap_servers

    def require_database_url(self) -> str:
        """The admin URL, or an error that says how to get a database."""
        if not self.database_url:
            msg = (
                "CME_DATABASE_URL is not set; start the local PostgreSQL with "
                '`scripts/services up` and `eval "$(scripts/services env)"`'
            )
            raise ConfigurationError(msg)
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one message per variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            variable = f"CME_{field.upper()}" if error["loc"] else "CME settings"
            # Never echo the offending value: it may be a secret.
            message = error["msg"].removeprefix("Value error, ")
            # A check across settings names its own variable.
            problems.append(message if message.startswith("CME_") else f"{variable}: {message}")
        raise ConfigurationError("; ".join(problems)) from None
