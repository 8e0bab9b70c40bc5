"""Rules of the Child aggregate, without any store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from devtools.synthetic import SyntheticCounty
from domain.child import Child
from domain.errors import ChildShreddedError, LegalHoldError, RestrictionError, RollError
from domain.markers import Shredded
from domain.personal import Address, ChildDetails
from domain.values import DeletionGround


def registered_child() -> Child:
    county = SyntheticCounty(seed=1)
    details = ChildDetails.model_validate(county.child_details())
    return Child(actor="cw:1", personal=details.model_dump(mode="json"), source="school")


def test_registration_keeps_details_and_starts_unrestricted() -> None:
    child = registered_child()
    assert isinstance(child.details, ChildDetails)
    assert not child.is_restricted
    assert not child.is_shredded
    assert child.current_school() is None


def test_school_roll_history() -> None:
    child = registered_child()
    # Join a school, then leave it with a regulation 9 ground.
    child.register_at_school(actor="mis:1", school_urn="123456", on_roll_from=date(2022, 9, 1))
    assert child.current_school() == "123456"
    child.remove_from_roll(
        actor="mis:1",
        school_urn="123456",
        removed_on=date(2024, 3, 1),
        deletion_ground=DeletionGround.MOVED_AWAY.value,
    )
    assert child.current_school() is None
    assert child.schools[-1].deletion_ground is DeletionGround.MOVED_AWAY


def test_cannot_leave_a_roll_before_joining_it() -> None:
    child = registered_child()
    child.register_at_school(actor="mis:1", school_urn="123456", on_roll_from=date(2023, 9, 1))
    with pytest.raises(RollError) as caught:
        child.remove_from_roll(
            actor="mis:1",
            school_urn="123456",
            removed_on=date(2023, 1, 1),
            deletion_ground="moved_away",
        )
    assert caught.value.field == "removed_on"
    # The rejected event was not recorded.
    assert child.current_school() == "123456"


def test_cannot_join_the_same_school_twice() -> None:
    child = registered_child()
    child.register_at_school(actor="mis:1", school_urn="123456", on_roll_from=date(2023, 9, 1))
    with pytest.raises(RollError):
        child.register_at_school(actor="mis:1", school_urn="123456", on_roll_from=date(2023, 9, 2))


def test_unknown_deletion_ground_is_rejected() -> None:
    child = registered_child()
    with pytest.raises(ValueError, match="DeletionGround"):
        child.remove_from_roll(
            actor="mis:1", school_urn="123456", removed_on=date(2024, 1, 1), deletion_ground="z"
        )


def test_rectification_reports_changed_field_names_only() -> None:
    child = registered_child()
    corrected = child.current_details().model_copy(update={"legal_surname": "Corrected"})
    changed = child.rectify("cw:2", corrected, request_id=None)
    assert changed == ["legal_surname"]
    assert child.current_details().legal_surname == "Corrected"
    # Rectifying to the same values records nothing.
    before = child.version
    assert child.rectify("cw:2", corrected, request_id=None) == []
    assert child.version == before


def test_restriction_and_lifting() -> None:
    child = registered_child()
    request_id = uuid4()
    child.restrict_processing(actor="dpo:1", request_id=request_id)
    assert child.is_restricted and child.restricted_by == request_id
    child.lift_restriction(actor="dpo:1", request_id=request_id)
    assert not child.is_restricted
    with pytest.raises(RestrictionError):
        child.lift_restriction(actor="dpo:1", request_id=request_id)


def test_legal_hold_blocks_shredding_until_released() -> None:
    child = registered_child()
    hold = uuid4()
    child.place_legal_hold("legal:1", hold, "Inquiry order suspends destruction", "Inquiry 2026/1")
    with pytest.raises(LegalHoldError):
        child.record_shredded(
            actor="job", reason="retention_reached", shredded_at=datetime.now(UTC)
        )
    child.release_legal_hold(actor="legal:1", hold_id=hold)
    child.record_shredded(actor="job", reason="retention_reached", shredded_at=datetime.now(UTC))
    assert child.is_shredded
    assert isinstance(child.details, Shredded)


def test_releasing_an_unknown_hold_fails() -> None:
    child = registered_child()
    with pytest.raises(LegalHoldError):
        child.release_legal_hold(actor="legal:1", hold_id=uuid4())


def test_no_personal_data_after_shredding() -> None:
    child = registered_child()
    child.record_shredded(actor="job", reason="erasure_approved", shredded_at=datetime.now(UTC))
    with pytest.raises(ChildShreddedError):
        child.change_address("cw:1", child_address(), date(2025, 1, 1), "housing")
    with pytest.raises(ChildShreddedError):
        child.current_details()


def child_address() -> Address:

    return Address(line1="2 Synthetic Close", town="Ware", postcode="SG12 9XX")


def test_retention_until_25th_birthday_handles_leap_day() -> None:
    details = ChildDetails(
        legal_forenames="Leap", legal_surname="Dayling", date_of_birth=date(2012, 2, 29), sex="male"
    )
    assert details.retention_until() == date(2037, 2, 28)
