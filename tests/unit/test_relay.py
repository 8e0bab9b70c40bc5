"""The relay survives a commit whose reply was lost: its position is stored already."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from eventsourcing.persistence import Tracking

from cme.settings import load_settings
from consumers.relay import Relay
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild
from tests.factories import in_memory_app
from tests.seeds import seed


class Sent:
    def get(self, timeout: float) -> None:
        return None


class Producer:
    """Accepts every record (the broker is not what this test is about)."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def send(self, topic: str, **record: Any) -> Sent:
        self.records.append(SimpleNamespace(topic=topic, **record))
        return Sent()

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


def test_a_position_already_stored_is_not_a_crash() -> None:
    app = in_memory_app()
    app.register_child(RegisterChild.of(SyntheticCounty(seed=seed("relay")).register_child()))
    producer = Producer()
    settings = load_settings(mode="embedded")
    relay = Relay(settings, app, threading.Event(), producer=producer)
    last = app.recorder.max_notification_id() or 0
    # The commit went through but its reply was lost: the retry finds it stored.
    app.recorder.insert_tracking(Tracking(relay.name, last))  # type: ignore[attr-defined]
    assert relay.step(0) == last
    assert len(producer.records) == last
