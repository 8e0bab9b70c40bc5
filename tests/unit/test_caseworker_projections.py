"""Pure projection functions and the embedded read models built from them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from cme.bootstrap import App, build_application
from cme.settings import load_settings
from consumers.inprocess_feed import catch_up
from domain.commands import ReceiveRightsRequest
from domain.markers import Shredded
from domain.values import ShredReason
from projections.caseworker import project
from projections.changes import Add, Append, Latest, RedactChild, Upsert, When
from projections.store import SqliteReadModels
from tests.intake_support import IntakeHarness


class FakeEvent:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def test_registration_projects_current_details() -> None:
    child_id = uuid4()
    event = FakeEvent(
        originator_id=child_id,
        originator_version=1,
        timestamp=datetime(2026, 1, 2, tzinfo=UTC),
        actor="cw:1",
        source="school",
        personal={
            "legal_forenames": "Ada",
            "legal_surname": "Synthetic",
            "date_of_birth": "2015-03-04",
            "sex": "female",
            "address": {"line1": "1 Made-up Road", "town": "Ware", "postcode": "SG12 0AA"},
        },
    )
    (change,) = project("domain.child:Child.Registered", event)
    assert isinstance(change, Upsert)
    assert change.key == {"child_id": child_id}
    assert change.values["legal_surname"] == "Synthetic"
    assert change.values["address_postcode"] == "SG12 0AA"
    assert change.values["date_of_birth"] == date(2015, 3, 4)


def test_a_shredded_personal_part_writes_no_personal_value() -> None:
    child_id = uuid4()
    event = FakeEvent(
        originator_id=child_id,
        originator_version=1,
        timestamp=datetime(2026, 1, 2, tzinfo=UTC),
        actor="cw:1",
        source="school",
        personal=Shredded(child_id),
    )
    (change,) = project("domain.child:Child.Registered", event)
    assert isinstance(change, Upsert)
    assert "legal_surname" not in change.values
    assert project("domain.child:Child.AddressChanged", event) == []


def test_shredding_redacts_the_child() -> None:
    child_id = uuid4()
    event = FakeEvent(
        originator_id=child_id,
        reason="retention_reached",
        shredded_at=datetime(2040, 1, 1, tzinfo=UTC),
    )
    assert project("domain.child:Child.PersonalDataShredded", event) == [
        RedactChild(child_id, date(2040, 1, 1))
    ]


def test_an_enquiry_counts_once_and_keeps_the_latest_date() -> None:
    event = FakeEvent(
        originator_id=uuid4(),
        originator_version=3,
        child_id=uuid4(),
        actor="cw:1",
        made_on=date(2026, 5, 1),
        agency="gp",
        method="phone",
        outcome="located",
        joint_with_school=True,
        personal=None,
    )
    case_change, timeline = project("domain.case:Case.EnquiryRecorded", event)
    assert isinstance(timeline, Append)
    assert timeline.values["joint_with_school"] is True
    assert isinstance(case_change, Upsert)
    assert case_change.values["enquiries"] == Add(1)
    assert case_change.values["last_enquiry_on"] == Latest(date(2026, 5, 1))
    assert case_change.values["status"] == When("status", "referred", "enquiries_in_progress")


def test_events_no_view_needs_project_to_nothing() -> None:
    assert project("domain.upstream_message:UpstreamMessage.Accepted", FakeEvent()) == []


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[App, Path]]:
    app = build_application(load_settings(mode="embedded", data_dir=tmp_path))
    yield app, tmp_path
    app.close()


def _rows(store: SqliteReadModels) -> dict[str, list[dict[str, object]]]:
    return {
        "children": store.rows("children", "child_id"),
        "cases": store.rows("cases", "case_id"),
        "case_timeline": store.rows("case_timeline", "case_id, seq"),
    }


def test_incremental_equals_rebuilt_from_scratch(embedded: tuple[App, Path]) -> None:
    app, folder = embedded
    harness = IntakeHarness(app, seed=21)
    incremental = SqliteReadModels(str(folder / "incremental.db"))
    incremental.create()
    lines = harness.traffic.mixed(300)
    # Feed the projection in five steps while traffic arrives.
    for start in range(0, 300, 60):
        harness.run([harness.seal(line) for line in lines[start : start + 60]])
        catch_up(app, incremental, batch=37)
    rebuilt = SqliteReadModels(str(folder / "rebuilt.db"))
    rebuilt.create()
    catch_up(app, rebuilt)
    assert _rows(incremental) == _rows(rebuilt)
    assert len(_rows(rebuilt)["children"]) > 100
    # A second pass over the same log changes nothing.
    before = _rows(rebuilt)
    rebuilt.apply([], "notification-log", 0, 0)
    catch_up(app, rebuilt)
    assert _rows(rebuilt) == before


def test_shredded_and_restricted_children_in_the_views(
    embedded: tuple[App, Path],
) -> None:
    app, folder = embedded
    harness = IntakeHarness(app, seed=22)
    lines = [harness.traffic.referral(harness.traffic.new_child()) for _ in range(3)]
    harness.run([harness.seal(line) for line in lines])
    shredded, restricted, ordinary = (
        harness.app.find_child_by_sender_ref(f"{x['sender']}|{x['subject_ref']}") for x in lines
    )
    assert shredded and restricted and ordinary
    app.receive_rights_request(
        ReceiveRightsRequest.of(
            {
                "actor": "dpo:1",
                "child_id": restricted,
                "request_type": "restriction",
                "received_on": date.today(),
                "requester_name": "Synthetic Parent",
            }
        )
    )
    app.data_keys.destroy(shredded, ShredReason.RETENTION_REACHED.value)
    app.record_personal_data_shredded(shredded, ShredReason.RETENTION_REACHED, actor="job:shred")
    store = SqliteReadModels(str(folder / "views.db"))
    store.create()
    catch_up(app, store)
    children = {str(r["child_id"]): r for r in store.rows("children")}
    gone = children[str(shredded)]
    assert gone["shredded_on"] is not None
    assert all(
        gone[c] is None
        for c in ("legal_surname", "legal_forenames", "date_of_birth", "upn", "address_line1")
    )
    assert gone["open_case_id"] is not None  # the non-personal facts remain
    assert children[str(restricted)]["restricted"] == 1
    exportable = {str(r["child_id"]) for r in store.rows("children_exportable")}
    assert str(ordinary) in exportable
    assert str(restricted) not in exportable and str(shredded) not in exportable
    # The case of the shredded child keeps its facts but no referrer details.
    case = next(r for r in store.rows("cases") if str(r["child_id"]) == str(shredded))
    assert case["referrer_name"] is None and case["reason"] is not None


def test_a_granted_erasure_takes_the_child_out_of_exports_at_once() -> None:
    """It stayed in children_exportable until the retention run shredded it, up to a day."""
    event = FakeEvent(
        originator_id=uuid4(), originator_version=7, actor="staff:dpo-1", request_id=uuid4()
    )
    (change,) = project("domain.child:Child.ErasureGranted", event)
    assert isinstance(change, Upsert)
    assert change.values == {"restricted": True}
