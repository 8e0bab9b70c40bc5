"""A read of a child's record goes to the child's access log, replaying neither it nor the child."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from domain.access_log import AccessLog
from domain.errors import ChildNotFoundError
from domain.personal import ChildDetails


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


def test_a_key_destroyed_by_another_process_opens_nothing_here_though_cached(app: App) -> None:
    """The API's cached key showed a shredded child's necessity statement for up to 60 s."""
    from tests.factories import nurse_disclosure

    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=11).register_child()))
    asked = app.request_disclosure(
        c.RequestDisclosure.of(nurse_disclosure(child_id, actor="staff:cw-1"))
    )
    shown = app.read_disclosure(asked.disclosure_id, "staff:senior-1")
    assert shown.necessity is not None  # readable, and the key is now in this process's cache
    assert len(app.reads_of(child_id)) == 1
    # Another process destroys the key: the store forgets it, this cache does not.
    app.data_keys.store.destroy([child_id], datetime.now(UTC), "retention_reached")
    assert child_id in app.data_keys._cache, "the test needs the key still cached"
    assert app.read_disclosure(asked.disclosure_id, "staff:senior-1").necessity is None
    assert len(app.reads_of(child_id)) == 1  # nothing was opened: no read recorded


@pytest.mark.parametrize("reader", ["history", "replay"])
def test_an_auditor_sees_nothing_of_a_key_destroyed_by_another_process(
    app: App, reader: str
) -> None:
    from application.audit import history, replay

    def opened(child_id: UUID) -> bool:
        if reader == "history":
            rows = history(app, child_id, "staff:auditor-1", "statutory_audit")
            return "legal_surname" in json.dumps(rows[0]["personal_data"])
        then = replay(app, child_id, datetime.now(UTC), "staff:auditor-1", "statutory_audit")
        return isinstance(then.details, ChildDetails)

    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=12).register_child()))
    assert opened(child_id)
    app.data_keys.store.destroy([child_id], datetime.now(UTC), "retention_reached")
    assert child_id in app.data_keys._cache, "the test needs the key still cached"
    assert not opened(child_id)


def test_a_read_that_collides_with_another_process_is_appended_after_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two API processes reading one child at once: the second's append lost, and was a 500."""
    child_id = app.register_child(c.RegisterChild.of(SyntheticCounty(seed=13).register_child()))
    app.record_personal_data_read(child_id, actor="staff:cw-1", purpose="caseworker record")
    seen: list[int] = []
    real = AccessLog.as_last_recorded

    def stale_first(child: UUID, version: int) -> AccessLog:
        seen.append(version)  # the first attempt is one read behind, as if raced
        return real(child, version - 1 if len(seen) == 1 else version)

    monkeypatch.setattr(AccessLog, "as_last_recorded", stale_first)
    app.record_personal_data_read(child_id, actor="staff:cw-2", purpose="caseworker record")
    assert len(seen) == 2  # retried once
    assert [e.actor for e in app.reads_of(child_id)] == ["staff:cw-1", "staff:cw-2"]
