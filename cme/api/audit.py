"""The auditor's endpoints, read-only: the ledger verified, its figures, one child's history.

Verification runs on the ledger's own tables as the auditor's database role,
against the checkpoints' public key; a history or a replay opens personal
data, so it names its purpose and is itself recorded, and reaches the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel

from application import audit
from application.subject_access import plain
from cme import audit_tools
from cme.api.auth import AUDITOR, DPO, allowed
from cme.api.calls import application, one_at_a_time
from cme.api.strict_body import StrictJsonRoute
from cme.audit import verify_ledger
from cme.audit_proof import InclusionProof, build_proof
from cme.db.roles import Role, role_url
from cme.identity import Staff
from cme.secrets import load_ledger_verifier
from cme.settings import ConfigurationError, Mode, Settings
from domain.errors import NotFoundError
from domain.values import AuditPurpose
from projections.ledger_store import LedgerReader

router = APIRouter(prefix="/v1/audit", route_class=StrictJsonRoute, tags=["auditor"])
Auditor = Annotated[Staff, Depends(allowed(AUDITOR))]
AuditorOrDpo = Annotated[Staff, Depends(allowed(AUDITOR, DPO))]


def _with_offset(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        msg = "give a UTC offset, e.g. 2026-11-30T12:00:00+00:00"
        raise ValueError(msg)
    return instant


Purpose = Annotated[
    AuditPurpose, Query(description="why you read it, from a closed list (recorded with the read)")
]
Instant = Annotated[datetime, AfterValidator(_with_offset)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _auditor_url(request: Request) -> str:
    settings = _settings(request)
    if settings.effective_mode is Mode.EMBEDDED:
        msg = "the disclosure ledger is kept in PostgreSQL: these endpoints serve the services mode"
        raise ConfigurationError(msg)
    return role_url(settings, Role.AUDITOR)


class LedgerCheck(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    unsigned_tail: int
    parked: int
    """Events kept out of the ledger until a fix (`cme audit parked`): not complete while > 0."""
    problems: list[str]
    warnings: list[str]


@router.get(
    "/ledger",
    response_model=LedgerCheck,
    summary="Recompute the ledger's hash chain and check every signed checkpoint",
)
def check_ledger(request: Request, staff: Auditor) -> LedgerCheck:
    url = _auditor_url(request)
    result = verify_ledger(url, load_ledger_verifier(_settings(request)))
    return LedgerCheck(
        ok=result.ok,
        entries=result.entries,
        checkpoints=result.checkpoints,
        unsigned_tail=result.unsigned_tail,
        parked=LedgerReader(url).parked_count(),
        problems=result.problems,
        warnings=result.warnings,
    )


@router.get(
    "/ledger/entries/{seq}/proof",
    response_model=InclusionProof,
    summary="One ledger entry with the RFC 9162 proof that the signed ledger holds it, "
    "showing no other entry (for a data subject)",
)
def prove_entry(
    seq: Annotated[
        str,
        FastApiPath(
            pattern=r"^[1-9][0-9]{0,18}$",
            description="the entry's number, in plain digits (not 1_0, +5 or 1.0)",
        ),
    ],
    request: Request,
    staff: AuditorOrDpo,
) -> InclusionProof:
    # A proof that cannot be made is a problem document (cme.api.problems): 404 or 409.
    return build_proof(_auditor_url(request), int(seq), load_ledger_verifier(_settings(request)))


@router.get("/report", summary="Disclosures by agency, basis and month; refusals; rights requests")
def report(request: Request, staff: Auditor) -> dict[str, Any]:
    with one_at_a_time(request):
        figures: dict[str, Any] = audit_tools.report(_auditor_url(request), application(request))
    return figures


@router.get(
    "/children/{child_id}/history",
    summary="A child's whole history from the event store (the read is recorded)",
)
def history(
    child_id: UUID, purpose: Purpose, request: Request, staff: Auditor
) -> list[dict[str, Any]]:
    with one_at_a_time(request):
        rows: list[dict[str, Any]] = audit.history(
            application(request), child_id, staff.actor, purpose.value
        )
    return rows


@router.get(
    "/replay/{aggregate_id}",
    summary="A child, case, disclosure or request as it stood at a moment (the read is recorded)",
)
def replay(
    aggregate_id: UUID,
    as_of: Annotated[Instant, Query(description="an ISO 8601 instant with its UTC offset")],
    purpose: Purpose,
    request: Request,
    staff: Auditor,
) -> dict[str, Any]:
    with one_at_a_time(request):
        state = audit.replay(application(request), aggregate_id, as_of, staff.actor, purpose.value)
    if state is None:
        raise NotFoundError("Record", aggregate_id, field="aggregate_id")
    answer: dict[str, Any] = plain({k: v for k, v in vars(state).items() if not k.startswith("_")})
    return answer


@router.get(
    "/export",
    summary="The ledger as JSON Lines with its checkpoints, for verification elsewhere",
    response_class=StreamingResponse,
)
def export(
    request: Request,
    staff: Auditor,
    start: Annotated[Instant | None, Query(description="entries recorded from")] = None,
    end: Annotated[Instant | None, Query(description="entries recorded before")] = None,
) -> StreamingResponse:
    lines: Iterator[str] = audit_tools.export_lines(_auditor_url(request), start, end)
    return StreamingResponse(lines, media_type="application/x-ndjson")
