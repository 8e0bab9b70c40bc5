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
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHMS = ("RS256", "PS256", "ES256")
"""Asymmetric only: an HMAC token would be signed with a key the API must also hold."""


class InvalidTokenError(Exception):
    """The token is missing, malformed, expired, or not from the trusted issuer; never echoed."""


class IdentityProviderUnavailableError(Exception):
    """The issuer's keys could not be fetched: the caller's token may well be good."""


ACCESS_TOKEN_TYPES = (None, "Bearer", "at+jwt")
"""An ID token names the API as its audience too; its ``typ`` (Keycloak: "ID") refuses it."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
        self,
        issuer: str,
        audience: str,
        roles_claim: str,
        key: Any | None = None,
        *,
        insecure_http: bool = False,
    ) -> None:
        """``key``: a fixed public key (the development issuer); else the issuer's JWKS.

        The keys decide which tokens are believed, so they are fetched over
        HTTPS only, except from this machine (the local Keycloak) or, when
        ``insecure_http`` says so, on a private container network.
        """
        parts = urllib.parse.urlsplit(issuer)
        local = parts.hostname in LOOPBACK or insecure_http
        if key is None and parts.scheme != "https" and not local:
            msg = "the OIDC issuer must be an https:// URL (its keys decide whom the API believes)"
            raise ValueError(msg)
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.roles_claim = roles_claim
        self.key = key
        self._jwks: jwt.PyJWKClient | None = None

    def _keys(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            discovery = f"{self.issuer}/.well-known/openid-configuration"
            try:
                with urllib.request.urlopen(discovery, timeout=10) as response:  # noqa: S310
                    jwks_uri = json.loads(response.read())["jwks_uri"]
            except (OSError, ValueError, KeyError) as exc:
                msg = f"the sign-in's keys could not be fetched ({type(exc).__name__}); retry"
                raise IdentityProviderUnavailableError(msg) from None
            self._jwks = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)
        return self._jwks

    def _signing_key(self, token: str) -> tuple[Any, list[str]]:
        """The key and the one algorithm it may sign with: a token cannot pick another."""
        if self.key is not None:
            return self.key, ["ES256"]
        try:
            found = self._keys().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            msg = "the sign-in's keys could not be fetched; retry"
            raise IdentityProviderUnavailableError(msg) from None
        algorithm = found.algorithm_name
        if algorithm not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(algorithm)
        return found.key, [algorithm]

    def verify(self, token: str) -> Staff:
        try:
            key, algorithms = self._signing_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            # TypeError/ValueError: a header naming an algorithm of another key family.
            msg = f"the bearer token was refused: {type(exc).__name__}"
            raise InvalidTokenError(msg) from None
        if claims.get("typ") not in ACCESS_TOKEN_TYPES:
            msg = "the bearer token is not an access token (an ID token, say)"
            raise InvalidTokenError(msg)
        return Staff(subject=str(claims["sub"]), roles=frozenset(self._roles(claims)))

    def _roles(self, claims: dict[str, Any]) -> list[str]:
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return [str(role) for role in value] if isinstance(value, list) else []
