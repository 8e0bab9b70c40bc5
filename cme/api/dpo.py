"""The data protection officer's endpoints: rights requests, corrections, holds, access log.

Everything `cme rights …` does, as the signed-in DPO: each step is the same
domain command through the same table of steps, so the same rules and the
same value-free errors apply. An erasure granted here is recorded and the
retention worker shreds the child on its next run: the API holds no right to
destroy keys.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from application.erasure import decide
from application.rectification import correction, rectify
from application.subject_access import access_package, plain
from cme.api.auth import DPO, allowed
from cme.api.calls import (
    ORGANISATION,
    Body,
    Post,
    PostAsOf,
    application,
    etag,
    one_at_a_time,
)
from cme.api.strict_body import StrictJsonRoute
from cme.bootstrap import App
from cme.identity import Staff
from cme.rights_steps import STEPS
from domain import commands as c
from domain.errors import InvalidCommandError, Violation
from domain.personal import ChildDetails, Name, Note, ShortText
from domain.values import ClockStopReason, RequestDecision, RightsRequestType

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute, tags=["data protection officer"])
Officer = Annotated[Staff, Depends(allowed(DPO))]


class RightsRequestIn(Body):
    request_type: RightsRequestType
    received_on: date
    requester_name: Name
    requester_contact: ShortText | None = None
    details: Note | None = None
    restrict_meanwhile: bool = Field(
        default=False,
        description="erasure only: the requester asks that the data not be used meanwhile",
    )


class RightsRequestOut(BaseModel):
    request_id: UUID
    child_id: UUID
    request_type: str
    received_on: date
    due_on: date
    identity_verified_on: date | None
    clock_stopped: bool
    extension_months: int
    decision: str | None
    decided_on: date | None
    closed_on: date | None
    version: int


def _request_out(app: App, request_id: UUID) -> RightsRequestOut:
    request = app.get_rights_request(request_id)
    return RightsRequestOut(
        request_id=request.id,
        child_id=request.child_id,
        request_type=request.request_type.value,
        received_on=request.received_on,
        due_on=request.due_on(app.today()),
        identity_verified_on=request.identity_verified_on,
        clock_stopped=request.clock_stopped,
        extension_months=request.extension_months,
        decision=request.decision.value if request.decision else None,
        decided_on=request.decided_on,
        closed_on=request.closed_on,
        version=request.version,
    )


@router.post(
    "/children/{child_id}/rights-requests",
    response_model=RightsRequestOut,
    status_code=201,
    summary="Record a rights request (restriction, rectification, objection restrict at once)",
)
def receive(
    child_id: UUID,
    body: RightsRequestIn,
    staff: Officer,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        fields = {"actor": staff.actor, "child_id": child_id, **body.model_dump()}
        request_id = app.receive_rights_request(c.ReceiveRightsRequest.of(fields))
        return _request_out(app, request_id).model_dump(mode="json")

    answer = post.by(staff, body).once(act, child_id)
    post.response.headers["ETag"] = etag(answer["version"])
    return answer


@router.get(
    "/rights-requests/{request_id}",
    response_model=RightsRequestOut,
    summary="A rights request, its statutory due date and its version",
)
def get_request(
    request_id: UUID, request: Request, response: Response, staff: Officer
) -> RightsRequestOut:
    with one_at_a_time(request):
        out = _request_out(application(request), request_id)
    response.headers["ETag"] = etag(out.version)
    return out


# /decide is registered before /{step}, which would otherwise take its path.


class DecideIn(Body):
    decision: RequestDecision
    explanation: Note | None = None


class DecisionOut(BaseModel):
    request_id: UUID
    type: str
    decision: str
    shredded: bool
    """Always false here: a granted erasure is shredded by the retention worker's next run."""
    processing_restricted: bool
    version: int


@router.post(
    "/rights-requests/{request_id}/decide",
    response_model=DecisionOut,
    status_code=201,
    summary="Decide a request; a granted erasure is shredded by the next retention run",
)
def decide_request(
    request_id: UUID,
    body: DecideIn,
    staff: Officer,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App) -> dict[str, Any]:
        return decide(app, None, request_id, body.decision, body.explanation, staff.actor)

    return post.by(staff, body).as_of(
        lambda app: app.get_rights_request(request_id).version,
        change,
        request_id,
    )


class StepIn(Body):
    """The step's date (today if left out) and what the step needs besides."""

    on: date | None = None
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)] | None = None
    months: Annotated[int, Field(strict=True, ge=1, le=2)] | None = None
    """1 or 2, as a number (true, 2.0 or "2" are refused)."""


StepName = Literal["verify-identity", "stop-clock", "resume-clock", "extend", "close"]
CLOCK_STOP_REASONS = ", ".join(reason.value for reason in ClockStopReason)


