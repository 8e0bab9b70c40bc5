"""An event the read models cannot take in is parked; everyone else's rows keep flowing."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.persistence import StoredEvent

from cme.synthetic import SyntheticCounty
from consumers.projection_feed import feed, replay_parked
from domain.application import CMEApplication, cme_mapper
from projections.store import SqliteReadModels
from tests.factories import in_memory_app
from tests.seeds import seed


def stored_of(app: CMEApplication) -> list[StoredEvent]:
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
    first = app.register_child(county.register_child())
    second = app.register_child(county.register_child())
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
    child = app.register_child(county.register_child())
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
    app.register_child(county.register_child())
    store = read_models(tmp_path)
    feed(cme_mapper(in_memory_app().data_keys), store, stored_of(app), [1], "test", 0)
    again = replay_parked(cme_mapper(in_memory_app().data_keys), store)
    assert (again.applied, again.parked) == (0, 1)
    assert len(store.parked()) == 1
