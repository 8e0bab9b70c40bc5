"""A read of a child's record is recorded after the child's last event, without replaying it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from domain.child import Child
from domain.errors import ChildNotFoundError


def test_a_read_is_recorded_without_loading_the_child(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the child made each read cost every earlier read: 27 ms after 2,000."""
    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=8).register_child()))
    version = app.get_child(child_id).version

    def no_replay(*_: object, **__: object) -> None:
        raise AssertionError("the child was replayed to record a read")

    monkeypatch.setattr(app.repository, "get", no_replay)
    for _ in range(3):
        app.record_personal_data_read(child_id, actor="staff:cw-1", purpose="caseworker record")
    monkeypatch.undo()
    child = app.get_child(child_id)
    assert child.version == version + 3
    reads = [e for e in app.events.get(child_id) if isinstance(e, Child.PersonalDataRead)]
    assert [(e.actor, e.purpose) for e in reads] == [("staff:cw-1", "caseworker record")] * 3
    # The child is whole after the reads: its details and its next change are unaffected.
    assert child.current_details().legal_surname


def test_a_read_of_no_child_is_refused(app: App) -> None:
    """Neither an unknown id nor another aggregate's (a case) takes a child's read."""
    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=9).register_child()))
    case_id = app.open_case(
        c.OpenCase.of(
            {
                "actor": "staff:cw-1",
                "child_id": child_id,
                "source": "school",
                "reason": "never_registered",
                "referred_on": app.today().isoformat(),
            }
        )
    )
    for ident in (uuid4(), case_id):
        with pytest.raises(ChildNotFoundError):
            app.record_personal_data_read(ident, actor="staff:cw-1", purpose="caseworker record")
