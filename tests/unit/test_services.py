"""`scripts/services up` around a broker that will not let its admin in.

The broker's side (is the admin refused?) is tested on the real broker in
tests/integration/test_kafka_broker.py; here, what `up` does with the answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.services.common import ServiceError
from devtools.services.kafka import LocalKafka


class ScriptedBroker(LocalKafka):
    """A broker whose starts succeed and whose admin is let in by a script of answers."""

    def __init__(self, home: Path, answers: list[bool]) -> None:
        super().__init__(home, 1, home / "kafka-passwords.json")
        self.home.mkdir(parents=True)
        self.answers = answers
        self.events: list[str] = []

    def _start(self) -> bool:
        self.events.append("start")
        return True

    def down(self) -> bool:
        self.events.append("stop")
        return True

    def pid(self) -> int | None:
        return None

    def admin_signs_in(self, within: float) -> bool:
        return self.answers.pop(0)


def test_a_broker_that_lets_the_admin_in_is_started_once(tmp_path: Path) -> None:
    broker = ScriptedBroker(tmp_path, [True])
    assert broker.up() is True
    assert broker.events == ["start"]
    assert not (broker.home / "refusals.log").exists()


def test_a_refusing_broker_is_restarted_once_and_the_case_is_kept(tmp_path: Path) -> None:
    broker = ScriptedBroker(tmp_path, [False, True])
    assert broker.up() is True
    assert broker.events == ["start", "stop", "start"]
    assert "a restart recovered it" in (broker.home / "refusals.log").read_text()


def test_a_broker_refusing_after_its_restart_names_the_way_out(tmp_path: Path) -> None:
    broker = ScriptedBroker(tmp_path, [False, False])
    with pytest.raises(ServiceError) as refused:
        broker.up()
    assert broker.events == ["start", "stop", "start"]
    assert f"rm -r {broker.home} && scripts/services up" in str(refused.value)
    assert "a restart did not recover it" in (broker.home / "refusals.log").read_text()
