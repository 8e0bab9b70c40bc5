"""A granted erasure (UK GDPR Art 17): decided and carried out as one idempotent step."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application import CMEApplication
from application.retention import RetentionJob
from domain import commands as c
from domain.values import RequestDecision, RightsRequestType, ShredReason


def decide(
    app: CMEApplication,
    job: RetentionJob | None,
    request_id: UUID,
    decision: RequestDecision,
    explanation: str | None,
    actor: str,
) -> dict[str, Any]:
    """Record the decision; a granted erasure shreds the child now, by the retention path.

    Without a ``job`` (the API, which may not destroy keys) the decision is
    recorded and the retention worker's next run shreds the child.

    One idempotent step: asking again for a granted erasure whose child is
    not shredded yet (a retention run held the lock, the process died in
    between) shreds it rather than refusing as "already decided"; and the
    retention run sweeps any granted erasure still unshredded.
    """
    request = app.get_rights_request(request_id)
    erasure_pending = (
        request.request_type is RightsRequestType.ERASURE
        and request.grants()
        and request.decision is decision
        and not app.get_child(request.child_id).is_shredded
    )
    if not erasure_pending:
        request = app.decide_request(
            c.DecideRequest.of(
                {
                    "actor": actor,
                    "request_id": request_id,
                    "decision": decision,
                    "decided_on": app.today(),
                    "explanation": explanation,
                }
            )
        )
    shredded = False
    if job is not None and request.request_type is RightsRequestType.ERASURE and request.grants():
        shredded = job.shred_now(request.child_id, ShredReason.ERASURE_APPROVED)
    child = app.get_child(request.child_id)
    return {
        "request_id": str(request_id),
        "type": request.request_type.value,
        "decision": decision.value,
        "shredded": shredded,
        "processing_restricted": child.is_restricted,
    }
