"""Support decisions on a case, and a member of staff's review of one an automated rule made.

The privacy notice: "In the event that decisions are taken using automated
processes you have the right to request that these decisions are reviewed by
a member of staff and to challenge these decisions." The domain kept both,
but nothing outside the tests could record a decision or review one.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cme.api.auth import CASEWORKER, DPO, SENIOR_OFFICER, allowed
from cme.api.calls import (
    Body,
    PostAsOf,
    on_case,
)
from cme.api.strict_body import StrictJsonRoute
from cme.bootstrap import App
from cme.identity import Staff
from domain import commands as c
from domain.commands import Reference
from domain.personal import Note

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute, tags=["decisions"])
Caseworker = Annotated[Staff, Depends(allowed(CASEWORKER))]
Reviewer = Annotated[Staff, Depends(allowed(SENIOR_OFFICER, DPO))]


class DecisionIn(Body):
    """A decision about the support a child receives, and why (the reason is sealed)."""

    decision: Reference
    reason: Note
    automated: bool = Field(
        default=False, description="made by a rule, not a person: rule_id names the rule"
    )
    rule_id: Reference | None = None


class DecisionOut(BaseModel):
    decision_id: UUID
    version: int


class ReviewIn(Body):
    """A person's review of an automated decision: upheld or not, and why (sealed)."""

    upheld: bool
    notes: Note


class Reviewed(BaseModel):
    version: int


@router.post(
    "/cases/{case_id}/support-decisions",
    response_model=DecisionOut,
    status_code=201,
    summary="Record a decision about the support the child receives (by a person or a rule)",
)
def record_decision(
    case_id: UUID,
    body: DecisionIn,
    staff: Caseworker,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App, fields: dict[str, Any]) -> dict[str, Any]:
        command = c.RecordSupportDecision.of({**fields, "decided_by": staff.actor})
        return {"decision_id": str(app.record_support_decision(command))}

    return on_case(post.by(staff, body), case_id, change)


@router.post(
    "/cases/{case_id}/support-decisions/{decision_id}/review",
    response_model=Reviewed,
    status_code=201,
    summary="A member of staff reviews a decision an automated rule made (UK GDPR Art 22)",
)
def review_decision(
    case_id: UUID,
    decision_id: UUID,
    body: ReviewIn,
    staff: Reviewer,
    post: PostAsOf,
) -> dict[str, Any]:
    def change(app: App, fields: dict[str, Any]) -> dict[str, Any]:
        app.review_automated_decision(
            c.ReviewAutomatedDecision.of({**fields, "decision_id": decision_id})
        )
        return {}

    return on_case(
        post.by(staff, body),
        case_id,
        change,
        decision_id,
    )
