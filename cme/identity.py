"""Who is calling: a staff member's OpenID Connect access token, checked against the issuer.

A council plugs in its own identity provider (Entra ID, Keycloak, ...): the
token's signature is checked with the issuer's published keys (JWKS, found
through its discovery document), and its issuer, audience and expiry, with
an allow-list of algorithms so a token cannot choose a weaker one. The
staff member's roles come from a configurable claim; their ``sub`` becomes
the actor of every event they cause.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHMS = ("RS256", "PS256", "ES256")
"""Asymmetric only: an HMAC token would be signed with a key the API must also hold."""


class InvalidTokenError(Exception):
    """The token is missing, malformed, expired, or not from the trusted issuer; never echoed."""


@dataclass(frozen=True)
class Staff:
    subject: str
    roles: frozenset[str]

    @property
    def actor(self) -> str:
        """How the staff member is named in events: the issuer's stable subject id."""
        return f"staff:{self.subject}"


class TokenVerifier:
    def __init__(
        self, issuer: str, audience: str, roles_claim: str, key: Any | None = None
    ) -> None:
        """``key``: a fixed public key (the development issuer); else the issuer's JWKS."""
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.roles_claim = roles_claim
        self.key = key
        self._jwks: jwt.PyJWKClient | None = None

    def _keys(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            discovery = f"{self.issuer}/.well-known/openid-configuration"
            with urllib.request.urlopen(discovery, timeout=10) as response:  # noqa: S310
                jwks_uri = json.loads(response.read())["jwks_uri"]
            self._jwks = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)
        return self._jwks

    def verify(self, token: str) -> Staff:
        try:
            key = (
                self.key
                if self.key is not None
                else self._keys().get_signing_key_from_jwt(token).key
            )
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            msg = f"the bearer token was refused: {type(exc).__name__}"
            raise InvalidTokenError(msg) from None
        return Staff(subject=str(claims["sub"]), roles=frozenset(self._roles(claims)))

    def _roles(self, claims: dict[str, Any]) -> list[str]:
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return [str(role) for role in value] if isinstance(value, list) else []
