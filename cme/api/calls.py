"""What every endpoint does around its use case: find the app, run once per key, tag versions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from cme.api.idempotency import digest, once
from cme.api.problems import PreconditionFailed, PreconditionRequired
from cme.bootstrap import App
from cme.identity import Staff
from domain.errors import InvalidCommandError, Violation
from projections.store import SqlReadModels


class Body(BaseModel):
    """A request body: unknown members refused, values never repeated in an error."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Page(BaseModel):
    items: list[dict[str, Any]]
    limit: int
    offset: int
    total: int


MAX_OFFSET = 10_000_000
"""Far past any county's cases, and inside the database's integers (found by Schemathesis)."""

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="unique per intended change; a retry with the same key has no second effect",
    ),
]
IfMatch = Annotated[str | None, Header(description="the record's ETag as you read it")]


def application(request: Request) -> App:
    app: App = request.app.state.application
    return app


def read_models(request: Request) -> SqlReadModels:
    """The caseworker read models, caught up first in the embedded mode."""
    catch_up: Callable[[], int] | None = request.app.state.catch_up
    if catch_up is not None:
        with one_at_a_time(request):
            catch_up()
    models: SqlReadModels = request.app.state.read_models
    return models


ORGANISATION = (
    "kept in clear in the ledger, which outlives the child's record and is never shredded: "
    "an organisation or authority's name, never a person's"
)
"""What the API says of the free-text names of organisations it keeps in clear."""


def only_declared_query(request: Request) -> None:
    """Refuse a query parameter the endpoint does not take.

    Ignored, a misspelt filter (``asigned_officer=``) answered with every row
    as if it had filtered. The names are not repeated: one was typed there.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared(route)
    unknown = set(request.query_params) - declared
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        problem = Violation(
            "*",
            "unknown_parameter",
            f"{len(unknown)} query parameter(s) this endpoint does not take (it takes: {takes})",
        )
        raise InvalidCommandError("query", [problem])


_DECLARED: dict[int, frozenset[str]] = {}
"""Each route's query parameters, by the route's id: worked out once, the routes never change."""


def _declared(route: APIRoute) -> frozenset[str]:
    if id(route) not in _DECLARED:
        _DECLARED[id(route)] = frozenset(_query_names(route.dependant))
    return _DECLARED[id(route)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def one_at_a_time(request: Request) -> threading.Lock:
    """One use case at a time in this process: the application's unit of work is not shared."""
    lock: threading.Lock = request.app.state.lock
    return lock


def etag(version: int) -> str:
    return f'"{version}"'


def _route(request: Request, *ids: UUID | str) -> str:
    """The endpoint and its path parameters in canonical form.

    A UUID in capitals is the same request; a step name is part of what was asked.
    """
    return "|".join([request.scope["route"].path, *(str(i) for i in ids)])


@dataclass(frozen=True)
class Change:
    """A POST as the caller made it: who, under which Idempotency-Key, with what body.

    Every change runs once per caller and key, one use case at a time; a
    change to a record with a version runs only as of the version read.
    """

    request: Request
    response: Response
    staff: Staff
    key: str
    body: BaseModel
    if_match: str | None = None

    def once(self, act: Callable[[], dict[str, Any]], *ids: UUID | str) -> dict[str, Any]:
        """Run ``act`` once for this caller and key; its answer (the first one, on a retry)."""
        request = self.request
        fingerprint = digest(
            request.app.state.secret,
            "POST",
            _route(request, *ids),
            self.body.model_dump(mode="json"),
        )
        with one_at_a_time(request):
            app = application(request)
            status, answer = once(app, self.staff.subject, self.key, fingerprint, 201, act)
        self.response.status_code = status
        return answer

    def as_of(
        self,
        version_of: Callable[[App], int],
        apply: Callable[[App], dict[str, Any]],
        *ids: UUID | str,
    ) -> dict[str, Any]:
        """Apply the change as of the version If-Match names; the answer carries the new one."""
        if_match = self.if_match
        if if_match is None:
            msg = "send If-Match with the ETag you read (or * to change it whatever its version)"
            raise PreconditionRequired(msg)
        app = application(self.request)

        def act() -> dict[str, Any]:
            current = version_of(app)
            if if_match.strip() not in (etag(current), "*"):
                msg = f"the record is at version {current}; read it again and retry"
                raise PreconditionFailed(msg)
            made = apply(app)
            return {**made, "version": version_of(app)}

        answer = self.once(act, *ids)
        self.response.headers["ETag"] = etag(answer["version"])
        return answer


@dataclass(frozen=True)
class Posted:
    """A POST's plumbing: the request, the response it sets, its key and If-Match.

    One dependency gathers them (every changing endpoint declared the same four
    parameters before); the endpoint adds who (its role's staff) and what (its body).
    """

    request: Request
    response: Response
    key: str
    if_match: str | None = None

    def by(self, staff: Staff, body: BaseModel) -> Change:
        return Change(self.request, self.response, staff, self.key, body, self.if_match)


def _posted(request: Request, response: Response, idempotency_key: IdempotencyKey) -> Posted:
    return Posted(request, response, idempotency_key)


def _posted_as_of(
    request: Request, response: Response, idempotency_key: IdempotencyKey, if_match: IfMatch = None
) -> Posted:
    return Posted(request, response, idempotency_key, if_match)


Post = Annotated[Posted, Depends(_posted)]
"""A POST that makes something new: an Idempotency-Key, no version to check."""
PostAsOf = Annotated[Posted, Depends(_posted_as_of)]
"""A POST that changes a record as of the version its If-Match names."""


def on_case(
    change: Change,
    case_id: UUID,
    apply: Callable[[App, dict[str, Any]], dict[str, Any]],
    *within: UUID,
) -> dict[str, Any]:
    """One change to a case as of the version the caller read.

    ``within`` are the path's other ids (a decision on the case): part of what
    was asked, so one Idempotency-Key on two of them is a reused key.
    """
    fields = {"actor": change.staff.actor, "case_id": case_id, **change.body.model_dump()}
    return change.as_of(
        lambda app: app.get_case(case_id).version, lambda app: apply(app, fields), case_id, *within
    )
