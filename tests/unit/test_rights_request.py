"""Rights requests and their statutory clock."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from domain.errors import RequestStateError
from domain.rights_request import RightsRequest
from domain.statutory_clock import add_months, due_on
from domain.values import RequestDecision


def received(on: date = date(2026, 1, 31)) -> RightsRequest:
    return RightsRequest(
        actor="dpo:1",
        child_id=uuid4(),
        request_type="access",
        received_on=on,
        personal={"requester_name": "Synthetic Parent"},
    )


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 9, 3), 1, date(2026, 10, 3)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31 February: last day of month
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
    ],
)
def test_calendar_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_due_date_is_one_month_then_extended_and_paused() -> None:
    request = received(date(2026, 3, 10))
    assert request.due_on(as_of=date(2026, 3, 11)) == date(2026, 4, 10)
    # Waiting for identity stops the clock for 5 days.
    request.stop_clock("dpo:1", date(2026, 3, 12), "awaiting_identity")
    request.resume_clock("dpo:1", date(2026, 3, 17))
    assert request.due_on(as_of=date(2026, 3, 20)) == date(2026, 4, 15)
    # A complex request is extended by two months: the most allowed.
    request.extend("dpo:1", 2, "complex: several agencies")
    assert request.due_on(as_of=date(2026, 3, 20)) == date(2026, 6, 15)
    with pytest.raises(RequestStateError) as caught:
        request.extend("dpo:1", 1, "more")
    assert caught.value.field == "months"


def test_an_open_stop_moves_the_due_date_day_by_day() -> None:
    assert due_on(date(2026, 3, 10), 0, [(date(2026, 3, 12), None)], date(2026, 3, 22)) == date(
        2026, 4, 20
    )


def test_overdue_only_while_undecided() -> None:
    request = received(date(2026, 1, 5))
    assert not request.is_overdue(date(2026, 2, 5))
    assert request.is_overdue(date(2026, 2, 6))
    request.verify_identity("dpo:1", date(2026, 1, 6))
    request.decide("dpo:1", RequestDecision.FULFILLED, date(2026, 2, 7), None)
    assert not request.is_overdue(date(2026, 3, 1))


def test_fulfilling_needs_verified_identity_but_refusing_does_not() -> None:
    request = received()
    with pytest.raises(RequestStateError):
        request.decide("dpo:1", RequestDecision.FULFILLED, date(2026, 2, 1), None)
    request.decide("dpo:1", RequestDecision.REFUSED, date(2026, 2, 1), "identity not proven")
    assert request.decision is RequestDecision.REFUSED


def test_closing_needs_a_decision_and_is_final() -> None:
    request = received()
    with pytest.raises(RequestStateError):
        request.close("dpo:1", date(2026, 2, 2))
    request.decide("dpo:1", RequestDecision.REFUSED, date(2026, 2, 1), "manifestly unfounded")
    request.close("dpo:1", date(2026, 2, 2))
    with pytest.raises(RequestStateError):
        request.verify_identity("dpo:1", date(2026, 2, 3))


def test_clock_cannot_stop_twice_or_resume_unstopped() -> None:
    request = received()
    with pytest.raises(RequestStateError):
        request.resume_clock("dpo:1", date(2026, 2, 2))
    request.stop_clock("dpo:1", date(2026, 2, 1), "awaiting_clarification")
    with pytest.raises(RequestStateError):
        request.stop_clock("dpo:1", date(2026, 2, 2), "awaiting_identity")
