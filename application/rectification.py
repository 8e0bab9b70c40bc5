"""Rectification (UK GDPR Art 16) and telling the recipients (Art 19).

A correction is recorded on the child; every agency a disclosure sent a
category of data the correction touches must be told, and is named here
(field names and categories only, never a value).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from application import CMEApplication
from application.subject_access import stored_about
from domain import commands as c
from domain.disclosure import Disclosure
from domain.errors import DomainError
from domain.personal import CATEGORIES_OF_DETAIL, ChildDetails

MADE_TOPICS = frozenset({get_topic(Disclosure.Made), get_topic(Disclosure.Approved)})
"""A disclosure made at once, or on a second person's approval: both sent data out."""


class UnknownDetailError(DomainError):
    """A correction names a detail the record does not have."""

    rule = "unknown_field"


def unknown_detail(names: list[str]) -> UnknownDetailError | None:
    """The error for names no detail has, or None; a name is repeated only if it looks like one.

    ``--set 'Jane Smith=…'`` puts a person's name where a detail's name goes: an
    identifier-shaped name (``surname``) is shown, to point to ``legal_surname``;
    anything else is not repeated.
    """
    unknown = sorted(set(names) - set(ChildDetails.model_fields))
    if not unknown:
        return None
    shown = [n if re.fullmatch(r"[a-z][a-z0-9_]{0,39}", n) else "(not repeated)" for n in unknown]
    known = ", ".join(ChildDetails.model_fields)
    msg = f"no such detail {', '.join(shown)}; the details are {known}"
    return UnknownDetailError(msg, field="details")


def correction(
    app: CMEApplication,
    child_id: UUID,
    corrections: dict[str, Any],
    actor: str,
    request_id: UUID | None = None,
    confirm_destruction_date: date | None = None,
) -> c.RectifyChildDetails:
    """The typed command for some corrected details, the rest kept as they stand.

    A caseworker names only what is wrong; the command carries the whole
    record so the aggregate compares every field, not a partial patch. A
    correction to part of an object (one flag, the postcode) keeps the rest
    of it; a list (the carers) is given whole.
    """
    refused = unknown_detail(list(corrections))
    if refused:
        raise refused
    current = app.get_child(child_id).current_details().model_dump(mode="json")
    details = {
        name: (
            current[name] | value  # a part of an object (the address, the flags): the rest stays
            if isinstance(current.get(name), dict) and isinstance(value, dict)
            else value
        )
        for name, value in corrections.items()
    }
    return c.RectifyChildDetails.of(
        {
            "actor": actor,
            "child_id": child_id,
            "request_id": request_id,
            "details": current | details,
            "confirm_destruction_date": confirm_destruction_date,
        }
    )


def rectify(app: CMEApplication, command: c.RectifyChildDetails) -> dict[str, Any]:
    """Correct details; name the recipients who must be told (UK GDPR Art 19).

    The recipients are every agency a disclosure sent a category of data the
    correction touches to. Only field names and categories are returned.
    """
    child_id = command.child_id
    changed = app.rectify_child_details(command)
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


def disclosures_made(app: CMEApplication, child_id: UUID) -> list[Any]:
    """The child's disclosures made, upcast, their personal parts left sealed."""
    made = [s for s in stored_about(app, child_id) if s.topic in MADE_TOPICS]
    return app.batch_mapper.to_domain_events(made, withhold_personal=True)
