"""The disclosure ledger: what each sharing-related event contributes, and the hash chain.

Pure functions. An entry names the child by id and the *categories* of data,
never a value: what happened, when, with whom, why, under which basis, on
whose authority, and the event it came from. Entries are serialised
canonically (sorted keys, no spaces, UTF-8) and chained: each entry's hash is
SHA-256 over the previous hash and its own canonical bytes, so altering,
inserting or removing any entry changes every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.access_log import AccessLog
from domain.case import Case
from domain.child import Child
from domain.disclosure import Disclosure
from domain.rights_request import RightsRequest

GENESIS = "0" * 64


def _text(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value


def _base(kind: str, event: Any, **fields: Any) -> dict[str, Any]:
    child_id = getattr(event, "child_id", None) or event.originator_id
    entry = {
        "kind": kind,
        "at": event.timestamp,
        "child_id": child_id,
        "actor": getattr(event, "actor", None),
        "source_event": {
            "originator_id": event.originator_id,
            "version": event.originator_version,
        },
        **fields,
    }
    return {
        k: _text(v) if not isinstance(v, dict) else {a: _text(b) for a, b in v.items()}
        for k, v in entry.items()
        if v is not None
    }


def _sharing(event: Any) -> dict[str, Any]:
    """What every step of a disclosure states: with whom, why, under which basis, what."""
    return {
        "counterparty_agency": event.recipient_agency,
        "counterparty_organisation": event.recipient_organisation,
        "purpose": event.purpose,
        "lawful_basis": event.lawful_basis,
        "categories": sorted(event.categories),
        "requested_by": getattr(event, "requested_by", None) or event.actor,
        "case_id": event.case_id,
    }


def disclosure_requested(event: Any) -> dict[str, Any]:
    return _base("disclosure_requested", event, **_sharing(event), on=event.requested_on)


def disclosure_made(event: Any) -> dict[str, Any]:
    """Made at once (intake, the demo) or on a second person's approval (the API)."""
    return _base(
        "disclosure_made",
        event,
        **_sharing(event),
        approved_by=getattr(event, "approved_by", None) or event.actor,
        on=event.disclosed_on,
    )


def disclosure_refused(event: Any) -> dict[str, Any]:
    """Refused at once (intake, the demo), by a second person, or by the rules.

    The rules' refusal names the person whose request or approval it refused.
    """
    return _base(
        "disclosure_refused",
        event,
        **_sharing(event),
        refusal_reason=event.refusal_reason,
        triggered_by=getattr(event, "triggered_by", None),
        on=event.refused_on,
    )


def information_received(event: Any) -> dict[str, Any]:
    return _base(
        "information_received",
        event,
        counterparty_agency=event.source_agency,
        counterparty_organisation=event.source_organisation,
        categories=sorted(event.categories),
        on=event.received_on,
        case_id=event.case_id,
    )


def rights_request(kind: str) -> Callable[[Any], dict[str, Any]]:
    def entry(event: Any) -> dict[str, Any]:
        return _base(
            kind,
            event,
            request_id=event.originator_id,
            request_type=getattr(event, "request_type", None),
            decision=getattr(event, "decision", None),
            months=getattr(event, "months", None),
            on=getattr(event, "received_on", None)
            or getattr(event, "decided_on", None)
            or getattr(event, "closed_on", None)
            or getattr(event, "stopped_on", None)
            or getattr(event, "resumed_on", None)
            or getattr(event, "verified_on", None),
        )

    return entry


def child_fact(kind: str) -> Callable[[Any], dict[str, Any]]:
    def entry(event: Any) -> dict[str, Any]:
        return _base(
            kind,
            event,
            request_id=getattr(event, "request_id", None),
            hold_id=getattr(event, "hold_id", None),
            authority=getattr(event, "authority", None),
            reason=getattr(event, "reason", None) if kind == "personal_data_shredded" else None,
            hold_ids=sorted(str(h) for h in getattr(event, "hold_ids", None) or []) or None,
            due_on=getattr(event, "due_on", None),
            purpose=getattr(event, "purpose", None),
        )

    return entry


