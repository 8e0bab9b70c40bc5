"""A command whose service is down says so in one line, in seconds, with what to do."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from cme.settings import PROJECT_ROOT
from tests import cli


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_publish_with_the_broker_down_fails_fast_with_one_line(tmp_path: Path) -> None:
    lines = (PROJECT_ROOT / "examples" / "upstream" / "all-types.jsonl").read_text()
    file = tmp_path / "messages.jsonl"
    file.write_text(lines.splitlines()[0] + "\n")
    result = run_cme(
        ["publish", str(file)],
        tmp_path,
        CME_MODE="embedded",
        CME_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}",
    )
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("cannot reach Kafka at 127.0.0.1:"), errors[0]
    assert "scripts/services up" in errors[0]
    assert "Traceback" not in result.stderr


def run_cme(args: list[str], tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    settings = {"CME_MODE": "services", **settings}
    mode = settings.pop("CME_MODE")
    return cli.run_cme(
        args, tmp_path, mode, timeout=20, env=cli.cme_env(tmp_path, mode, **settings)
    )


def test_a_consumer_command_with_the_broker_down_fails_fast(tmp_path: Path) -> None:
    """`quarantine list` once waited 31 s for KafkaTimeoutError."""
    result = run_cme(
        ["quarantine", "list"],
        tmp_path,
        CME_DATABASE_URL=f"postgresql://cme:pw@127.0.0.1:{closed_port()}/cme",
        CME_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}",
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("cannot reach Kafka at 127.0.0.1:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_stopped_or_unknown_database_is_named_in_one_line(tmp_path: Path) -> None:
    """Each once a PoolTimeout after 16 s, saying neither where nor why."""
    cases = {
        f"postgresql://cme_caseworker:pw@127.0.0.1:{closed_port()}/cme": "nothing answers as",
        "postgresql://cme_caseworker:pw@no-such-host.invalid:5432/cme": "unknown host",
    }
    for url, says in cases.items():
        result = run_cme(["caseworker", "open-cases"], tmp_path, CME_DB_URL_CASEWORKER=url)
        assert result.returncode == 3, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert says in lines[0], lines[0]
        assert "pw" not in lines[0].replace("passwords", ""), "a password was echoed"


def test_the_admins_refused_password_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cme db setup` connects as the admin directly; a wrong password said 'cannot reach'."""
    import psycopg

    from cme.cli import _one_line

    monkeypatch.setenv("CME_DATABASE_URL", "postgresql://cme:wrong-secret@127.0.0.1:54329/cme")
    refused = psycopg.OperationalError(
        'connection failed: FATAL:  password authentication failed for user "cme"'
    )
    said = _one_line(refused)
    assert said is not None
    line, code = said
    assert code == 3
    assert line.startswith("PostgreSQL at 127.0.0.1:54329 refused the password of role cme")
    assert "wrong-secret" not in line


def test_status_with_the_services_down_says_so_and_exits_1(tmp_path: Path) -> None:
    """It exited 0 with both down, so a script waiting on it could not tell."""
    result = run_cme(
        ["status"],
        tmp_path,
        CME_DB_URL_WRITER=f"postgresql://cme_writer:pw@127.0.0.1:{closed_port()}/cme",
        CME_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "database: 127.0.0.1:" in result.stdout
    assert "no broker answers" in result.stdout
    assert "Traceback" not in result.stderr
