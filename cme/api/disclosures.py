"""Disclosures through the API: a caseworker requests, a second person decides.

The requester states why the data is necessary; a senior officer reads the
request (the read is logged, since the statement may name people) and
approves or refuses it. The rules refuse by themselves when processing is
restricted or the child's data is shredded. Every step reaches the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from application.disclosures import DisclosureOutcome
from cme.api.auth import CASEWORKER, DPO, SENIOR_OFFICER, allowed
from cme.api.calls import (
    MAX_OFFSET,
    ORGANISATION,
    Body,
    Change,
    Page,
    Post,
    PostAsOf,
    application,
    etag,
    one_at_a_time,
    read_models,
)
from cme.api.strict_body import StrictJsonRoute
from cme.bootstrap import App
from cme.identity import Staff
from domain import commands as c
from domain.personal import ShortText
from domain.values import Agency, DataCategory, LawfulBasis, Purpose, RefusalReason

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute, tags=["disclosures"])
Caseworker = Annotated[Staff, Depends(allowed(CASEWORKER))]
SeniorOfficer = Annotated[Staff, Depends(allowed(SENIOR_OFFICER))]
Reader = Annotated[Staff, Depends(allowed(CASEWORKER, SENIOR_OFFICER, DPO))]


class RequestIn(Body):
    """What is to be shared, with whom, why, under which basis, and why it is necessary."""

    case_id: UUID | None = None
    recipient_agency: Agency
    recipient_organisation: Annotated[ShortText, Field(description=ORGANISATION)]
    purpose: Purpose
    lawful_basis: LawfulBasis
    categories: Annotated[list[DataCategory], Field(min_length=1)]
    necessity: Annotated[str, StringConstraints(min_length=20, max_length=4000)]
    requested_on: date


class ApproveIn(Body):
    approved_on: date


class RefuseIn(Body):
    refused_on: date
    reasons: Annotated[str, StringConstraints(min_length=10, max_length=4000)]


class DecisionOut(BaseModel):
    disclosure_id: UUID
    status: str
    """requested (awaiting a second person), made, or refused."""
    refusal_reason: RefusalReason | None
    version: int


class DisclosureOut(BaseModel):
    disclosure_id: UUID
    child_id: UUID
    case_id: UUID | None
    status: str
    recipient_agency: str
    recipient_organisation: str
    purpose: str | None
    lawful_basis: str | None
    categories: list[str]
    necessity: str | None
    requested_by: str | None
    requested_on: date | None
    decided_by: str | None
    decided_on: date | None
    refusal_reason: str | None
    version: int


def _decision(app: App, outcome: DisclosureOutcome) -> dict[str, Any]:
    return {
        "disclosure_id": str(outcome.disclosure_id),
        "status": outcome.status,
        "refusal_reason": outcome.refusal_reason.value if outcome.refusal_reason else None,
        "version": app.get_disclosure(outcome.disclosure_id).version,
    }


@router.post(
    "/children/{child_id}/disclosure-requests",
    response_model=DecisionOut,
    status_code=201,
    summary="Request a disclosure: it goes out only when a senior officer approves it",
)
def request_disclosure(
    child_id: UUID,
    body: RequestIn,
    staff: Caseworker,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        fields = {"actor": staff.actor, "child_id": child_id, **body.model_dump()}
        return _decision(app, app.request_disclosure(c.RequestDisclosure.of(fields)))

    answer = post.by(staff, body).once(act, child_id)
    post.response.headers["ETag"] = etag(answer["version"])
    return answer


@router.get(
    "/disclosure-requests",
    response_model=Page,
    summary="Disclosures awaiting a senior officer's decision, oldest first",
)
def awaiting_decision(
    request: Request,
    staff: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    recipient_agency: Annotated[Agency | None, Query(description="only to this agency")] = None,
) -> Page:
    items, total = read_models(request).page(
        "disclosures_awaiting_decision",
        "requested_on, disclosure_id",
        limit,
        offset,
        {"recipient_agency": recipient_agency},
    )
    for item in items:  # kept as one text column; answered as a list, as everywhere else
        item["categories"] = str(item["categories"] or "").split(",")
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/disclosures/{disclosure_id}",
    response_model=DisclosureOut,
    summary="One disclosure with its necessity statement (the read is logged), and its version",
)
def get_disclosure(
    disclosure_id: UUID, request: Request, response: Response, staff: Reader
) -> DisclosureOut:
    app = application(request)
    with one_at_a_time(request):
        disclosure = app.read_disclosure(disclosure_id, staff.actor)
    response.headers["ETag"] = etag(disclosure.version)
    return DisclosureOut(
        disclosure_id=disclosure.id,
        child_id=disclosure.child_id,
        case_id=disclosure.case_id,
        status=disclosure.outcome,
        recipient_agency=disclosure.counterparty_agency,
        recipient_organisation=disclosure.counterparty_organisation,
        purpose=disclosure.purpose,
        lawful_basis=disclosure.lawful_basis.value if disclosure.lawful_basis else None,
        categories=[category.value for category in disclosure.categories],
        necessity=disclosure.necessity,
        requested_by=disclosure.requested_by,
        requested_on=disclosure.requested_on,
        decided_by=disclosure.decided_by,
        decided_on=disclosure.on if disclosure.decided_by else None,
        refusal_reason=disclosure.refusal_reason,
        version=disclosure.version,
    )


def _decide(
    change: Change,
    disclosure_id: UUID,
    decide: Callable[[App, dict[str, Any]], DisclosureOutcome],
) -> dict[str, Any]:
    """A senior officer's decision on a disclosure, as of the version they read."""
    fields = {
        "actor": change.staff.actor,
        "disclosure_id": disclosure_id,
        **change.body.model_dump(),
    }
    return change.as_of(
        lambda app: app.get_disclosure(disclosure_id).version,
        lambda app: _decision(app, decide(app, fields)),
        disclosure_id,
    )


@router.post(
    "/disclosures/{disclosure_id}/approve",
    response_model=DecisionOut,
    status_code=201,
    summary="Approve a disclosure someone else requested (it is made, unless the rules refuse)",
)
def approve(
    disclosure_id: UUID,
    body: ApproveIn,
    staff: SeniorOfficer,
    post: PostAsOf,
) -> dict[str, Any]:
    def decide(app: App, fields: dict[str, Any]) -> DisclosureOutcome:
        return app.approve_disclosure(c.ApproveDisclosure.of(fields))

    change = post.by(staff, body)
    return _decide(change, disclosure_id, decide)


@router.post(
    "/disclosures/{disclosure_id}/refuse",
    response_model=DecisionOut,
    status_code=201,
    summary="Refuse a disclosure someone else requested, with reasons",
)
def refuse(
    disclosure_id: UUID,
    body: RefuseIn,
    staff: SeniorOfficer,
    post: PostAsOf,
) -> dict[str, Any]:
    def decide(app: App, fields: dict[str, Any]) -> DisclosureOutcome:
        return app.refuse_disclosure(c.RefuseDisclosure.of(fields))

    change = post.by(staff, body)
    return _decide(change, disclosure_id, decide)
