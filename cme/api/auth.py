"""Who is calling and what their roles allow: a FastAPI dependency per right."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from cme.api.problems import Forbidden
from cme.identity import InvalidTokenError, Staff, TokenVerifier

CASEWORKER, SENIOR_OFFICER, DPO, AUDITOR = "caseworker", "senior_officer", "dpo", "auditor"


def caller(request: Request) -> Staff:
    """The signed-in staff member (checked once per request, before the body is read)."""
    known = getattr(request.state, "staff", None)
    if isinstance(known, Staff):
        return known
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        msg = "send an access token from the council's sign-in as 'Authorization: Bearer …'"
        raise InvalidTokenError(msg)
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(token.strip())


def allowed(*roles: str) -> Callable[[Request], Staff]:
    """A dependency that admits a caller holding any of ``roles``, and no one else."""

    def check(request: Request) -> Staff:
        staff = caller(request)
        if not staff.roles & set(roles):
            msg = f"this needs one of the roles {', '.join(roles)}"
            raise Forbidden(msg)
        return staff

    return check
