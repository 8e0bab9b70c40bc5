"""Old stored events are upcast to the current version when read."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain.case import Case
from domain.commands import OpenCase, RecordEnquiry, RegisterChild
from tests.factories import in_memory_app


def test_a_version_1_case_opened_event_reads_as_version_2() -> None:
    app = in_memory_app()
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=8).register_child()))
    case_id = uuid4()
    # A Case.Opened written before version 2: no class_version, no assigned_officer.
    v1_state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2025-06-01T09:00:00+00:00"},
        "originator_topic": "domain.case:Case",
        "actor": "cw:legacy",
        "child_id": {"_type_": "uuid_hex", "_data_": child_id.hex},
        "source": "school",
        "reason": "lost_pupil",
        "referred_on": {"_type_": "date_iso", "_data_": "2025-06-01"},
        "personal": None,
    }
    old = StoredEvent(
        originator_id=case_id,
        originator_version=1,
        topic="domain.case:Case.Opened",
        state=json.dumps(v1_state).encode(),
    )
    app.recorder.insert_events([old])

    case = app.get_case(case_id)
    assert isinstance(case, Case)
    assert case.assigned_officer is None
    assert case.reason == "lost_pupil"
    event = next(iter(app.events.get(case_id)))
    assert event.assigned_officer is None  # type: ignore[attr-defined]


def test_new_events_are_stored_with_their_version() -> None:
    app = in_memory_app()
    case_id = _case(app, seed=9, referred_on="2026-01-01")
    stored = next(iter(app.recorder.select_events(case_id)))
    assert json.loads(stored.state)["class_version"] == 2


def test_a_version_1_enquiry_reads_as_not_joint_with_the_school() -> None:
    """Version 2 of Case.EnquiryRecorded says whether the school took part (#14)."""
    app = in_memory_app()
    case_id = _case(app, seed=10, referred_on="2025-06-01")
    child_id = app.get_case(case_id).child_id
    v1_state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2025-06-02T09:00:00+00:00"},
        "originator_topic": "domain.case:Case",
        "actor": "cw:legacy",
        "child_id": {"_type_": "uuid_hex", "_data_": child_id.hex},
        "enquiry_id": {"_type_": "uuid_hex", "_data_": uuid4().hex},
        "made_on": {"_type_": "date_iso", "_data_": "2025-06-02"},
        "agency": "gp",
        "method": "phone",
        "outcome": "no_response",
        "personal": None,
    }
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=case_id,
                originator_version=2,
                topic="domain.case:Case.EnquiryRecorded",
                state=json.dumps(v1_state).encode(),
            )
        ]
    )
    case = app.get_case(case_id)
    assert [e.joint_with_school for e in case.enquiries] == [False]
    app.record_enquiry(
        RecordEnquiry.of(
            {
                "actor": "cw:1",
                "case_id": case_id,
                "made_on": "2025-06-03",
                "agency": "school",
                "method": "home_visit",
                "outcome": "located",
                "joint_with_school": True,
            }
        )
    )
    assert [e.joint_with_school for e in app.get_case(case_id).enquiries] == [False, True]


def _case(app: App, seed: int, referred_on: str) -> UUID:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=seed).register_child()))
    return app.open_case(
        OpenCase.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "source": "school",
                "reason": "other",
                "referred_on": referred_on,
            }
        )
    )