@router.post(
    "/rights-requests/{request_id}/{step}",
    response_model=RightsRequestOut,
    status_code=201,
    summary=(
        "verify-identity, stop-clock (reason: "
        f"{CLOCK_STOP_REASONS}), resume-clock, extend (months 1-2, reason), close"
    ),
)
def step(
    request_id: UUID,
    step: StepName,
    body: StepIn,
    staff: Officer,
    post: PostAsOf,
) -> dict[str, Any]:
    chosen = STEPS[step]
    if body.on is not None and not chosen.date_field:
        problem = Violation("on", "not_a_field_here", f"{step} takes no date")
        raise InvalidCommandError(step, [problem])

    def change(app: App) -> dict[str, Any]:
        fields: dict[str, Any] = {"actor": staff.actor, "request_id": request_id}
        if chosen.date_field:
            fields[chosen.date_field] = body.on or app.today()
        given = {"reason": body.reason, "months": body.months}
        fields |= {name: given[name] for name in chosen.extras if given[name] is not None}
        chosen.run(app, fields)
        return _request_out(app, request_id).model_dump(mode="json")

    return post.by(staff, body).as_of(
        lambda app: app.get_rights_request(request_id).version,
        change,
        request_id,
        step,  # the same key on another step is another request, refused as reused
    )


class RectifyIn(Body):
    corrections: Annotated[dict[str, Any], Field(min_length=1)]
    """Only the details that are wrong, by their names in the child's record."""
    request_id: UUID | None = None
    confirm_destruction_date: date | None = None
    """Needed when a corrected date of birth moves the destruction date (the 25th
    birthday): the new date, or the change is refused (destruction_date_unconfirmed)."""


class RectifiedOut(BaseModel):
    child_id: UUID
    changed: list[str]
    categories: list[str]
    tell_recipients: list[dict[str, Any]]
    """Every agency that was sent a corrected category (UK GDPR Art 19)."""


@router.post(
    "/children/{child_id}/rectification",
    response_model=RectifiedOut,
    status_code=201,
    summary="Correct a child's details; lists the recipients to tell (Art 19)",
)
def rectification(
    child_id: UUID,
    body: RectifyIn,
    staff: Officer,
    post: Post,
) -> dict[str, Any]:
    unknown = set(body.corrections) - set(ChildDetails.model_fields)
    if unknown:  # the names are the caller's text: none is repeated
        problem = Violation("corrections.*", "unknown_field", "not a detail of a child's record")
        raise InvalidCommandError("RectifyChildDetails", [problem])
    app = application(post.request)

    def act() -> dict[str, Any]:
        command = correction(
            app,
            child_id,
            body.corrections,
            staff.actor,
            body.request_id,
            body.confirm_destruction_date,
        )
        return rectify(app, command)

    return post.by(staff, body).once(act, child_id)


class LiftIn(Body):
    request_id: UUID | None = None


class HoldIn(Body):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]
    authority: Annotated[
        str, StringConstraints(min_length=3, max_length=200), Field(description=ORGANISATION)
    ]
    """Who or what requires the hold (a court, a serious case review)."""


class ChildChanged(BaseModel):
    child_id: UUID
    hold_id: UUID | None = None


@router.post(
    "/children/{child_id}/lift-restriction",
    response_model=ChildChanged,
    response_model_exclude_none=True,
    status_code=201,
    summary="End a restriction of processing (recorded, reaches the ledger)",
)
def lift_restriction(
    child_id: UUID,
    body: LiftIn,
    staff: Officer,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        fields = {"actor": staff.actor, "child_id": child_id, **body.model_dump()}
        app.lift_restriction(c.LiftRestriction.of(fields))
        return {"child_id": str(child_id)}

    return post.by(staff, body).once(act, child_id)


@router.post(
    "/children/{child_id}/legal-holds",
    response_model=ChildChanged,
    status_code=201,
    summary="Place a legal hold: the child is not shredded while it stands",
)
def place_hold(
    child_id: UUID,
    body: HoldIn,
    staff: Officer,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        hold_id = uuid4()
        fields = {"actor": staff.actor, "child_id": child_id, "hold_id": hold_id}
        app.place_legal_hold(c.PlaceLegalHold.of({**fields, **body.model_dump()}))
        return {"child_id": str(child_id), "hold_id": str(hold_id)}

    return post.by(staff, body).once(act, child_id)


class ReleaseIn(Body):
    """Nothing more than the hold named in the path."""


@router.post(
    "/children/{child_id}/legal-holds/{hold_id}/release",
    response_model=ChildChanged,
    status_code=201,
    summary="Release a legal hold",
)
def release_hold(
    child_id: UUID,
    hold_id: UUID,
    body: ReleaseIn,
    staff: Officer,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        fields = {"actor": staff.actor, "child_id": child_id, "hold_id": hold_id}
        app.release_legal_hold(c.ReleaseLegalHold.of(fields))
        return {"child_id": str(child_id), "hold_id": str(hold_id)}

    return post.by(staff, body).once(act, child_id, hold_id)


@router.get(
    "/children/{child_id}/access-package",
    summary="The subject access package: all held, who it went to (the read is recorded)",
)
def subject_access(child_id: UUID, request: Request, staff: Officer) -> dict[str, Any]:
    with one_at_a_time(request):
        package: dict[str, Any] = access_package(application(request), child_id, staff.actor)
    return package


class AccessOut(BaseModel):
    at: str
    actor: str
    purpose: str


@router.get(
    "/children/{child_id}/access-log",
    response_model=list[AccessOut],
    summary="Every recorded read of the child's personal data: who, when, why",
)
def access_log(child_id: UUID, request: Request, staff: Officer) -> list[AccessOut]:
    with one_at_a_time(request):
        app = application(request)
        app.get_child(child_id)  # 404 for a child we do not hold
        reads = app.reads_of(child_id)
    return [AccessOut(at=plain(e.timestamp), actor=e.actor, purpose=e.purpose) for e in reads]
