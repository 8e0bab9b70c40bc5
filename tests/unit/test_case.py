"""Rules of the Case aggregate: status transitions, enquiries, decisions, closure."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from domain.case import Case
from domain.errors import CaseClosedError, InvalidTransitionError
from domain.values import CaseStatus


def opened_case() -> Case:
    return Case(
        actor="cw:1",
        child_id=uuid4(),
        source="school",
        reason="removed_from_roll_whereabouts_unknown",
        referred_on=date(2026, 1, 5),
        assigned_officer=None,
        personal={"referrer_name": "Synthetic Referrer"},
    )


def test_a_case_starts_referred() -> None:
    case = opened_case()
    assert case.status is CaseStatus.REFERRED
    assert case.status_since == date(2026, 1, 5)


def test_the_first_enquiry_starts_enquiries() -> None:
    case = opened_case()
    case.record_enquiry("cw:1", date(2026, 1, 6), "school", "phone", "no_response", "rang twice")
    assert case.status is CaseStatus.ENQUIRIES_IN_PROGRESS
    assert case.last_enquiry_on == date(2026, 1, 6)


def test_allowed_and_forbidden_transitions() -> None:
    case = opened_case()
    # From referred, only enquiries may start.
    with pytest.raises(InvalidTransitionError) as caught:
        case.change_status("cw:1", CaseStatus.MOVED_ABROAD.value, date(2026, 1, 7))
    assert caught.value.field == "status"
    case.change_status("cw:1", CaseStatus.ENQUIRIES_IN_PROGRESS.value, date(2026, 1, 7))
    case.change_status("cw:1", CaseStatus.WHEREABOUTS_UNKNOWN.value, date(2026, 2, 1))
    case.change_status("cw:1", CaseStatus.LOCATED_AWAITING_PLACE.value, date(2026, 3, 1))
    assert case.status is CaseStatus.LOCATED_AWAITING_PLACE


def test_closed_cases_are_final() -> None:
    case = opened_case()
    case.close("cw:1", "on_roll_at_school", date(2026, 4, 1))
    assert case.status is CaseStatus.CLOSED and case.outcome == "on_roll_at_school"
    with pytest.raises(CaseClosedError):
        case.record_enquiry("cw:1", date(2026, 4, 2), "gp", "email", "located", None)
    with pytest.raises(CaseClosedError):
        case.close("cw:1", "other", date(2026, 4, 3))


def test_cannot_close_before_referral() -> None:
    with pytest.raises(InvalidTransitionError):
        opened_case().close("cw:1", "other", date(2025, 12, 31))


def test_automated_decisions_can_be_reviewed_manual_ones_cannot() -> None:
    case = opened_case()
    automated = case.record_support_decision(
        "system:rules", "prioritise_home_visit", "10 days unexplained", "system:rules", True, "r7"
    )
    manual = case.record_support_decision("cw:1", "refer_to_ews", "pattern", "cw:1", False, None)
    case.review_automated_decision("cw:2", automated, upheld=False, notes="family located")
    reviewed = next(d for d in case.decisions if d.decision_id == automated)
    assert reviewed.reviewed and reviewed.upheld is False
    with pytest.raises(InvalidTransitionError):
        case.review_automated_decision("cw:2", manual, upheld=True, notes="n/a")
