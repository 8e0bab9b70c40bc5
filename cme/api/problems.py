"""RFC 9457 problem documents: what went wrong, which field, which rule; never a value."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cme.api.idempotency import IdempotencyKeyReusedError
from cme.api.strict_body import BodyRefusedError, BodyTooLargeError
from cme.audit_proof import NoSuchEntryError, ProofError
from cme.identity import IdentityProviderUnavailableError, InvalidTokenError
from cme.settings import ConfigurationError
from consumers.lifecycle import where
from domain.commands import location, message_of
from domain.errors import DomainError, InvalidCommandError, NotFoundError
from projections.store import ReadModelsMissingError

log = logging.getLogger("cme.api")

MEDIA_TYPE = "application/problem+json"


class Forbidden(Exception):
    """The caller is signed in but their roles do not allow this."""


class PreconditionFailed(Exception):
    """If-Match named a version that is no longer the current one."""


class PreconditionRequired(Exception):
    """A change was sent without If-Match: it could overwrite a change the caller never saw."""


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(where_and_path: tuple[Any, ...], rule: str) -> str:
    """Where the error is; a body member's name could be the caller's text, so it is vetted."""
    where, *path = where_and_path
    if where in ("header", "query", "path"):
        return ".".join(str(part) for part in path)  # names from our own schema
    return location(path, rule) or "body"


def install(app: FastAPI) -> None:
    """Map every error the API raises on purpose to one problem document."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field(error["loc"], error["type"]),
                "rule": error["type"],
                "message": message_of(error),
            }
            for error in exc.errors()
        ]
        return problem(422, "Invalid request", f"{len(errors)} field(s) invalid", errors=errors)

    @app.exception_handler(InvalidTokenError)
    async def unauthenticated(_: Request, exc: InvalidTokenError) -> JSONResponse:
        return problem(401, "Not signed in", str(exc))

    @app.exception_handler(IdentityProviderUnavailableError)
    async def idp_down(_: Request, exc: IdentityProviderUnavailableError) -> JSONResponse:
        return problem(503, "Sign-in unavailable", str(exc))

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return problem(403, "Not allowed", str(exc))

    @app.exception_handler(PreconditionRequired)
    async def unconditional(_: Request, exc: PreconditionRequired) -> JSONResponse:
        return problem(428, "If-Match required", str(exc))

    @app.exception_handler(PreconditionFailed)
    async def stale(_: Request, exc: PreconditionFailed) -> JSONResponse:
        return problem(412, "Changed since you read it", str(exc))

    @app.exception_handler(DomainError)
    async def refused(_: Request, exc: DomainError) -> JSONResponse:
        errors = [
            {"field": v.field, "rule": v.rule, "message": v.message} for v in exc.violations()
        ]
        if isinstance(exc, NotFoundError):
            return problem(404, "Not found", str(exc), errors=errors)
        if isinstance(exc, InvalidCommandError | IdempotencyKeyReusedError):
            return problem(422, "Invalid request", str(exc), errors=errors)
        return problem(409, "Refused by a rule", str(exc), errors=errors)

    @app.exception_handler(ProofError)
    async def unprovable(_: Request, exc: ProofError) -> JSONResponse:
        missing = isinstance(exc, NoSuchEntryError)
        rule = "not_in_ledger" if missing else "not_provable"
        errors = [{"field": "seq", "rule": rule, "message": str(exc)}]
        if missing:
            return problem(404, "Not found", str(exc), errors=errors)
        return problem(409, "Refused by a rule", str(exc), errors=errors)

    @app.exception_handler(ConfigurationError)
    async def not_configured(_: Request, exc: ConfigurationError) -> JSONResponse:
        # A setting this endpoint needs is missing (the text names it; never a value).
        return problem(503, "Not configured here", str(exc))

    @app.exception_handler(ReadModelsMissingError)
    async def not_ready(_: Request, exc: ReadModelsMissingError) -> JSONResponse:
        return problem(503, "Not ready", str(exc))

    @app.exception_handler(BodyRefusedError)
    async def unreadable(_: Request, exc: BodyRefusedError) -> JSONResponse:
        errors = [{"field": exc.field, "rule": exc.rule, "message": exc.detail}]
        return problem(422, "Invalid request", f"the body: {exc.detail}", errors=errors)

    @app.exception_handler(HTTPException)
    async def http(_: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, BodyTooLargeError):
            return problem(413, "Too large", str(exc.detail))
        response = problem(exc.status_code, str(exc.detail), str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405's Allow, say
        return response


def fault(exc: Exception) -> JSONResponse:
    """An error in the code: logged by type and place under a reference, never its message."""
    reference = uuid.uuid4().hex[:12]
    log.error("request failed (reference %s): %s", reference, where(exc))
    return problem(500, "Internal error", f"the fault is logged under reference {reference}")
