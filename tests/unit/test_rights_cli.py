"""`cme rights ...` end to end on the embedded stores: what a DPO types, and its errors."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from cme.bootstrap import build_application
from cme.cli import main
from cme.settings import load_settings
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild


@pytest.fixture
def child_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> UUID:
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    app = build_application(load_settings())
    try:
        return app.register_child(RegisterChild.of(SyntheticCounty(seed=41).register_child()))
    finally:
        app.close()


def _receive_erasure(child_id: UUID, capsys: pytest.CaptureFixture[str]) -> str:
    command = ["rights", "receive", str(child_id), "--type", "erasure"]
    assert main([*command, "--requester-name", "Synthetic Parent", "--actor", "dpo:1"]) == 0
    return capsys.readouterr().out.split()[1]


def test_an_erasure_request_received_verified_and_fulfilled_shreds_the_child(
    child_id: UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = _receive_erasure(child_id, capsys)
    assert main(["rights", "verify-identity", request_id, "--actor", "dpo:1"]) == 0
    assert "verify-identity recorded; now due" in capsys.readouterr().out
    assert (
        main(["rights", "decide", request_id, "--decision", "fulfilled", "--actor", "dpo:1"]) == 0
    )
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["shredded"] is True
    app = build_application(load_settings())
    try:
        assert app.get_child(child_id).is_shredded
    finally:
        app.close()


def test_a_refusal_without_an_explanation_is_refused_by_rule(
    child_id: UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = _receive_erasure(child_id, capsys)
    assert main(["rights", "decide", request_id, "--decision", "refused", "--actor", "dpo:1"]) == 1
    err = capsys.readouterr().err
    assert "refused (invalid_command)" in err and "must explain why" in err


def test_rectify_prints_field_names_and_never_the_values(
    child_id: UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "rights",
                "rectify",
                str(child_id),
                "--set",
                "legal_surname=Zyxwvut",
                "--actor",
                "dpo:1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert json.loads(out)["changed"] == ["legal_surname"]
    assert "Zyxwvut" not in out
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal: exit 2
        main(["rights", "rectify", str(child_id), "--set", "surname=Zyxwvut", "--actor", "dpo:1"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "no such detail surname" in err and "Zyxwvut" not in err
    doubled = ["--set", "legal_surname=A", "--set", "legal_surname=B"]
    assert main(["rights", "rectify", str(child_id), *doubled, "--actor", "dpo:1"]) == 2
    assert "names one detail twice" in capsys.readouterr().err
    typed = ["--set", "Jane Quillfeather=x", "--actor", "dpo:1"]
    with pytest.raises(SystemExit):
        main(["rights", "rectify", str(child_id), *typed])
    err = capsys.readouterr().err
    assert "no such detail (not repeated)" in err and "Quillfeather" not in err


def test_clock_steps_print_the_new_due_date(
    child_id: UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    """stop-clock, resume-clock and extend once said only 'recorded'."""
    from datetime import date, timedelta

    request_id = _receive_erasure(child_id, capsys)
    today = date.today()
    stop = ["rights", "stop-clock", request_id, "--reason", "awaiting_identity"]
    assert main([*stop, "--on", today.isoformat(), "--actor", "dpo:1"]) == 0
    assert capsys.readouterr().out.strip().endswith("stop-clock recorded; the clock is stopped")
    assert main(["rights", "resume-clock", request_id, "--actor", "dpo:1"]) == 0
    resumed = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    assert date.fromisoformat(resumed) >= today + timedelta(days=28)
    extend = ["rights", "extend", request_id, "--months", "2", "--reason", "Complex request"]
    assert main([*extend, "--actor", "dpo:1"]) == 0
    extended = date.fromisoformat(capsys.readouterr().out.strip().rsplit(" ", 1)[1])
    assert extended >= date.fromisoformat(resumed) + timedelta(days=58)
