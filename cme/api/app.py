"""The API's composition: the application, the caseworker read models, the token verifier."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cme import dev_issuer
from cme.api import problems, routes
from cme.bootstrap import build_application, read_models
from cme.db.roles import Role
from cme.identity import TokenVerifier
from cme.secrets import load_index_key
from cme.settings import ConfigurationError, Mode, Settings

log = logging.getLogger("cme.api")


def create_app(settings: Settings) -> FastAPI:
    verifier = _verifier(settings)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        application = build_application(settings)
        models, close_models = read_models(settings, Role.CASEWORKER)
        api.state.application = application
        api.state.read_models = models
        api.state.verifier = verifier
        api.state.lock = threading.Lock()
        api.state.secret = load_index_key(settings)  # keys the digests of requests kept
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
    )
    problems.install(api)
    api.include_router(routes.router)
    return api


def _verifier(settings: Settings) -> TokenVerifier:
    """The council's sign-in; or, in the embedded mode only, the development issuer."""
    if settings.oidc_issuer:
        try:
            return TokenVerifier(
                settings.oidc_issuer, settings.oidc_audience, settings.oidc_roles_claim
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
