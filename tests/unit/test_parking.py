"""An event the read models cannot take in is parked; everyone else's rows keep flowing."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.persistence import StoredEvent

from cme.bootstrap import App
from consumers.projection_feed import feed, replay_parked
from crypto_shredding.mapper import cme_mapper
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild
from projections.store import SqliteReadModels
from tests.factories import in_memory_app
from tests.seeds import seed


def stored_of(app: App) -> list[StoredEvent]:
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    return [
        StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in notifications
    ]


def read_models(tmp_path: Path) -> SqliteReadModels:
    store = SqliteReadModels(str(tmp_path / "caseworker.db"))
    store.create()
    return store


def test_an_unreadable_event_is_parked_with_the_rest_of_its_aggregate(tmp_path: Path) -> None:
    county = SyntheticCounty(seed=seed("parking"))
    app = in_memory_app()
    first = app.register_child(RegisterChild.of(county.register_child()))
    second = app.register_child(RegisterChild.of(county.register_child()))
    good = stored_of(app)
    # An event the code cannot read (a class it does not know), then a later one of that child.
    bogus = StoredEvent(first, 2, "domain.child:Child.Vanished", good[0].state)
    later = StoredEvent(first, 3, good[0].topic, good[0].state)
    batch = [good[0], bogus, later, good[1]]
    store = read_models(tmp_path)
    fed = feed(cme_mapper(app.data_keys), store, batch, [1, 2, 3, 4], "test", 0)
    # The other child's row is there; the first child's later event waits behind the bad one.
    assert (fed.applied, fed.parked) == (2, 2)
    children = {row["child_id"] for row in store.rows("children")}
    assert children == {str(first), str(second)}
    parked = store.parked()
    assert [(p.originator_id, p.version) for p in parked] == [(first, 2), (first, 3)]
    assert parked[0].reason.startswith("TopicError at mapper.py")
    assert parked[1].reason == "behind_a_parked_event"
    # The position moved past them: the next batch does not meet them again.
    assert store.position("test", 0) == 4


def test_a_fix_and_a_replay_bring_parked_events_in(tmp_path: Path) -> None:
    county = SyntheticCounty(seed=seed("parking replay"))
    app = in_memory_app()
    child = app.register_child(RegisterChild.of(county.register_child()))
    stranger = in_memory_app()  # a projector pointed at the wrong key store
    store = read_models(tmp_path)
    fed = feed(cme_mapper(stranger.data_keys), store, stored_of(app), [1], "test", 0)
    assert (fed.applied, fed.parked) == (0, 1)
    assert store.rows("children") == []
    # The fix: the right key store. The replay applies and unparks it in one transaction.
    replayed = replay_parked(cme_mapper(app.data_keys), store)
    assert (replayed.applied, replayed.parked) == (1, 0)
    assert store.parked() == []
    (row,) = store.rows("children")
    assert row["child_id"] == str(child)
    assert row["legal_surname"]


def test_a_replay_that_still_fails_keeps_the_event_parked_with_its_new_reason(
    tmp_path: Path,
) -> None:
    county = SyntheticCounty(seed=seed("parking still"))
    app = in_memory_app()
    app.register_child(RegisterChild.of(county.register_child()))
    store = read_models(tmp_path)
    feed(cme_mapper(in_memory_app().data_keys), store, stored_of(app), [1], "test", 0)
    again = replay_parked(cme_mapper(in_memory_app().data_keys), store)
    assert (again.applied, again.parked) == (0, 1)
    assert len(store.parked()) == 1


def test_a_parked_aggregate_holds_its_later_events_in_later_batches_too(tmp_path: Path) -> None:
    county = SyntheticCounty(seed=seed("parking across batches"))
    app = in_memory_app()
    child = app.register_child(RegisterChild.of(county.register_child()))
    good = stored_of(app)
    store = read_models(tmp_path)
    mapper = cme_mapper(app.data_keys)
    bogus = StoredEvent(child, 2, "domain.child:Child.Vanished", good[0].state)
    feed(mapper, store, [good[0], bogus], [1, 2], "test", 0)
    # A later batch that would apply on its own must not build on the gap.
    later = StoredEvent(child, 3, good[0].topic, good[0].state)
    fed = feed(mapper, store, [later], [3], "test", 0)
    assert (fed.applied, fed.parked) == (0, 1)
    assert [(p.version, p.reason) for p in store.parked()][1] == (3, "behind_a_parked_event")
    # So a replay after the fix still finds both, in order (v2 stays unreadable here).
    assert replay_parked(mapper, store).parked == 2


def test_a_shredding_behind_a_parked_event_redacts_at_once(tmp_path: Path) -> None:
    from domain.values import ShredReason

    county = SyntheticCounty(seed=seed("redaction behind parked"))
    app = in_memory_app()
    child = app.register_child(RegisterChild.of(county.register_child()))
    mapper = cme_mapper(app.data_keys)
    store = read_models(tmp_path)
    registered = stored_of(app)
    feed(mapper, store, registered, [1], "test", 0)
    assert store.rows("children")[0]["legal_surname"]
    bogus = StoredEvent(child, 2, "domain.child:Child.Vanished", registered[0].state)
    feed(mapper, store, [bogus], [2], "test", 0)
    # The child is shredded while one of their events is parked.
    app.data_keys.destroy(child, reason="erasure_approved")
    app.record_personal_data_shredded(child, ShredReason.ERASURE_APPROVED, actor="system:test")
    shredded = [s for s in stored_of(app) if s.originator_version > 1]
    shredded = [StoredEvent(child, 3, s.topic, s.state) for s in shredded[-1:]]
    fed = feed(mapper, store, shredded, [3], "test", 0)
    assert fed.parked == 1 and fed.redacted == 1
    (row,) = store.rows("children")
    assert row["legal_surname"] is None


def test_a_message_that_is_no_stored_event_is_parked_not_fatal(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from consumers.projection_feed import UNREADABLE
    from consumers.projector import stored_from_message

    message = SimpleNamespace(topic="t", partition=0, offset=7, headers=[], value=None)
    stored = stored_from_message(message)
    assert stored.topic == UNREADABLE
    store = read_models(tmp_path)
    fed = feed(cme_mapper(in_memory_app().data_keys), store, [stored], [7], "test", 0)
    assert fed.parked == 1
    assert store.parked()[0].reason.startswith("unreadable_message")
    assert store.position("test", 0) == 7
