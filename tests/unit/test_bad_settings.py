"""A bad setting stops every command at start-up, naming the variable, never its value (#15).

Once, ``cme status`` accepted a garbage KEK, signing key or cron schedule and
``cme run`` failed later with a traceback; each is now refused before any
command runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cme.cli import main
from cme.settings import ConfigurationError

BAD = [
    ("CME_KEK", "garbage-kek-value"),
    ("CME_KEK", "k1:bm90IDMyIGJ5dGVz"),
    ("CME_KEK_FILE", "/nonexistent/kek-file"),
    ("CME_INDEX_KEY", "garbage-index-key"),
    ("CME_INTAKE_KEYS", "garbage-intake-keys"),
    ("CME_LEDGER_SIGNING_KEY", "garbage-signing-key"),
    ("CME_LEDGER_PUBLIC_KEY", "k1:garbage-public-key"),
    ("CME_SENDER_KEYS", "garbage-sender-keys"),
    ("CME_INTAKE_PUBLIC_KEY", "k1:garbage-public-key"),
    ("CME_SHRED_SCHEDULE", "garbage cron"),
    ("CME_DATA_DIR", "/proc/garbage-folder"),
    ("CME_API_PORT", "garbage-port"),
    ("CME_DATABASE_URL", "garbage-url"),
    ("CME_DB_URL_CASEWORKER", "garbage role url"),
    ("CME_KAFKA_BOOTSTRAP_SERVERS", "garbage servers"),
]


@pytest.mark.parametrize(("variable", "value"), BAD, ids=[f"{v}={x}" for v, x in BAD])
def test_a_bad_setting_stops_the_command_naming_the_variable(
    variable: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(variable, value)
    assert main(["status"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert variable in lines[0]
    if not variable.endswith(("_FILE", "_DIR")):  # a path is named; a value may be a secret
        assert value not in err, "the value was echoed"


def test_a_file_where_the_data_folder_belongs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path / "a-file"))
    assert main(["status"]) == 2
    assert "CME_DATA_DIR: " in capsys.readouterr().err


def test_a_failed_env_fails_the_eval_that_reads_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval "$(scripts/services env --worker intake)" && cme run intake` once started intake
    on the embedded store when env failed: the eval of nothing succeeded."""
    from devtools.services.__main__ import main as services

    monkeypatch.setenv("CME_PG_PORT", "abc")
    assert services(["env", "--worker", "intake"]) == 1
    out, err = capsys.readouterr()
    assert out == "false\n"
    assert "CME_PG_PORT: not a port number" in err


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_local_service_port_must_be_a_port(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from devtools.services import manager

    monkeypatch.setenv("CME_PG_PORT", value)
    with pytest.raises(ConfigurationError, match="CME_PG_PORT: not a port number"):
        manager.plan()


def test_a_sender_keys_file_not_yet_made_is_no_mistake_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cme senders add --generate` creates it; a check at start must not stop that command."""
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CME_SENDER_KEYS_FILE", str(tmp_path / "sender-keys"))
    assert main(["status"]) == 0


def test_status_says_whether_cme_run_runs_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The read models move only under `cme run`; status once did not say whether it ran."""
    from cme.run_marker import marked_running

    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    assert main(["status"]) == 0
    assert "workers on this machine: none - the read models change only while" in (
        capsys.readouterr().out
    )
    with marked_running(tmp_path, ["api", "retention"]):
        assert main(["status"]) == 0
        out = capsys.readouterr().out
    assert "workers on this machine: running since" in out
    assert "api, retention" in out
    assert "events stored: 0" in out
    assert not list((tmp_path / "run").iterdir()), "the marker outlived the run"
