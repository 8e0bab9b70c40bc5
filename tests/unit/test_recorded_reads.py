"""A read of a child's record goes to the child's access log, replaying neither it nor the child."""

from __future__ import annotations

from uuid import uuid4

import pytest

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from domain.access_log import AccessLog
from domain.errors import ChildNotFoundError


def test_a_read_is_recorded_without_loading_the_child(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the child, each read made every later load of the child replay it (24 ms after 2,000)."""
    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=8).register_child()))
    version = app.get_child(child_id).version

    def no_replay(*_: object, **__: object) -> None:
        raise AssertionError("an aggregate was replayed to record a read")

    monkeypatch.setattr(app.repository, "get", no_replay)
    for actor in ("staff:cw-1", "staff:cw-2", "staff:cw-1"):
        app.record_personal_data_read(child_id, actor=actor, purpose="caseworker record")
    monkeypatch.undo()
    assert app.get_child(child_id).version == version  # the child is not touched
    reads = app.reads_of(child_id)
    assert [(e.actor, e.purpose) for e in reads] == [
        ("staff:cw-1", "caseworker record"),
        ("staff:cw-2", "caseworker record"),
        ("staff:cw-1", "caseworker record"),
    ]
    assert {e.child_id for e in reads} == {child_id}  # type: ignore[union-attr]
    log: object = app.repository.get(AccessLog.create_id(child_id))
    assert isinstance(log, AccessLog) and log.version == 4  # started, then three reads


def test_reads_in_one_batch_go_to_one_log(app: App) -> None:
    """A replay records a read of every child it opened in one batch; twice is two reads."""
    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=10).register_child()))
    with app.batch():
        app.record_personal_data_read(child_id, actor="staff:auditor", purpose="statutory_audit")
        app.record_personal_data_read(child_id, actor="staff:auditor", purpose="statutory_audit")
    assert len(app.reads_of(child_id)) == 2


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
