"""The API on a busy port: one line naming the setting, before anything else starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cme.runtime import start_workers
from cme.settings import PROJECT_ROOT, ConfigurationError, load_settings


def test_cme_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
        env |= {"CME_MODE": "embedded", "CME_DATA_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "cme.cli", "serve", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"configuration error: cannot serve the API on 127.0.0.1:{port} (Address already in "
        "use): another program has that port; choose a free one with CME_API_PORT (cme run) "
        "or --port (cme serve)"
    ]
    assert "serving" not in result.stdout


def test_cme_run_api_on_a_busy_port_starts_no_worker(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = load_settings(
            mode="embedded", data_dir=tmp_path, api_port=taken.getsockname()[1]
        )
        before = threading.active_count()
        with pytest.raises(ConfigurationError, match="CME_API_PORT"):
            start_workers(settings, ["retention", "api"], threading.Event())
        assert threading.active_count() == before


def test_the_listener_names_tcp_so_asyncio_turns_nagle_off() -> None:
    """With protocol 0, asyncio leaves Nagle on and each answer waits ~40 ms for an ACK."""
    from cme.api.serving import bind

    listener = bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def test_cme_run_serves_the_api_in_the_embedded_mode_too(tmp_path: Path) -> None:
    import json
    import signal
    import time
    import urllib.request

    from cme import dev_issuer

    # Issued first: it makes the development key the server then reads (no race to make it).
    token = dev_issuer.issue(load_settings(mode="embedded", data_dir=tmp_path), "caseworker", "o-1")
    log = tmp_path / "run.log"
    for _ in range(3):  # a port found free may be another client's by the time it is bound
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
        env |= {"CME_MODE": "embedded", "CME_DATA_DIR": str(tmp_path), "CME_API_PORT": str(port)}
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "cme.cli", "run"],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/cases", headers={"Authorization": f"Bearer {token}"}
        )
        served = False
        try:
            deadline = time.monotonic() + 60
            while worker.poll() is None:
                try:
                    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                        assert answer.status == 200
                        assert json.loads(answer.read())["total"] == 0
                    served = True
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"no API in 60 s: {log.read_text()}"
                    time.sleep(0.3)
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=60)
        if "cannot serve the API" in log.read_text():
            continue  # the port went to someone else first: another one
        assert served, f"cme run ended without serving: {log.read_text()}"
        assert code == 0, log.read_text()
        return
    raise AssertionError(f"three ports taken in a row: {log.read_text()}")


def test_several_serving_processes_are_for_the_services_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The embedded store is one file caught up inside the one serving process."""
    from cme.cli import main

    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    assert main(["serve", "--port", "8089", "--processes", "2"]) == 2
    assert "--processes is for the services mode" in capsys.readouterr().err
