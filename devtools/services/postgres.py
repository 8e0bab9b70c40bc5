"""A private PostgreSQL cluster made from the machine's PostgreSQL 15 binaries.

``initdb`` and ``postgres`` refuse to run as root, and the build machines run as
root, so as root every server command runs as the unprivileged ``postgres``
system user over a data folder it owns. The cluster listens on 127.0.0.1 only,
with password (SCRAM) authentication for every role.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from devtools.services.common import (
    ServiceError,
    ServiceStatus,
    ensure_command,
    is_root,
    local_status,
    port_open,
    read_pid,
    tail,
)

ADMIN_USER = "cme_admin"
DATABASE = "cme"


def bin_dir() -> Path:
    """Folder of initdb/pg_ctl: CME_PG_BINDIR, Debian's layout, or PATH."""
    configured = os.environ.get("CME_PG_BINDIR")
    if configured:
        return Path(configured)
    candidates = sorted(
        (str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), key=_version_key
    )
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb") or ""
    if not initdb:
        ensure_command("pg_ctlcluster", "postgresql-15")
        return bin_dir()
    return Path(initdb).resolve().parent


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


class LocalPostgres:
    """The project's own PostgreSQL cluster under ``<data_dir>/postgres``."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self.data_dir = data_dir
        self.home = self._choose_home(data_dir)
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self.password_file = data_dir / "secrets" / "pg-admin-password"

    @staticmethod
    def _choose_home(data_dir: Path) -> Path:
        """The cluster lives under the checkout unless the postgres user cannot reach it."""
        home = data_dir / "postgres"
        if not is_root() or _postgres_user_can_enter(data_dir):
            return home
        return _outside_home(data_dir, _admin_password(data_dir / "secrets" / "pg-admin-password"))

    @property
    def url(self) -> str:
        return f"postgresql://{ADMIN_USER}:{self.admin_password()}@127.0.0.1:{self.port}/{DATABASE}"

    def admin_password(self) -> str:
        return _admin_password(self.password_file)

    def _as_owner(self, *command: str) -> list[str]:
        return [runuser(), "-u", "postgres", "--", *command] if is_root() else list(command)

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            self._as_owner(*command), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            msg = (
                f"{Path(command[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}; log: {self.log}"
            )
            raise ServiceError(msg)

    def pid(self) -> int | None:
        return read_pid(self.data / "postmaster.pid")

    def status(self) -> ServiceStatus:
        return local_status(
            "postgresql",
            self.data / "postmaster.pid",
            self.port,
            f"127.0.0.1:{self.port} database {DATABASE}",
            self.log,
            str(self.data),
        )

    def up(self) -> bool:
        """Start the cluster if it is not running; True when this call started it."""
        if self.pid() is not None:
            self._ensure_database()
            return False
        if self.home.parent == OUTSIDE and not (self.data / "PG_VERSION").exists():
            remove_earlier_clusters(self.data_dir, self.home, self._stop)
        if port_open("127.0.0.1", self.port):
            msg = (
                f"port {self.port} is taken by another program; set CME_PG_PORT to a free "
                "port, or point CME_DATABASE_URL at that server to use it instead"
            )
            raise ServiceError(msg)
        bindir = bin_dir()
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bindir)
        print(f"starting PostgreSQL on 127.0.0.1:{self.port} (log {self.log}) ...", flush=True)
        # The server log keeps no values: a refused row's DETAIL ("Failing row
        # contains (...)") would copy a read model's personal values into a file
        # no shredding reaches, and so would a failing statement's text.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c shared_buffers=256MB -c max_connections=200 "
            "-c log_error_verbosity=terse -c log_min_error_statement=panic"
        )
        try:
            self._run(
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
        except ServiceError as exc:
            raise ServiceError(f"{exc}\n{tail(self.log)}") from None
        self._ensure_database()
        return True

    def _initdb(self, bindir: Path) -> None:
        print(f"creating a PostgreSQL cluster in {self.data} ...", flush=True)
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        pwfile = self.home / "initdb-password"
        pwfile.write_text(self.admin_password() + "\n")
        pwfile.chmod(0o600)
        if is_root():
            shutil.chown(self.home, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            self._run(
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                ADMIN_USER,
                "-A",
                "scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _ensure_database(self) -> None:
        admin = f"postgresql://{ADMIN_USER}:{self.admin_password()}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))

    def down(self, mode: str = "fast") -> bool:
        """Stop the server; ``mode="immediate"`` is a crash, for the fault tests."""
        if self.pid() is None:
            return False
        print("stopping PostgreSQL ...", flush=True)
        self._stop(self.data, mode)
        return True

    def _stop(self, data: Path, mode: str = "fast") -> None:
        self._run(str(bin_dir() / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop")


def _admin_password(password_file: Path) -> str:
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        password_file.write_text(secrets.token_urlsafe(24))
        password_file.chmod(0o600)
    return password_file.read_text().strip()


OUTSIDE = Path("/var/tmp")  # noqa: S108 - each cluster folder is owned by postgres, 0700


def _outside_home(data_dir: Path, admin_password: str) -> Path:
    """A cluster folder outside a checkout the postgres user cannot reach (e.g. under /root).

    The name joins the checkout's path with a digest of its admin password, so a
    fresh clone at the same path (CI clones to one path every run) gets its own
    cluster instead of one that answers only to the earlier clone's password.
    """
    return OUTSIDE / f"cme-postgres-{_place(data_dir)}-{_digest(admin_password)}"


def _place(data_dir: Path) -> str:
    return _digest(str(data_dir.resolve()))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def remove_earlier_clusters(data_dir: Path, home: Path, stop: Callable[[Path], None]) -> list[Path]:
    """Stop and remove the clusters of earlier checkouts at this checkout's path.

    Their admin password went with the checkout that made them, so nobody can
    sign into them through the project's scripts any more; one left running (a
    run killed before its ``services down``) would hold the port this checkout
    needs. Each one stopped or removed is printed.
    """
    removed = []
    for earlier in sorted(OUTSIDE.glob(f"cme-postgres-{_place(data_dir)}*")):
        if earlier == home or not earlier.is_dir():
            continue
        if read_pid(earlier / "data" / "postmaster.pid") is not None:
            print(
                f"stopping the PostgreSQL cluster of an earlier checkout in {earlier} ...",
                flush=True,
            )
            stop(earlier / "data")
        print(
            f"removing {earlier}: the PostgreSQL cluster of an earlier checkout at "
            f"{data_dir}, whose admin password went with that checkout",
            flush=True,
        )
        shutil.rmtree(earlier)
        removed.append(earlier)
    return removed


def runuser() -> str:
    """util-linux's runuser, which root's PATH may lack (it lives in /usr/sbin)."""
    found = shutil.which("runuser") or next(
        (str(p) for p in (Path("/usr/sbin/runuser"), Path("/sbin/runuser")) if p.exists()), None
    )
    if found is None:
        msg = (
            "runuser (util-linux) is not installed: as root, the local PostgreSQL runs as the "
            "postgres user through it; install util-linux, or run as another user"
        )
        raise ServiceError(msg)
    return found


def _postgres_user_can_enter(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        [runuser(), "-u", "postgres", "--", "test", "-x", str(folder)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0
