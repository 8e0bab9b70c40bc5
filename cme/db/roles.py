"""The project's database roles and how each process connects as its own role.

Least privilege is a design rule: the writer cannot read keys, caseworker tools
read only the ``caseworker`` schema, auditors read only the event store and the
ledger, and only the key-store role reads the key store. Each role has its own
random password, kept in the passwords file that ``cme db setup`` writes.
"""

from __future__ import annotations

import json
import secrets
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from cme.settings import ConfigurationError, Settings


class Role(StrEnum):
    """One database role per kind of process."""

    WRITER = "cme_writer"  # event store and blind index (the write side)
    KEYSTORE = "cme_keystore"  # the application's keys: read, add, re-wrap; never destroy
    KEYREADER = "cme_keyreader"  # reads wrapped keys, nothing else (projector, auditors)
    RETENTION = "cme_retention"  # the only role that destroys keys (the retention job)
    PROJECTOR = "cme_projector"  # writes the caseworker read models
    LEDGER = "cme_ledger"  # appends to the disclosure ledger
    CASEWORKER = "cme_caseworker"  # reads the caseworker schema only
    AUDITOR = "cme_auditor"  # reads the event store and the ledger only


def passwords_file(settings: Settings) -> Path:
    return settings.db_passwords_file or settings.secrets_dir / "db-passwords.json"


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """Role passwords, generating any that are missing (file mode 0600)."""
    current: dict[str, str] = {}
    if path.exists():
        current = json.loads(path.read_text())
    changed = False
    for role in Role:
        if role.value not in current:
            current[role.value] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps(current, indent=2, sort_keys=True))
        path.chmod(0o600)
    return current


WORKER_ROLES: dict[str, tuple[Role, ...]] = {
    "intake": (Role.WRITER, Role.KEYSTORE),
    "relay": (Role.WRITER, Role.KEYSTORE),
    "projector": (Role.PROJECTOR, Role.KEYREADER),
    "ledger": (Role.LEDGER,),
    "retention": (Role.WRITER, Role.KEYSTORE, Role.RETENTION),
    # The API serves auditors too (ledger verification, report): it reads as they do.
    "api": (Role.WRITER, Role.KEYSTORE, Role.CASEWORKER, Role.AUDITOR),
}
"""The roles each worker connects as: all a process running it alone should be given."""


def role_env_name(role: Role) -> str:
    return f"CME_DB_URL_{role.value.removeprefix('cme_').upper()}"


def role_url(settings: Settings, role: Role) -> str:
    """The role's own URL: ``CME_DB_URL_<ROLE>`` if given, else derived for development.

    A deployment gives each process only its roles' URLs and never the admin
    URL. For development, the URL is derived from the admin URL's server and
    the passwords file that ``cme db setup`` writes.
    """
    explicit = settings.role_database_url(role.value)
    if explicit:
        return explicit
    admin = urlsplit(settings.require_database_url())
    path = passwords_file(settings)
    if not path.exists():
        msg = (
            f"no database role passwords at {path}; create the roles with `cme db setup` "
            "(scripts/services up does it for the local cluster)"
        )
        raise ConfigurationError(msg)
    password = json.loads(path.read_text()).get(role.value)
    if password is None:
        msg = f"{path} has no password for {role.value}; run `cme db setup`"
        raise ConfigurationError(msg)
    netloc = f"{role.value}:{quote(password, safe='')}@{admin.hostname}"
    if admin.port:
        netloc += f":{admin.port}"
    return urlunsplit((admin.scheme, netloc, admin.path, admin.query, ""))
