"""Dates on a case cannot come before the child was born, nor a next action before the referral.

An enquiry dated 0001-01-01 was accepted through the API and kept for good
by the append-only store; so were a status change and a next action dated
then, and a referral of a child born after it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from domain.errors import DateBeforeBirthError, InvalidTransitionError


def _case(app: App, born: date, referred_on: date) -> UUID:
    county = SyntheticCounty(seed=born.toordinal())
    child = app.register_child(
        c.RegisterChild.of(county.register_child(date_of_birth=born.isoformat()))
    )
    return app.open_case(
        c.OpenCase.of(
            {
                "actor": "staff:cw-1",
                "child_id": child,
                "source": "school",
                "reason": "never_registered",
                "referred_on": referred_on.isoformat(),
            }
        )
    )


@pytest.mark.parametrize(
    ("command", "fields", "field"),
    [
        (
            c.RecordEnquiry,
            {"made_on": "0001-01-01", "agency": "gp", "method": "email", "outcome": "located"},
            "made_on",
        ),
        (c.ChangeCaseStatus, {"status": "enquiries_in_progress", "changed_on": "0001-01-01"}, None),
    ],
    ids=["enquiry", "status"],
)
def test_a_case_step_before_the_child_was_born_is_refused(
    app: App, command: type[c.Command], fields: dict[str, Any], field: str | None
) -> None:
    case_id = _case(app, date(2015, 3, 1), app.today() - timedelta(days=30))
    before = app.get_case(case_id).version
    given = command.of({"actor": "staff:cw-1", "case_id": case_id, **fields})
    with pytest.raises(DateBeforeBirthError) as refused:
        if isinstance(given, c.RecordEnquiry):
            app.record_enquiry(given)
        else:
            assert isinstance(given, c.ChangeCaseStatus)
            app.change_case_status(given)
    assert refused.value.field == (field or "changed_on")
    assert "0001" not in str(refused.value)  # the rule, not the date typed
    assert app.get_case(case_id).version == before


def test_a_next_action_before_the_referral_is_refused(app: App) -> None:
    referred = app.today() - timedelta(days=30)
    case_id = _case(app, date(2015, 3, 1), referred)
    assign = {"actor": "staff:cw-1", "case_id": case_id, "officer": "staff:cw-2"}
    with pytest.raises(InvalidTransitionError) as refused:
        app.assign_officer(c.AssignOfficer.of({**assign, "next_action_due": "0001-01-01"}))
    assert refused.value.field == "next_action_due"
    app.assign_officer(c.AssignOfficer.of({**assign, "next_action_due": referred.isoformat()}))
    assert app.get_case(case_id).next_action_due == referred


def test_a_referral_before_the_child_was_born_is_refused(app: App) -> None:
    born = app.today() - timedelta(days=10)
    with pytest.raises(DateBeforeBirthError) as refused:
        _case(app, born, born - timedelta(days=1))
    assert refused.value.field == "referred_on"
