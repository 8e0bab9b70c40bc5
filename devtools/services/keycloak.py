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
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from devtools.services.common import (
    ServiceError,
    ServiceStatus,
    ensure_command,
    port_open,
    read_pid,
    stop_group,
    tail,
    wait_until,
)

VERSION = "26.4.7"
REALM = "cme"
CLIENT = "cme-api"
ROLES = ("caseworker", "senior_officer", "dpo", "auditor")
STAFF = {
    "officer.ada": ("caseworker",),
    "officer.bo": ("caseworker",),
    "senior.cy": ("senior_officer",),
    "dpo.dee": ("dpo",),
    "auditor.eli": ("auditor",),
}
"""Synthetic staff: user name and realm roles."""


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
        pid = self.pid()
        return ServiceStatus(
            name="keycloak",
            running=pid is not None and port_open("127.0.0.1", self.port),
            where=f"{self.issuer} (Keycloak {VERSION})",
            pid=pid,
            managed=True,
            log=self.log,
            detail=str(self.home),
        )

    def secrets(self) -> dict[str, Any]:
        """The bootstrap admin's and each staff user's generated password (0600 file)."""
        current: dict[str, Any] = (
            json.loads(self.passwords.read_text()) if self.passwords.exists() else {}
        )
        wanted = ["admin", *STAFF]
        if any(name not in current for name in wanted):
            current = {name: current.get(name) or secrets.token_urlsafe(18) for name in wanted}
            self.passwords.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.passwords.touch(mode=0o600)
            self.passwords.write_text(json.dumps(current, indent=2, sort_keys=True))
        return current

    def up(self) -> bool:
        """Start Keycloak if it is not running, then make sure the realm is there."""
        if self.pid() is not None:
            self.provision()
            return False
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


def provision_realm(url: str, passwords: dict[str, Any]) -> None:
    """On any Keycloak: the realm, the API's client, the roles, the synthetic staff."""
    admin = AdminApi(url, "admin", passwords["admin"])
    if admin.get(f"/admin/realms/{REALM}") is None:
        admin.post("/admin/realms", {"realm": REALM, "enabled": True})
    for role in ROLES:
        if admin.get(f"/admin/realms/{REALM}/roles/{role}") is None:
            admin.post(f"/admin/realms/{REALM}/roles", {"name": role})
    if not admin.get(f"/admin/realms/{REALM}/clients?clientId={CLIENT}"):
        admin.post(f"/admin/realms/{REALM}/clients", api_client())
    for username, roles in STAFF.items():
        found = admin.get(f"/admin/realms/{REALM}/users?exact=true&username={username}")
        if not found:
            admin.post(f"/admin/realms/{REALM}/users", staff_user(username))
            found = admin.get(f"/admin/realms/{REALM}/users?exact=true&username={username}")
        user_id = found[0]["id"]
        admin.put(
            f"/admin/realms/{REALM}/users/{user_id}/reset-password",
            {"type": "password", "value": passwords[username], "temporary": False},
        )
        wanted = [admin.get(f"/admin/realms/{REALM}/roles/{role}") for role in roles]
        admin.post(f"/admin/realms/{REALM}/users/{user_id}/role-mappings/realm", wanted)


def api_client() -> dict[str, Any]:
    """The API's client: public (staff tools sign in through it), tokens for the API audience."""
    return {
        "clientId": CLIENT,
        "enabled": True,
        "publicClient": True,
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": True,  # development and tests: password grant
        "redirectUris": ["http://127.0.0.1/*", "http://localhost/*"],
        "protocolMappers": [
            {
                "name": "audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.client.audience": CLIENT,
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                },
            }
        ],
    }


def staff_user(username: str) -> dict[str, Any]:
    given = username.split(".")[1].title()
    return {
        "username": username,
        "enabled": True,
        "emailVerified": True,
        "firstName": given,
        "lastName": "Synthetic",
        "email": f"{username}@staff.invalid",
        "requiredActions": [],
    }


class AdminApi:
    """Keycloak's admin REST API with a token from the master realm's admin-cli."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        form = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": username,
                "password": password,
            }
        ).encode()
        token_url = f"{url}/realms/master/protocol/openid-connect/token"
        with urllib.request.urlopen(token_url, data=form, timeout=30) as response:  # noqa: S310
            self.token = json.loads(response.read())["access_token"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the local Keycloak
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                if exc.code == 404 and method == "GET":
                    return None
                msg = f"Keycloak refused {method} {path}: HTTP {exc.code} {exc.read()[:300]!r}"
            raise ServiceError(msg) from None
        return json.loads(payload) if payload else None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._call("PUT", path, body)


def main(argv: list[str]) -> int:
    """``python -m devtools.services.keycloak URL SECRETS``: docker-compose's realm set-up."""
    if len(argv) != 2:
        print("usage: python -m devtools.services.keycloak URL PASSWORDS_FILE", file=sys.stderr)
        return 2
    url, path = argv
    holder = LocalKeycloak(Path("/nonexistent"), 0, Path(path))
    passwords = holder.secrets()
    passwords["admin"] = os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD", passwords["admin"])
    deadline = time.monotonic() + 180
    while True:
        try:
            provision_realm(url.rstrip("/"), passwords)
            break
        except (OSError, ServiceError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)  # Keycloak is still starting
    print(f"realm {REALM} ready at {url}/realms/{REALM}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
