"""The API's composition: the application, the caseworker read models, the token verifier."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cme.api import problems, routes
from cme.bootstrap import build_application, read_models
from cme.db.roles import Role
from cme.identity import TokenVerifier
from cme.secrets import load_index_key
from cme.settings import ConfigurationError, Settings


def create_app(settings: Settings) -> FastAPI:
    if not settings.oidc_issuer:
        msg = (
            "CME_OIDC_ISSUER is not set: the API accepts only tokens from the council's "
            'sign-in; for the local Keycloak run `eval "$(scripts/services env)"`'
        )
        raise ConfigurationError(msg)
    verifier = TokenVerifier(
        settings.oidc_issuer, settings.oidc_audience, settings.oidc_roles_claim
    )

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
