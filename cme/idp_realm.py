"""The ``cme`` realm on a Keycloak: the API's client, the staff roles, synthetic staff users.

Through Keycloak's admin REST API, so the same code sets up the project's
local Keycloak (``scripts/services up``), docker-compose's, or a council's
test instance (``cme idp setup URL PASSWORDS_FILE``). The staff users are
synthetic and for development; their generated passwords, and the bootstrap
admin's, live in an owner-only JSON file.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cme.private_files import write_private

REALM = "cme"
CLIENT = "cme-api"
ROLES = ("caseworker", "senior_officer", "dpo", "auditor")
STAFF = {
    "officer.ada": ("caseworker",),
    "officer.bo": ("caseworker",),
    "senior.cy": ("senior_officer",),
    "senior.dan": ("senior_officer", "caseworker"),  # a team manager who also takes cases
    "dpo.dee": ("dpo",),
    "auditor.eli": ("auditor",),
}
"""Synthetic staff: user name and realm roles."""


class IdentityProviderError(RuntimeError):
    """Keycloak refused a set-up request; the message names the call and the HTTP status."""


def load_or_create_passwords(path: Path) -> dict[str, Any]:
    """The bootstrap admin's and each staff user's password, generating any missing (0600)."""
    current: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    wanted = ["admin", *STAFF]
    if any(name not in current for name in wanted):
        current = {name: current.get(name) or secrets.token_urlsafe(18) for name in wanted}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, json.dumps(current, indent=2, sort_keys=True), replace=True)
    return current


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
            raise IdentityProviderError(msg) from None
        return json.loads(payload) if payload else None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._call("PUT", path, body)
