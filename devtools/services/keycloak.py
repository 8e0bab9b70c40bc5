"""A local Keycloak, the identity provider the API's sign-in is tested against.

The server distribution comes from Maven Central once (like the Kafka jars)
into the shared cache; each checkout runs it in development mode on
127.0.0.1 with its own H2 database under ``<data_dir>/keycloak``. The ``cme``
realm, the API's client, the staff roles and a few synthetic staff users are
created through Keycloak's admin REST API (``provision``), so the same code
can set up a council's own Keycloak. Passwords are generated into
``secrets/keycloak.json`` (0600); nothing here is a real person.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from cme.idp_realm import (
    CLIENT,
    REALM,
    load_or_create_passwords,
    provision_realm,
)
from devtools.services.common import (
    ServiceError,
    ServiceStatus,
    ensure_command,
    local_status,
    port_open,
    read_pid,
    stop_group,
    stop_leftovers,
    tail,
    wait_until,
)

VERSION = "26.4.7"


def cache_dir() -> Path:
    root = os.environ.get("CME_CACHE_DIR") or str(Path.home() / ".cache" / "cme")
    return Path(root) / f"keycloak-{VERSION}"


def fetch_distribution() -> Path:
    """Unpack the server distribution into the cache once; later calls are free."""
    home = cache_dir() / f"keycloak-{VERSION}"
    marker = cache_dir() / "complete"
    if marker.exists():
        return home
    ensure_command("java", "openjdk-17-jre-headless")
    mvn = ensure_command("mvn", "maven")
    print(f"fetching Keycloak {VERSION} with Maven into {cache_dir()} ...", flush=True)
    cache_dir().mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "dependency:copy",
            f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{VERSION}:zip",
            f"-DoutputDirectory={cache_dir()}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    archive = cache_dir() / f"keycloak-quarkus-dist-{VERSION}.zip"
    if result.returncode != 0 or not archive.exists():
        msg = (
            "Maven could not fetch Keycloak; check that Maven Central is reachable and retry "
            f"`scripts/services up`:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
        raise ServiceError(msg)
    with zipfile.ZipFile(archive) as dist:
        dist.extractall(cache_dir())
    for script in (home / "bin").glob("*.sh"):
        script.chmod(0o755)
    archive.unlink()
    marker.write_text(VERSION)
    return home


class LocalKeycloak:
    """The project's own Keycloak under ``<data_dir>/keycloak``."""

    def __init__(self, data_dir: Path, port: int, passwords: Path) -> None:
        self.port = port
        self.home = data_dir / "keycloak"
        self.passwords = passwords
        self.log = self.home / "keycloak.log"
        self.pid_file = self.home / "keycloak.pid"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def status(self) -> ServiceStatus:
        return local_status(
            "keycloak",
            self.pid_file,
            self.port,
            f"{self.issuer} (Keycloak {VERSION})",
            self.log,
            str(self.home),
        )

    def secrets(self) -> dict[str, Any]:
        """The bootstrap admin's and each staff user's generated password (0600 file)."""
        return load_or_create_passwords(self.passwords)

    def token(self, username: str, password: str | None = None) -> str:
        """An access token from the realm's real token endpoint (password grant, development)."""
        form = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "client_id": CLIENT,
                "username": username,
                "password": password or self.secrets()[username],
                "scope": "openid",
            }
        ).encode()
        url = f"{self.issuer}/protocol/openid-connect/token"
        with urllib.request.urlopen(url, data=form, timeout=30) as response:  # noqa: S310
            token: str = json.loads(response.read())["access_token"]
        return token

    def up(self) -> bool:
        """Start Keycloak if it is not running, then make sure the realm is there."""
        if self.pid() is not None:
            self.provision()
            return False
        stop_leftovers(self.home, "Keycloak")
        if port_open("127.0.0.1", self.port):
            msg = f"port {self.port} is taken by another program; set CME_KEYCLOAK_PORT"
            raise ServiceError(msg)
        home = fetch_distribution()
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        print(f"starting Keycloak on {self.url} (log {self.log}) ...", flush=True)
        database = self.home / "h2" / "keycloakdb"
        env = {
            **os.environ,
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self.secrets()["admin"],
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
        }
        self.log.touch(mode=0o600)
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [
                    str(home / "bin" / "kc.sh"),
                    "start-dev",
                    "--http-host=127.0.0.1",
                    f"--http-port={self.port}",
                    "--db=dev-file",
                    f"--db-url=jdbc:h2:file:{database};NON_KEYWORDS=VALUE",
                    "--health-enabled=false",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,
            )
        self.pid_file.write_text(str(process.pid))
        self.pid_file.chmod(0o600)

        def ready() -> bool:
            if process.poll() is not None:
                msg = f"Keycloak exited with code {process.returncode}\n{tail(self.log)}"
                raise ServiceError(msg)
            return port_open("127.0.0.1", self.port) and self._answers()

        wait_until(ready, timeout=180, what="Keycloak", log=self.log)
        process.returncode = 0  # detached on purpose: it outlives this call
        self.provision()
        return True

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/realms/master", timeout=2):  # noqa: S310
                return True
        except (urllib.error.URLError, OSError):
            return False

    def down(self) -> bool:
        return stop_group(self.pid_file, "Keycloak")

    def provision(self) -> None:
        """The ``cme`` realm, its client, roles and synthetic staff; idempotent."""
        provision_realm(self.url, self.secrets())
