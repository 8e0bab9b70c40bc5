"""How long a Kafka client made by a command waits to bootstrap, beside one made by a worker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cme.cli import LONG_RUNNING, build_parser
from cme.settings import load_settings
from consumers import kafka_io
from consumers.config import KafkaRole


@pytest.fixture
def listening() -> Iterator[str]:
    """Something that accepts a connection, so the fast reachability check passes."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"127.0.0.1:{server.getsockname()[1]}"


def test_a_command_gives_up_bootstrapping_in_seconds_and_a_worker_keeps_waiting(
    listening: str, tmp_path: Path
) -> None:
    """A wrong password looks like a slow broker to kafka-python: a command waited 31 s."""
    settings = load_settings(
        data_dir=tmp_path, kafka_bootstrap_servers=listening, kafka_passwords_file=None
    )
    assert "bootstrap_timeout_ms" not in kafka_io.connection(settings, KafkaRole.OPERATOR)
    with kafka_io.a_person_waits():
        options = kafka_io.connection(settings, KafkaRole.OPERATOR)
    assert options["bootstrap_timeout_ms"] == kafka_io.COMMAND["bootstrap_timeout_ms"] <= 10_000
    assert "bootstrap_timeout_ms" not in kafka_io.connection(settings, KafkaRole.OPERATOR)


def test_the_long_waits_name_real_commands() -> None:
    """A renamed command would otherwise drop out of the exemption unnoticed."""
    import argparse

    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(LONG_RUNNING) <= set(top.choices)
