"""The /v1 endpoints: each reads a view or calls one use case as the signed-in staff member."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from application.referrals import refer
from cme.api.auth import CASEWORKER, DPO, SENIOR_OFFICER, allowed
from cme.api.calls import (
    MAX_OFFSET,
    ORGANISATION,
    Body,
    Page,
    Post,
    PostAsOf,
    application,
    etag,
    on_case,
    one_at_a_time,
    read_models,
)
from cme.api.strict_body import StrictJsonRoute
from cme.bootstrap import App
from cme.identity import Staff
from domain import commands as c
from domain.commands import Actor, LaCode, SchoolUrn
from domain.errors import ChildNotFoundError, InvalidCommandError, Violation
from domain.personal import ChildDetails, Name, Note, ShortText
from domain.values import (
    Agency,
    CaseOutcome,
    CaseStatus,
    DataCategory,
    EnquiryMethod,
    EnquiryOutcome,
    ReferralReason,
)

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)
Reader = Annotated[Staff, Depends(allowed(CASEWORKER, SENIOR_OFFICER, DPO))]
Caseworker = Annotated[Staff, Depends(allowed(CASEWORKER))]


class CaseOut(BaseModel):
    case_id: UUID
    child_id: UUID
    status: str
    version: int


class EnquiryIn(Body):
    """An enquiry made about a missing child: who was asked, how, and what came of it."""

    made_on: date
    agency: Agency
    method: EnquiryMethod
    outcome: EnquiryOutcome
    notes: Note | None = None
    joint_with_school: bool = Field(
        default=False, description="made together with the child's school"
    )


class EnquiryOut(BaseModel):
    enquiry_id: UUID
    version: int


@router.get("/cases", response_model=Page, summary="Open CME cases, longest open first")
def open_cases(
    request: Request,
    staff: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    status: Annotated[CaseStatus | None, Query(description="only cases in this status")] = None,
    assigned_officer: Annotated[Actor | None, Query(description="only this officer's")] = None,
    reason: Annotated[ReferralReason | None, Query(description="only this referral reason")] = None,
) -> Page:
    where = {"status": status, "assigned_officer": assigned_officer, "reason": reason}
    items, total = read_models(request).page(
        "open_cases", "days_open DESC, case_id", limit, offset, where
    )
    return Page(items=items, limit=limit, offset=offset, total=total)


VIEWS = {
    "whereabouts-unknown": ("whereabouts_unknown", "days_unknown DESC, case_id"),
    "overdue-reduced-timetables": ("reduced_timetables_overdue", "days_overdue DESC, child_id"),
    "moves-awaiting-confirmation": ("moves_awaiting_confirmation", "moved_on, child_id"),
}
"""The caseworker views beside the open cases: path name, relation, stable order."""
VIEW_FILTERS = {
    "whereabouts-unknown": {"assigned_officer"},
    "overdue-reduced-timetables": {"school_urn"},
    "moves-awaiting-confirmation": {"moved_to_la"},
}


@router.get(
    "/views/{view}",
    response_model=Page,
    summary="whereabouts-unknown, overdue-reduced-timetables or moves-awaiting-confirmation",
)
def view_page(
    view: Literal[
        "whereabouts-unknown", "overdue-reduced-timetables", "moves-awaiting-confirmation"
    ],
    request: Request,
    staff: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    assigned_officer: Annotated[
        Actor | None, Query(description="whereabouts-unknown only: this officer's cases")
    ] = None,
    school_urn: Annotated[
        SchoolUrn | None, Query(description="overdue-reduced-timetables only: this school's")
    ] = None,
    moved_to_la: Annotated[
        LaCode | None, Query(description="moves-awaiting-confirmation only: moves to this LA")
    ] = None,
) -> Page:
    relation, order = VIEWS[view]
    given = {
        "assigned_officer": assigned_officer,
        "school_urn": school_urn,
        "moved_to_la": moved_to_la,
    }
    where = {column: value for column, value in given.items() if value is not None}
    for column in set(where) - VIEW_FILTERS[view]:
        problem = Violation(column, "not_a_filter_here", f"{view} cannot be filtered by {column}")
        raise InvalidCommandError("view filter", [problem])
    items, total = read_models(request).page(relation, order, limit, offset, where)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="A case, with its version")
def get_case(case_id: UUID, request: Request, response: Response, staff: Reader) -> CaseOut:
    with one_at_a_time(request):
        case = application(request).get_case(case_id)
    response.headers["ETag"] = etag(case.version)
    return CaseOut(
        case_id=case.id, child_id=case.child_id, status=case.status.value, version=case.version
    )


class CaseChanged(BaseModel):
    version: int


class StatusIn(Body):
    status: CaseStatus
    changed_on: date


class OfficerIn(Body):
    officer: Actor
    next_action_due: date | None = None


class CloseIn(Body):
    outcome: CaseOutcome
    closed_on: date


@router.post(
    "/cases/{case_id}/enquiries",
    response_model=EnquiryOut,
    status_code=201,
    summary="Record an enquiry on a case",
)
def record_enquiry(
    case_id: UUID,
    body: EnquiryIn,
    staff: Caseworker,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App, fields: dict[str, Any]) -> dict[str, Any]:
        return {"enquiry_id": str(app.record_enquiry(c.RecordEnquiry.of(fields)))}

    return on_case(post.by(staff, body), case_id, change)


@router.post(
    "/cases/{case_id}/status",
    response_model=CaseChanged,
    status_code=201,
    summary="Change a case's status (closing has its own endpoint)",
)
def change_status(
    case_id: UUID,
    body: StatusIn,
    staff: Caseworker,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App, fields: dict[str, Any]) -> dict[str, Any]:
        app.change_case_status(c.ChangeCaseStatus.of(fields))
        return {}

    return on_case(post.by(staff, body), case_id, change)


@router.post(
    "/cases/{case_id}/officer",
    response_model=CaseChanged,
    status_code=201,
    summary="Assign the officer and the next action date",
)
def assign_officer(
    case_id: UUID,
    body: OfficerIn,
    staff: Caseworker,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App, fields: dict[str, Any]) -> dict[str, Any]:
        app.assign_officer(c.AssignOfficer.of(fields))
        return {}

    return on_case(post.by(staff, body), case_id, change)


@router.post(
    "/cases/{case_id}/close",
    response_model=CaseChanged,
    status_code=201,
    summary="Close a case with its outcome",
)
def close_case(
    case_id: UUID,
    body: CloseIn,
    staff: Caseworker,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App, fields: dict[str, Any]) -> dict[str, Any]:
        app.close_case(c.CloseCase.of(fields))
        return {}

    return on_case(post.by(staff, body), case_id, change)


class ReferralIn(Body):
    """A referral taken by phone or email: the child as the referrer describes them."""

    details: ChildDetails
    source: Literal["professional", "member_of_public"]
    reason: ReferralReason
    referred_on: date
    referrer_name: Name | None = None
    referrer_contact: ShortText | None = None
    notes: Note | None = None


class ReferralOut(BaseModel):
    child_id: UUID
    case_id: UUID
    registered: bool
    opened: bool


@router.post(
    "/referrals",
    response_model=ReferralOut,
    status_code=201,
    summary="A phone or email referral: the child found or registered, a case opened",
)
def refer_child(
    body: ReferralIn,
    staff: Caseworker,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        referred = refer(app, c.ReferChild.of({"actor": staff.actor, **body.model_dump()}))
        return {
            "child_id": str(referred.child_id),
            "case_id": str(referred.case_id),
            "registered": referred.registered,
            "opened": referred.opened,
        }

    return post.by(staff, body).once(act)


class InformationIn(Body):
    """Information an agency sent about a child: where from, which categories, when."""

    case_id: UUID | None = None
    source_agency: Agency
    source_organisation: Annotated[ShortText, Field(description=ORGANISATION)]
    categories: Annotated[list[DataCategory], Field(min_length=1)]
    received_on: date
    content: Note | None = None


class InformationOut(BaseModel):
    disclosure_id: UUID


@router.post(
    "/children/{child_id}/information-received",
    response_model=InformationOut,
    status_code=201,
    summary="Record information received from an agency (it reaches the ledger)",
)
def information_received(
    child_id: UUID,
    body: InformationIn,
    staff: Caseworker,
    post: Post,
) -> dict[str, Any]:
    app = application(post.request)

    def act() -> dict[str, Any]:
        fields = {"actor": staff.actor, "child_id": child_id, **body.model_dump()}
        received = app.record_information_received(c.RecordInformationReceived.of(fields))
        return {"disclosure_id": str(received)}

    return post.by(staff, body).once(act, child_id)


@router.get(
    "/children/{child_id}", summary="A child's record and case timeline (the read is logged)"
)
def child_record(child_id: UUID, request: Request, staff: Caseworker) -> dict[str, Any]:
    models = read_models(request)
    children = models.rows_about("children", child_id)
    if not children:
        raise ChildNotFoundError(child_id)
    timeline = models.rows_about("case_timeline", child_id, order_by="case_id, seq")
    with one_at_a_time(request):
        application(request).record_personal_data_read(child_id, staff.actor, "caseworker record")
    return {"child": _structured(children[0]), "timeline": timeline}


JSON_COLUMNS = ("carers", "flags")
"""Read-model columns that hold a list or an object as JSON text."""


def _structured(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its JSON columns as JSON: a tool got "carers": "[]" to parse again."""
    return {
        name: json.loads(value) if name in JSON_COLUMNS and isinstance(value, str) else value
        for name, value in row.items()
    }
