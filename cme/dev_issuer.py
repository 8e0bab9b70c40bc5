"""A development token issuer, so the API can be tried with no identity provider at all.

Clearly not for production: its tokens name the issuer ``cme-development``,
it signs with a key generated into the development secrets, and the API
accepts it only in the embedded mode, or where ``CME_DEV_ISSUER=1`` says so
on purpose. A council's API trusts only its own sign-in (CME_OIDC_ISSUER).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cme.identity import TokenVerifier
from cme.settings import ConfigurationError, Mode, Settings

ISSUER = "cme-development"
ROLES = ("caseworker", "senior_officer", "dpo", "auditor")


def _key_path(settings: Settings) -> Path:
    return settings.secrets_dir / "dev-issuer-key.pem"


def _private_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    path = _key_path(settings)
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        msg = f"{path} is not an EC private key; delete it to make a new one"
        raise ConfigurationError(msg)
    return loaded


def allowed(settings: Settings, enabled: bool) -> None:
    if settings.effective_mode is Mode.SERVICES and not enabled:
        msg = (
            "the development token issuer is for the embedded mode; in services mode set "
            "CME_OIDC_ISSUER to the council's sign-in (or CME_DEV_ISSUER=1, on purpose)"
        )
        raise ConfigurationError(msg)


def issue(settings: Settings, role: str | list[str], subject: str, minutes: int = 60) -> str:
    """A signed access token for ``subject`` with a role (or several), valid ``minutes``."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": settings.oidc_audience,
        "sub": subject,
        "iat": now,
        "exp": now + minutes * 60,
        "realm_access": {"roles": [role] if isinstance(role, str) else list(role)},
    }
    return jwt.encode(claims, _private_key(settings), algorithm="ES256")


def verifier(settings: Settings) -> TokenVerifier:
    return TokenVerifier(
        ISSUER, settings.oidc_audience, "realm_access.roles", _private_key(settings).public_key()
    )
