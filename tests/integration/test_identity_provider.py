"""Sign-in against the real identity provider: Keycloak's token endpoint and its published keys.

Each synthetic staff member gets an access token for the API from the
``cme`` realm, and the project's verifier accepts it with their roles;
tokens that are not for the API, tampered, or from elsewhere are refused.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from cme.identity import InvalidTokenError, TokenVerifier
from cme.idp_realm import CLIENT, STAFF
from devtools.services.keycloak import LocalKeycloak
from tests.conftest import Services


@pytest.fixture
def keycloak(services: Services) -> LocalKeycloak:
    assert services.keycloak is not None, (
        "these tests sign in at the project's own Keycloak: start it with `scripts/services up`"
    )
    return services.keycloak


def token_for(keycloak: LocalKeycloak, username: str, password: str | None = None) -> str:
    """An access token from the realm's real token endpoint (password grant, development)."""
    return keycloak.token(username, password)


def verifier(keycloak: LocalKeycloak, audience: str = CLIENT) -> TokenVerifier:
    return TokenVerifier(keycloak.issuer, audience, "realm_access.roles")


@pytest.mark.parametrize("username", sorted(STAFF))
def test_each_staff_member_signs_in_with_their_roles(
    keycloak: LocalKeycloak, username: str
) -> None:
    staff = verifier(keycloak).verify(token_for(keycloak, username))
    assert set(STAFF[username]) <= staff.roles
    assert staff.actor == f"staff:{staff.subject}"
    assert username not in staff.actor  # the stable subject id, not a name


def test_a_wrong_password_gets_no_token(keycloak: LocalKeycloak) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        token_for(keycloak, "officer.ada", "not-the-password")
    refused.value.close()
    assert refused.value.code == 401


def test_tokens_for_another_audience_tampered_or_unsigned_are_refused(
    keycloak: LocalKeycloak,
) -> None:
    token = token_for(keycloak, "officer.ada")
    with pytest.raises(InvalidTokenError):
        verifier(keycloak, audience="someone-else").verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(_b64url_decode(payload))
    claims["realm_access"] = {"roles": ["dpo"]}  # a caseworker promoting themself
    forged = ".".join([header, _b64url_encode(json.dumps(claims).encode()), signature])
    with pytest.raises(InvalidTokenError):
        verifier(keycloak).verify(forged)
    unsigned = ".".join([_b64url_encode(b'{"alg":"none","typ":"JWT"}'), payload, ""])
    with pytest.raises(InvalidTokenError):
        verifier(keycloak).verify(unsigned)
    with pytest.raises(InvalidTokenError):
        verifier(keycloak).verify("not a token")


def _b64url_decode(text: str) -> str:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def _b64url_encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_cme_idp_setup_provisions_the_realm_again_idempotently(keycloak: LocalKeycloak) -> None:
    """What docker-compose's setup runs, here against the local Keycloak."""
    import os
    import subprocess
    import sys

    from cme.settings import PROJECT_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "cme.cli", "idp", "setup", keycloak.url, str(keycloak.passwords)],
        env={**os.environ, "KC_BOOTSTRAP_ADMIN_PASSWORD": keycloak.secrets()["admin"]},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"realm cme ready at {keycloak.url}/realms/cme" in result.stdout
    staff = verifier(keycloak).verify(token_for(keycloak, "dpo.dee"))
    assert "dpo" in staff.roles


def test_an_id_token_for_the_api_is_not_an_access_token(keycloak: LocalKeycloak) -> None:
    form = urllib.parse.urlencode(
        {
            "grant_type": "password",
            "client_id": CLIENT,
            "username": "officer.ada",
            "password": keycloak.secrets()["officer.ada"],
            "scope": "openid",
        }
    ).encode()
    url = f"{keycloak.issuer}/protocol/openid-connect/token"
    with urllib.request.urlopen(url, data=form, timeout=30) as response:  # noqa: S310
        id_token = json.loads(response.read())["id_token"]
    with pytest.raises(InvalidTokenError, match="not an access token"):
        verifier(keycloak).verify(id_token)
