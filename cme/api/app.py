"""The API's composition: the application, the caseworker read models, the token verifier."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response

from cme import dev_issuer
from cme.api import audit, decisions, disclosures, dpo, problems, routes
from cme.api.auth import caller
from cme.api.calls import only_declared_query
from cme.bootstrap import build_application, read_models
from cme.db.roles import Role
from cme.identity import IdentityProviderUnavailableError, InvalidTokenError, TokenVerifier
from cme.secrets import load_index_key
from cme.settings import ConfigurationError, Mode, Settings
from consumers.inprocess_feed import catch_up

log = logging.getLogger("cme.api")


def from_environment() -> FastAPI:
    """The API as the environment configures it: each process of ``cme serve --processes``."""
    from cme.settings import load_settings  # noqa: PLC0415

    return create_app(load_settings())


def create_app(settings: Settings) -> FastAPI:
    verifier = _verifier(settings)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        application = build_application(settings)
        models, close_models = read_models(settings, Role.CASEWORKER)
        api.state.settings = settings
        api.state.application = application
        api.state.read_models = models
        api.state.verifier = verifier
        api.state.lock = threading.Lock()
        # Embedded, no projector runs beside the API: each read first catches the
        # read models up with the SQLite store (one cheap query when nothing is new).
        api.state.catch_up = (
            (lambda: catch_up(application, models))
            if settings.effective_mode is Mode.EMBEDDED
            else None
        )
        # Keys the digests of the requests kept; derived, so it is not the index key itself.
        api.state.secret = hmac.new(
            load_index_key(settings), b"cme.api.idempotency", "sha256"
        ).digest()
        try:
            yield
        finally:
            close_models()
            application.close()

    api = FastAPI(
        title="CME data-governance API",
        version="1",
        description="Caseworker and DPO tools over the CME event store; every call signed in.",
        lifespan=lifespan,
        dependencies=[Depends(only_declared_query)],
    )
    problems.install(api)
    api.include_router(routes.router)
    api.include_router(disclosures.router)
    api.include_router(decisions.router)
    api.include_router(dpo.router)
    api.include_router(audit.router)

    @api.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Signed in before any body is read, no fault unanswered, nothing kept by a cache.

        Answers carry children's personal data: ``Cache-Control: no-store``
        keeps them out of browser, proxy and gateway caches (RFC 9111 §5.2.2.5).
        """
        response = await _answer(request, call_next)
        if request.url.path.startswith("/v1/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    async def _answer(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith("/v1/"):
            try:
                request.state.staff = caller(request)
            except InvalidTokenError as exc:
                return problems.problem(401, "Not signed in", str(exc))
            except IdentityProviderUnavailableError as exc:
                return problems.problem(503, "Sign-in unavailable", str(exc))
        try:
            return await call_next(request)
        except Exception as exc:
            return problems.fault(exc)

    return api


def _verifier(settings: Settings) -> TokenVerifier:
    """The council's sign-in; or, in the embedded mode only, the development issuer."""
    if settings.oidc_issuer:
        try:
            return TokenVerifier(
                settings.oidc_issuer,
                settings.oidc_audience,
                settings.oidc_roles_claim,
                insecure_http=settings.oidc_insecure_http,
            )
        except ValueError as exc:
            msg = f"CME_OIDC_ISSUER: {exc}"
            raise ConfigurationError(msg) from None
    if settings.effective_mode is Mode.SERVICES and not settings.dev_issuer:
        msg = (
            "CME_OIDC_ISSUER is not set: the API accepts only tokens from the council's "
            'sign-in; for the local Keycloak run `eval "$(scripts/services env)"`'
        )
        raise ConfigurationError(msg)
    log.warning("the API accepts the DEVELOPMENT token issuer (cme tokens issue): not for real use")
    return dev_issuer.verifier(settings)
