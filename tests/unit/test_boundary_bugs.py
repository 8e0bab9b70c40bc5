"""Bugs the old shape hid: each of these failed before the boundaries were redrawn."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain.commands import RectifyChildDetails, RegisterChild
from domain.errors import DisclosureNotFoundError
from tests.intake_support import IntakeHarness
from tests.seeds import seed


def test_an_unknown_disclosure_is_reported_as_a_disclosure(app: App) -> None:
    ident = uuid4()
    with pytest.raises(DisclosureNotFoundError) as caught:
        app.get_disclosure(ident)
    assert caught.value.violations()[0].field == "disclosure_id"
    assert "Disclosure" in str(caught.value)
    assert "Child" not in str(caught.value)


def test_a_rectified_date_of_birth_in_a_rolled_back_batch_leaves_the_expiry_alone(
    app: App,
) -> None:
    county = SyntheticCounty(seed=seed("rolled back rectification"))
    child_id = app.register_child(
        RegisterChild.of(county.register_child(date_of_birth="2015-03-04"))
    )
    (before,) = app.data_keys.store.get_many([child_id]).values()
    details = app.get_child(child_id).current_details().model_dump(mode="json")
    details["date_of_birth"] = "2016-03-04"

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), app.batch():
        app.rectify_child_details(
            RectifyChildDetails.of(
                {
                    "child_id": child_id,
                    "actor": "dpo:1",
                    "details": details,
                    "confirm_destruction_date": "2041-03-04",
                }
            )
        )
        raise Abandoned
    (after,) = app.data_keys.store.get_many([child_id]).values()
    assert after.expires_on == before.expires_on == date(2040, 3, 4)
    # Committed, the same rectification moves it.
    app.rectify_child_details(
        RectifyChildDetails.of(
            {
                "child_id": child_id,
                "actor": "dpo:1",
                "details": details,
                "confirm_destruction_date": "2041-03-04",
            }
        )
    )
    (moved,) = app.data_keys.store.get_many([child_id]).values()
    assert moved.expires_on == date(2041, 3, 4)


def test_a_fault_in_a_handler_stops_intake_instead_of_quarantining_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consumers.contract import MessageType
    from consumers.intake import handlers
    from consumers.intake.service import IntakeService
    from tests.factories import in_memory_app

    harness = IntakeHarness(in_memory_app())
    assert isinstance(harness.service, IntakeService)

    def typo(*_: object) -> object:
        return {"no such key": 1}["child_id"]  # a bug, not bad input

    monkeypatch.setitem(handlers.HANDLERS, MessageType.REFERRAL, typo)
    with pytest.raises(KeyError):
        harness.run([harness.seal(harness.traffic.referral())])
    assert harness.quarantine.records == {}