BY_EVENT: dict[type[Any], Callable[[Any], dict[str, Any]]] = {
    Disclosure.Made: disclosure_made,
    Disclosure.Refused: disclosure_refused,
    Disclosure.Requested: disclosure_requested,
    Disclosure.Approved: disclosure_made,
    Disclosure.RequestRefused: disclosure_refused,
    Disclosure.Received: information_received,
    RightsRequest.Received: rights_request("rights_request_received"),
    RightsRequest.IdentityVerified: rights_request("rights_request_identity_verified"),
    RightsRequest.ClockStopped: rights_request("rights_request_clock_stopped"),
    RightsRequest.ClockResumed: rights_request("rights_request_clock_resumed"),
    RightsRequest.Extended: rights_request("rights_request_extended"),
    RightsRequest.Decided: rights_request("rights_request_decided"),
    RightsRequest.Closed: rights_request("rights_request_closed"),
    Child.ProcessingRestricted: child_fact("processing_restricted"),
    Child.RestrictionLifted: child_fact("restriction_lifted"),
    Child.ObjectionRecorded: child_fact("objection_recorded"),
    Child.ErasureGranted: child_fact("erasure_granted"),
    Child.LegalHoldPlaced: child_fact("legal_hold_placed"),
    Child.LegalHoldReleased: child_fact("legal_hold_released"),
    Child.PersonalDataShredded: child_fact("personal_data_shredded"),
    Child.DestructionDateMoved: child_fact("destruction_date_moved"),
    Child.ShreddingDeferred: child_fact("shredding_deferred"),
    Child.PersonalDataRead: child_fact("personal_data_read"),
    AccessLog.PersonalDataRead: child_fact("personal_data_read"),
}

NOT_IN_LEDGER: frozenset[type[Any]] = frozenset(
    {
        Child.Registered,
        Child.DetailsRectified,
        Child.AddressChanged,
        Child.RegisteredAtSchool,
        Child.RemovedFromRoll,
        Child.ReducedTimetableNotified,
        Child.MovedToAnotherAuthority,
        Child.MovedAbroad,
        Child.CaseOpened,
        Child.CaseClosed,
        Case.Opened,
        Case.StatusChanged,
        Case.EnquiryRecorded,
        Case.SupportDecisionRecorded,
        Case.AutomatedDecisionReviewed,
        Case.OfficerAssigned,
        Case.Closed,
        AccessLog.Started,
    }
)
"""Events that concern no sharing and no right: the ledger leaves them to the event store."""

ENTRIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    get_topic(cls): make for cls, make in BY_EVENT.items()
}
"""The same, by the stored event's topic (what a reader of stored events has)."""


def ledger_entry(topic: str, event: Any) -> dict[str, Any] | None:
    """The ledger entry an event makes, or None if it concerns no sharing or right."""
    make = ENTRIES.get(topic)
    return make(event) if make is not None else None


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(previous: str, canonical_bytes: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + canonical_bytes).hexdigest()


@dataclass(frozen=True)
class ChainedEntry:
    seq: int
    notification_id: int
    canonical: bytes
    prev_hash: str
    entry_hash: str


def chain(
    entries: Iterable[tuple[int, dict[str, Any]]], previous: str, next_seq: int
) -> list[ChainedEntry]:
    """Link new entries (with their notification ids) after the head ``previous``."""
    linked = []
    for notification_id, entry in entries:
        body = canonical(entry)
        digest = chain_hash(previous, body)
        linked.append(ChainedEntry(next_seq, notification_id, body, previous, digest))
        previous, next_seq = digest, next_seq + 1
    return linked


def checkpoint_message(
    seq: int, head_hash: str, prev_link: str | None = None, tree_root: str | None = None
) -> bytes:
    """What a checkpoint signs: the entry count, the head of the chain, the checkpoint before.

    ``prev_link`` (version 2) is :func:`checkpoint_link` of the previous
    checkpoint (64 zeros for the first), so the checkpoints form a chain of
    their own: removing one breaks the next one's signature. ``tree_root``
    (version 3) is the RFC 9162 Merkle root of entries 1..seq, so one entry's
    inclusion can be shown without the entries after it. Older checkpoints
    are still verified as they were signed.
    """
    if prev_link is None:
        return f"cme.ledger.checkpoint.v1|{seq}|{head_hash}".encode()
    if tree_root is None:
        return f"cme.ledger.checkpoint.v2|{seq}|{head_hash}|{prev_link}".encode()
    return f"cme.ledger.checkpoint.v3|{seq}|{head_hash}|{prev_link}|{tree_root}".encode()


def checkpoint_link(message: bytes, signature: bytes) -> str:
    """What the next checkpoint signs of this one: SHA-256 of its message and signature."""
    return hashlib.sha256(message + signature).hexdigest()
