"""Caseworker read models, as pure functions from domain events to changes.

The ``caseworker`` schema is the one place personal data is in clear: these
functions receive events whose personal parts were opened with the child's
key (or are the Shredded marker), and write current details for caseworkers.
When a child is shredded, :class:`RedactChild` removes every personal value
of theirs; events that arrive later carry only the marker and write nothing
personal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from eventsourcing.utils import get_topic

from domain.access_log import AccessLog
from domain.case import Case
from domain.child import Child
from domain.disclosure import Disclosure
from domain.rights_request import RightsRequest
from projections.changes import Add, Append, Change, Latest, RedactChild, Upsert, When

CHILDREN = "children"
CASES = "cases"
TIMELINE = "case_timeline"
DISCLOSURE_REQUESTS = "disclosure_requests"

# Personal columns of the children table: nulled when the child is shredded.
CHILD_PERSONAL_COLUMNS = (
    "legal_forenames",
    "legal_surname",
    "preferred_name",
    "date_of_birth",
    "sex",
    "gender",
    "ethnicity",
    "upn",
    "address_line1",
    "address_line2",
    "address_town",
    "address_postcode",
    "carers",
    "flags",
    "notes",
    "destination_country",
)
TIMELINE_PERSONAL_COLUMNS = ("notes",)
CASE_PERSONAL_COLUMNS = ("referrer_name", "referrer_contact", "referral_notes")


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _personal(event: Any) -> dict[str, Any] | None:
    """The opened personal part, or None when absent or shredded."""
    personal = getattr(event, "personal", None)
    return personal if isinstance(personal, dict) else None


def _address_columns(address: dict[str, Any] | None) -> dict[str, Any]:
    address = address or {}
    return {
        "address_line1": address.get("line1"),
        "address_line2": address.get("line2"),
        "address_town": address.get("town"),
        "address_postcode": address.get("postcode"),
    }


def _details_columns(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "legal_forenames": details.get("legal_forenames"),
        "legal_surname": details.get("legal_surname"),
        "preferred_name": details.get("preferred_name"),
        "date_of_birth": _day(details.get("date_of_birth")),
        "sex": details.get("sex"),
        "gender": details.get("gender"),
        "ethnicity": details.get("ethnicity"),
        "upn": details.get("upn"),
        **_address_columns(details.get("address")),
        "carers": json.dumps(details.get("carers") or [], sort_keys=True),
        "flags": json.dumps(details.get("flags") or {}, sort_keys=True),
        "notes": details.get("notes"),
    }


def _child(event: Any, values: dict[str, Any]) -> Upsert:
    return Upsert(CHILDREN, {"child_id": event.originator_id}, values)


def _case(event: Any, values: dict[str, Any]) -> Upsert:
    return Upsert(CASES, {"case_id": event.originator_id}, values)


def _timeline(event: Any, kind: str, on: Any, **values: Any) -> Append:
    return Append(
        TIMELINE,
        {"case_id": event.originator_id, "seq": event.originator_version},
        {
            "child_id": event.child_id,
            "on_date": _day(on),
            "kind": kind,
            "actor": event.actor,
            **values,
        },
    )


# -- Child --------------------------------------------------------------------------


def child_registered(event: Any) -> list[Change]:
    details = _personal(event)
    values: dict[str, Any] = {
        "registered_on": _day(event.timestamp),
        "source": event.source,
        "roll_status": "unknown",
        "restricted": False,
        "legal_hold": False,
    }
    if details is not None:
        values.update(_details_columns(details))
    return [_child(event, values)]


def details_rectified(event: Any) -> list[Change]:
    details = _personal(event)
    return [_child(event, _details_columns(details))] if details is not None else []


def address_changed(event: Any) -> list[Change]:
    personal = _personal(event)
    if personal is None:
        return []
    return [_child(event, _address_columns(personal.get("address")))]


def registered_at_school(event: Any) -> list[Change]:
    return [
        _child(
            event,
            {
                "current_school_urn": event.school_urn,
                "roll_status": "on_roll",
                "on_roll_from": _day(event.on_roll_from),
                "removed_on": None,
                "deletion_ground": None,
                "moved_to_la": None,
                "moved_abroad": False,
                "move_confirmed": None,
                "moved_on": None,
            },
        )
    ]


def removed_from_roll(event: Any) -> list[Change]:
    return [
        _child(
            event,
            {
                "current_school_urn": None,
                "last_school_urn": event.school_urn,
                "roll_status": "removed",
                "removed_on": _day(event.removed_on),
                "deletion_ground": event.deletion_ground,
            },
        )
    ]


def reduced_timetable(event: Any) -> list[Change]:
    return [
        _child(
            event,
            {
                "reduced_timetable_school_urn": event.school_urn,
                "reduced_timetable_hours": str(event.hours_per_week),
                "reduced_timetable_starts_on": _day(event.starts_on),
                "reduced_timetable_review_on": _day(event.review_on),
            },
        )
    ]


def moved_to_authority(event: Any) -> list[Change]:
    return [
        _child(
            event,
            {
                "moved_to_la": event.la_code,
                "moved_abroad": False,
                "moved_on": _day(event.moved_on),
                "move_confirmed": event.confirmed,
            },
        )
    ]


def moved_abroad(event: Any) -> list[Change]:
    personal = _personal(event) or {}
    return [
        _child(
            event,
            {
                "moved_to_la": None,
                "moved_abroad": True,
                "destination_country": personal.get("destination_country"),
                "moved_on": _day(event.moved_on),
                "move_confirmed": event.confirmed,
            },
        )
    ]


def restricted(event: Any) -> list[Change]:
    return [_child(event, {"restricted": True})]


def restriction_lifted(event: Any) -> list[Change]:
    return [_child(event, {"restricted": False})]


def erasure_granted(event: Any) -> list[Change]:
    """Processing stops at once, not at the retention run that shreds the child.

    The views and exports skip a restricted child; a granted erasure was left in
    ``children_exportable`` until the run (up to a day).
    """
    return [_child(event, {"restricted": True})]


def legal_hold_placed(event: Any) -> list[Change]:
    return [_child(event, {"legal_hold": True, "legal_holds": Add(1)})]


def legal_hold_released(event: Any) -> list[Change]:
    return [_child(event, {"legal_holds": Add(-1)})]


def case_opened_on_child(event: Any) -> list[Change]:
    return [_child(event, {"open_case_id": event.case_id})]


def case_closed_on_child(event: Any) -> list[Change]:
    return [_child(event, {"open_case_id": None})]


def personal_data_shredded(event: Any) -> list[Change]:
    return [RedactChild(event.originator_id, _day(event.shredded_at))]


# -- Case ----------------------------------------------------------------------------


def case_opened(event: Any) -> list[Change]:
    personal = _personal(event) or {}
    return [
        _case(
            event,
            {
                "child_id": event.child_id,
                "status": "referred",
                "status_since": _day(event.referred_on),
                "source": event.source,
                "reason": event.reason,
                "referred_on": _day(event.referred_on),
                "assigned_officer": event.assigned_officer,
                "enquiries": 0,
                "referrer_name": personal.get("referrer_name"),
                "referrer_contact": personal.get("referrer_contact"),
                "referral_notes": personal.get("notes"),
            },
        ),
        _timeline(event, "opened", event.referred_on, outcome=event.reason),
    ]


def case_status_changed(event: Any) -> list[Change]:
    return [
        _case(event, {"status": event.status, "status_since": _day(event.changed_on)}),
        _timeline(event, "status", event.changed_on, outcome=event.status),
    ]


def enquiry_recorded(event: Any) -> list[Change]:
    personal = _personal(event) or {}
    made_on = _day(event.made_on)
    values: dict[str, Any] = {
        "last_enquiry_on": Latest(made_on),
        "enquiries": Add(1),
        # The first enquiry moves a referral into enquiries (as the aggregate does).
        "status": When("status", "referred", "enquiries_in_progress"),
        "status_since": When("status", "referred", made_on),
    }
    return [
        _case(event, values),
        _timeline(
            event,
            "enquiry",
            event.made_on,
            agency=event.agency,
            method=event.method,
            outcome=event.outcome,
            joint_with_school=event.joint_with_school,
            notes=personal.get("notes"),
        ),
    ]


def support_decision(event: Any) -> list[Change]:
    personal = _personal(event) or {}
    return [
        _timeline(
            event,
            "decision",
            event.timestamp,
            outcome=event.decision,
            decided_by=event.decided_by,
            automated=event.automated,
            notes=personal.get("reason"),
        )
    ]


def decision_reviewed(event: Any) -> list[Change]:
    personal = _personal(event) or {}
    return [
        _timeline(
            event,
            "review",
            event.timestamp,
            outcome="upheld" if event.upheld else "overturned",
            notes=personal.get("notes"),
        )
    ]


def officer_assigned(event: Any) -> list[Change]:
    return [
        _case(
            event,
            {"assigned_officer": event.officer, "next_action_due": _day(event.next_action_due)},
        )
    ]


def case_closed(event: Any) -> list[Change]:
    return [
        _case(
            event,
            {
                "status": "closed",
                "status_since": _day(event.closed_on),
                "outcome": event.outcome,
                "closed_on": _day(event.closed_on),
            },
        ),
        _timeline(event, "closed", event.closed_on, outcome=event.outcome),
    ]


# -- Disclosure requests (what a senior officer decides on; nothing personal) ------------


def _request(event: Any, values: dict[str, Any]) -> Upsert:
    return Upsert(DISCLOSURE_REQUESTS, {"disclosure_id": event.originator_id}, values)


def disclosure_requested(event: Any) -> list[Change]:
    return [
        _request(
            event,
            {
                "child_id": event.child_id,
                "case_id": event.case_id,
                "status": "requested",
                "recipient_agency": event.recipient_agency,
                "recipient_organisation": event.recipient_organisation,
                "purpose": event.purpose,
                "lawful_basis": event.lawful_basis,
                "categories": ",".join(sorted(event.categories)),
                "requested_by": event.actor,
                "requested_on": event.requested_on,
            },
        )
    ]


def disclosure_approved(event: Any) -> list[Change]:
    return [
        _request(
            event, {"status": "made", "decided_by": event.actor, "decided_on": event.disclosed_on}
        )
    ]


def disclosure_request_refused(event: Any) -> list[Change]:
    values = {
        "status": "refused",
        "decided_by": event.actor,
        "decided_on": event.refused_on,
        "refusal_reason": event.refusal_reason,
    }
    return [_request(event, values)]


BY_EVENT: dict[type[Any], Callable[[Any], list[Change]]] = {
    Child.Registered: child_registered,
    Child.DetailsRectified: details_rectified,
    Child.AddressChanged: address_changed,
    Child.RegisteredAtSchool: registered_at_school,
    Child.RemovedFromRoll: removed_from_roll,
    Child.ReducedTimetableNotified: reduced_timetable,
    Child.MovedToAnotherAuthority: moved_to_authority,
    Child.MovedAbroad: moved_abroad,
    Child.ProcessingRestricted: restricted,
    Child.RestrictionLifted: restriction_lifted,
    Child.ErasureGranted: erasure_granted,
    Child.LegalHoldPlaced: legal_hold_placed,
    Child.LegalHoldReleased: legal_hold_released,
    Child.CaseOpened: case_opened_on_child,
    Child.CaseClosed: case_closed_on_child,
    Child.PersonalDataShredded: personal_data_shredded,
    Case.Opened: case_opened,
    Case.StatusChanged: case_status_changed,
    Case.EnquiryRecorded: enquiry_recorded,
    Case.SupportDecisionRecorded: support_decision,
    Case.AutomatedDecisionReviewed: decision_reviewed,
    Case.OfficerAssigned: officer_assigned,
    Case.Closed: case_closed,
    Disclosure.Requested: disclosure_requested,
    Disclosure.Approved: disclosure_approved,
    Disclosure.RequestRefused: disclosure_request_refused,
}

NOT_PROJECTED: frozenset[type[Any]] = frozenset(
    {
        Child.ObjectionRecorded,
        Child.ShreddingDeferred,
        Child.PersonalDataRead,
        Child.DestructionDateMoved,
        AccessLog.Started,
        AccessLog.PersonalDataRead,
        Disclosure.Made,
        Disclosure.Refused,
        Disclosure.Received,
        RightsRequest.Received,
        RightsRequest.IdentityVerified,
        RightsRequest.ClockStopped,
        RightsRequest.ClockResumed,
        RightsRequest.Extended,
        RightsRequest.Decided,
        RightsRequest.Closed,
    }
)
"""Events no caseworker view needs: sharing and rights steps (the ledger's), reads, deferrals."""

PROJECTORS: dict[str, Callable[[Any], list[Change]]] = {
    get_topic(cls): make for cls, make in BY_EVENT.items()
}
"""The same, by the stored event's topic (what a reader of stored events has)."""


def project(topic: str, event: Any) -> list[Change]:
    """The read-model changes for one event; events no view needs give none."""
    projector = PROJECTORS.get(topic)
    return projector(event) if projector is not None else []
