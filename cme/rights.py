"""`cme rights access|overdue`: the subject access package, and requests due or late.

The access package (which also serves portability: it is JSON) holds every
personal value held about the child, opened with their key, the purposes and
sources, every recipient the data was disclosed to, the retention date and
the rights available. Other people's details found in the record (carers,
referrers) are listed for review rather than silently released. Producing
it is itself recorded, and so reaches the disclosure ledger.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from application.retention import RetentionJob
from cme.bootstrap import App
from crypto_shredding.mapper import PersonalDataMapper
from domain import commands as c
from domain.disclosure import Disclosure
from domain.errors import DomainError
from domain.markers import Unavailable
from domain.personal import CATEGORIES_OF_DETAIL, ChildDetails
from domain.rights_request import RightsRequest
from domain.values import Purpose, RequestDecision, RightsRequestType, ShredReason

RIGHTS = [
    "to be informed about what information is held and how it is used",
    "of access (a subject access request)",
    "to have factually inaccurate information corrected",
    "to object to the way the data is used",
    "to request deletion (which may be refused, with an explanation)",
    "to request that use stops while a correction or deletion is considered",
    "to receive the data in a format that can be transferred to another organisation",
    "to have decisions made by automated processes reviewed by a member of staff",
]


def plain(value: Any) -> Any:
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    if isinstance(value, Unavailable):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def child_events(app: App, child_id: UUID) -> list[Any]:
    """Every event of the child and of the cases, disclosures and requests about them."""
    mapper = app.mapper
    assert isinstance(mapper, PersonalDataMapper)  # noqa: S101 - the application's own mapper
    events = mapper.to_domain_events(stored_about(app, child_id))
    return sorted(events, key=lambda e: (e.timestamp, e.originator_version))


def stored_about(app: App, child_id: UUID) -> list[StoredEvent]:
    """The stored events of the child and of every aggregate about them.

    On PostgreSQL the aggregates about the child come from the subject index
    (a request must not cost a scan of the whole log); elsewhere from a scan.
    """
    about = app.queries.aggregates_about(child_id)
    found = app.queries.select_many([child_id, *about])
    return [event for ident in found for event in found[ident]]


def access_package(app: App, child_id: UUID, actor: str) -> dict[str, Any]:
    child = app.get_child(child_id)
    events = child_events(app, child_id)
    history, recipients, sources, third_parties = [], [], set(), []
    for event in events:
        kind = type(event).__qualname__
        facts = {
            k: plain(v)
            for k, v in vars(event).items()
            if k not in {"originator_id", "originator_version", "timestamp", "personal"}
        }
        personal = getattr(event, "personal", None)
        history.append(
            {
                "when": event.timestamp.isoformat(),
                "what": kind,
                "facts": facts,
                "personal_data": plain(personal),
            }
        )
        if kind == "Disclosure.Made":
            recipients.append(
                {
                    k: facts.get(k)
                    for k in (
                        "recipient_agency",
                        "recipient_organisation",
                        "purpose",
                        "lawful_basis",
                        "categories",
                        "disclosed_on",
                        "approved_by",
                    )
                }
            )
        for key in ("source", "source_agency"):
            if facts.get(key):
                sources.add(str(facts[key]))
        if isinstance(personal, dict):
            for carer in personal.get("carers") or []:
                third_parties.append({"who": "carer", "details": carer, "found_in": kind})
            if personal.get("referrer_name"):
                third_parties.append(
                    {
                        "who": "referrer",
                        "details": {
                            "name": personal.get("referrer_name"),
                            "contact": personal.get("referrer_contact"),
                        },
                        "found_in": kind,
                    }
                )
    kept_until = app.data_keys.store.get_many([child_id]).get(child_id)
    details = child.details
    package = {
        "child_id": str(child_id),
        "generated_at": datetime.now().astimezone().isoformat(),
        "generated_by": actor,
        "personal_data": plain(
            details.model_dump(mode="json") if not isinstance(details, Unavailable) else details
        ),
        "history": history,
        "purposes": [p.value for p in Purpose],
        "sources": sorted(sources),
        "recipients": recipients,
        "retention": {
            "kept_until": kept_until.expires_on.isoformat()
            if kept_until and kept_until.expires_on
            else None,
            "then": "the key is destroyed and the data becomes unreadable everywhere",
        },
        "rights": RIGHTS,
        "third_party_data_for_review": third_parties,
    }
    app.record_personal_data_read(child_id, actor=actor, purpose="subject_access_request")
    return package


def markdown(package: dict[str, Any]) -> str:
    third = package["third_party_data_for_review"]
    lines = [
        f"# Information held about child {package['child_id']}",
        "",
        f"Prepared {package['generated_at']} by {package['generated_by']}.",
        "",
        "## Personal details",
        "",
        "```json",
        json.dumps(package["personal_data"], indent=2),
        "```",
        "",
        "## Who it was shared with",
        "",
    ]
    lines += [
        f"- {r['recipient_organisation']} ({r['recipient_agency']}) on {r['disclosed_on']}: "
        f"{', '.join(r['categories'] or [])} for {r['purpose']} under {r['lawful_basis']}"
        for r in package["recipients"]
    ] or ["- nobody"]
    lines += [
        "",
        "## Where it came from",
        "",
        *[f"- {s}" for s in package["sources"]],
        "",
        "## How long it is kept",
        "",
        f"Until {package['retention']['kept_until']}; then {package['retention']['then']}.",
        "",
        "## Your rights",
        "",
        *[f"- the right {r}" for r in package["rights"]],
        "",
        f"## For review before release: other people's data ({len(third)})",
        "",
    ]
    return "\n".join(lines) + "\n"


def undecided_requests(app: App) -> Iterator[RightsRequest]:
    """Every rights request still open and not yet decided."""
    for n in app.recorder.select_notifications(
        start=None, limit=1_000_000, topics=[get_topic(RightsRequest.Received)]
    ):
        request = app.get_rights_request(UUID(str(n.originator_id)))
        if request.is_open and request.decision is None:
            yield request


def overdue(app: App, today: date, within_days: int = 7) -> list[dict[str, Any]]:
    rows = []
    for request in undecided_requests(app):
        due = request.due_on(today)
        if (due - today).days <= within_days:
            rows.append(
                {
                    "request_id": str(request.id),
                    "type": request.request_type.value,
                    "received_on": request.received_on.isoformat(),
                    "due_on": due.isoformat(),
                    "days_left": (due - today).days,
                    "clock_stopped": request.clock_stopped,
                }
            )
    return sorted(rows, key=lambda r: r["days_left"])


class UnknownDetailError(DomainError):
    rule = "unknown_field"


def rectify(
    app: App,
    child_id: UUID,
    corrections: dict[str, Any],
    actor: str,
    request_id: UUID | None = None,
) -> dict[str, Any]:
    """Correct details; name the recipients who must be told (UK GDPR Art 19).

    The recipients are every agency a disclosure sent a category of data the
    correction touches to. Only field names and categories are returned.
    """
    unknown = sorted(set(corrections) - set(ChildDetails.model_fields))
    if unknown:
        known = ", ".join(ChildDetails.model_fields)
        msg = f"no such detail {', '.join(unknown)}; the details are {known}"
        raise UnknownDetailError(msg, field=unknown[0])
    current = app.get_child(child_id).current_details()
    changed = app.rectify_child_details(
        c.RectifyChildDetails.of(
            {
                "actor": actor,
                "child_id": child_id,
                "request_id": request_id,
                "details": current.model_dump(mode="json") | corrections,
            }
        )
    )
    touched = {category.value for name in changed for category in CATEGORIES_OF_DETAIL[name]}
    recipients = [
        {
            "recipient_agency": event.recipient_agency,
            "recipient_organisation": event.recipient_organisation,
            "disclosed_on": event.disclosed_on.isoformat(),
            "categories": sorted(touched & set(event.categories)),
            "disclosure_id": str(event.originator_id),
        }
        for event in disclosures_made(app, child_id)
        if touched & set(event.categories)
    ]
    return {
        "child_id": str(child_id),
        "changed": changed,
        "categories": sorted(touched),
        "tell_recipients": recipients,
    }


def disclosures_made(app: App, child_id: UUID) -> list[Any]:
    """The child's Disclosure.Made events, from their clear facts (nothing decrypted)."""
    made = [s for s in stored_about(app, child_id) if s.topic == MADE_TOPIC]
    return [
        SimpleNamespace(originator_id=s.originator_id, **app.mapper.transcoder.decode(s.state))
        for s in made
    ]


MADE_TOPIC = get_topic(Disclosure.Made)


def decide(
    app: App,
    job: RetentionJob,
    request_id: UUID,
    decision: RequestDecision,
    explanation: str | None,
    actor: str,
) -> dict[str, Any]:
    """Record the decision; a granted erasure shreds the child now, by the retention path.

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
    if request.request_type is RightsRequestType.ERASURE and request.grants():
        shredded = job.shred_now(request.child_id, ShredReason.ERASURE_APPROVED)
    child = app.get_child(request.child_id)
    return {
        "request_id": str(request_id),
        "type": request.request_type.value,
        "decision": decision.value,
        "shredded": shredded,
        "processing_restricted": child.is_restricted,
    }
