"""A server left running from this checkout's service folder by an earlier run.

A run killed before `scripts/services down`, or a checkout removed and cloned
again at the same path, leaves a broker or Keycloak holding the port the next
`services up` needs, with credentials nobody has any more.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.services.common import stop_leftovers


def _server_from(folder: Path) -> subprocess.Popen[bytes]:
    """A stand-in server whose command line names a file in ``folder``, as the JVMs' do."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", f"{folder}/server.properties"],
        start_new_session=True,
    )


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for server in started:
        server.kill()
        server.wait()


def test_a_server_left_from_this_folder_is_stopped_and_named(
    tmp_path: Path, servers: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / ".local" / "kafka"
    leftover = _server_from(home)
    neighbour = _server_from(tmp_path / ".local" / "kafka-other")
    servers.extend([leftover, neighbour])
    time.sleep(0.2)

    reader = subprocess.Popen(
        ["sh", "-c", "sleep 120", "reader", f"{home}/server.log"], start_new_session=True
    )
    servers.append(reader)
    time.sleep(0.2)

    stopped = stop_leftovers(home, "Apache Kafka", grace=1, program=Path(sys.executable).name)

    assert stopped == [leftover.pid]
    assert leftover.wait(timeout=5) != 0
    assert neighbour.poll() is None, "a server of another folder is not touched"
    assert reader.poll() is None, "only the server's program is stopped, not a reader of its log"
    printed = capsys.readouterr().out
    assert f"stopping Apache Kafka left running from {home} by an earlier run" in printed


def test_nothing_is_stopped_when_nothing_runs_from_the_folder(tmp_path: Path) -> None:
    assert stop_leftovers(tmp_path / "kafka", "Apache Kafka") == []


def test_a_killed_server_nobody_has_reaped_is_not_running() -> None:
    """A zombie answers kill(pid, 0); `up` took it for a running broker and never restarted it."""
    from devtools.services.common import pid_alive

    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    assert pid_alive(server.pid)
    server.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not die"
        time.sleep(0.05)
    try:
        assert not pid_alive(server.pid), "a zombie was taken for a running server"
    finally:
        server.wait()
