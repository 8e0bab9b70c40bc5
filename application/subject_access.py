"""The subject access package (UK GDPR Art 15): what is held about a child, in one document.

Everything of the child and of every case, disclosure and request about
them, opened with the child's key; who it was shared with, where it came
from, how long it is kept, the rights; other people's data set apart for
review before release. Producing it is a recorded read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from pydantic import BaseModel

from application import CMEApplication
from domain.markers import Unavailable
from domain.values import Purpose

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


def plain(value: Any) -> Any:  # noqa: PLR0911 - one line per kind of value
    """A value as JSON holds it (a reduced timetable's hours, a Decimal, kept exact as text).

    Value objects become their fields, enums their values: an auditor's replay
    is read by people and tools, never as Python's own text.
    """
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    if isinstance(value, Unavailable):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def aggregate_state(aggregate: Any) -> dict[str, Any]:
    """An aggregate's state as JSON, without the library's bookkeeping (pending events)."""
    return {k: plain(v) for k, v in vars(aggregate).items() if not k.startswith("_")}


def child_events(app: CMEApplication, child_id: UUID) -> list[Any]:
    """Every event of the child and of the cases, disclosures and requests about them.

    The key is asked of the key store, not this process's cache: another
    process may have destroyed it a moment ago, even before the store records
    the child as shredded (the values then read "[shredded on DATE]").
    """
    stored = stored_about(app, child_id)
    app.data_keys.forget([child_id])  # ask the key store, which says since when
    events = app.batch_mapper.to_domain_events(stored)
    return sorted(events, key=lambda e: (e.timestamp, e.originator_version))


def stored_about(app: CMEApplication, child_id: UUID) -> list[StoredEvent]:
    """The stored events of the child and of every aggregate about them.

    On PostgreSQL the aggregates about the child come from the subject index:
    a request must not cost a scan of the whole log.
    """
    about = app.queries.aggregates_about(child_id)
    found = app.queries.select_many([child_id, *about])
    return [event for ident in found for event in found[ident]]


THIRD_PARTY = {
    "carers": "carer",
    "referrer_name": "referrer",
    "referrer_contact": "referrer",
    "requester_name": "requester",
    "requester_contact": "requester",
}
"""Fields about people other than the child: held back from the package for review."""
HELD_BACK = "[held back for review: see third_party_data_for_review]"


def _hold_back(personal: Any, found_in: str, held: list[dict[str, Any]]) -> Any:
    """The child's own data, with other people's fields moved to ``held`` (UK GDPR Art 15(4))."""
    if not isinstance(personal, dict):
        return plain(personal)
    kept = {}
    for key, value in personal.items():
        if key in THIRD_PARTY and value:
            values = value if isinstance(value, list) else [value]
            held += [
                {"who": THIRD_PARTY[key], "field": key, "details": plain(v), "found_in": found_in}
                for v in values
            ]
            kept[key] = HELD_BACK
        else:
            kept[key] = plain(value)
    return kept


def _once_each(held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each person's data once, with every record it was found in."""
    merged: dict[str, dict[str, Any]] = {}
    for item in held:
        key = json.dumps([item["who"], item["field"], item["details"]], sort_keys=True)
        entry = merged.setdefault(key, {**item, "found_in": []})
        if item["found_in"] not in entry["found_in"]:
            entry["found_in"].append(item["found_in"])
    return list(merged.values())


def access_package(app: CMEApplication, child_id: UUID, actor: str) -> dict[str, Any]:
    """What a subject access request gets: the child's data, where from, who to, for how long.

    Other people's data (carers, referrers, requesters) is not in the child's
    part: it is listed apart, for the DPO to review before anything is released.
    """
    child = app.get_child(child_id)
    events = child_events(app, child_id)
    history: list[dict[str, Any]] = []
    recipients: list[dict[str, Any]] = []
    sources: set[str] = set()
    third_parties: list[dict[str, Any]] = []
    for event in events:
        kind = type(event).__qualname__
        facts = {
            k: plain(v)
            for k, v in vars(event).items()
            if k not in {"originator_id", "originator_version", "originator_topic", "timestamp"}
            and k != "personal"
        }
        personal = getattr(event, "personal", None)
        history.append(
            {
                "when": event.timestamp.isoformat(),
                "what": kind,
                "facts": facts,
                "personal_data": _hold_back(personal, kind, third_parties),
            }
        )
        if kind in ("Disclosure.Made", "Disclosure.Approved"):
            recipient = {
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
            recipients.append({**recipient, "approved_by": facts.get("approved_by", event.actor)})
        for key in ("source", "source_agency"):
            if facts.get(key):
                sources.add(str(facts[key]))
    kept_until = app.data_keys.store.get_many([child_id]).get(child_id)
    details = child.details
    package = {
        "child_id": str(child_id),
        "generated_at": app.now().isoformat(),
        "generated_by": actor,
        "personal_data": _hold_back(
            details.model_dump(mode="json") if not isinstance(details, Unavailable) else details,
            "current details",
            third_parties,
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
        "third_party_data_for_review": _once_each(third_parties),
    }
    app.record_personal_data_read(child_id, actor=actor, purpose="subject_access_request")
    return package
