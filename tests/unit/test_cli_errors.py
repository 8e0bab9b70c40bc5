"""A mistaken id on the command line: one line on stderr, exit 2, nothing echoed (#15).

The text typed where an id belongs may be a person's name; it is never
repeated, and no command gets as far as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from cme.cli import main

TYPED = "Jane Quillfeather"  # what someone typed instead of an id
ACTOR = ["--actor", "staff:dpo-1"]
COMMANDS = [
    ["audit", "history", TYPED, *ACTOR, "--why", "statutory_audit"],
    [
        "audit",
        "replay",
        TYPED,
        "--as-of",
        "2026-11-30T00:00:00+00:00",
        *ACTOR,
        "--why",
        "statutory_audit",
    ],
    ["shred", "verify", TYPED],
    ["rights", "access", TYPED, *ACTOR],
    [
        "rights",
        "receive",
        TYPED,
        "--type",
        "access",
        "--requester-name",
        "Synthetic Parent",
        *ACTOR,
    ],
    ["rights", "rectify", TYPED, "--set", "preferred_name=Sam", *ACTOR],
    [
        "rights",
        "rectify",
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "--set",
        "preferred_name=Sam",
        "--request-id",
        TYPED,
        *ACTOR,
    ],
    ["rights", "lift-restriction", TYPED, *ACTOR],
    ["rights", "decide", TYPED, "--decision", "fulfilled", *ACTOR],
    ["rights", "verify-identity", TYPED, *ACTOR],
    ["rights", "stop-clock", TYPED, "--reason", "awaiting_identity", *ACTOR],
    ["rights", "resume-clock", TYPED, *ACTOR],
    ["rights", "extend", TYPED, "--months", "1", "--reason", "Complex request", *ACTOR],
    ["rights", "close", TYPED, *ACTOR],
    ["caseworker", "child", TYPED],
]


@pytest.fixture(autouse=True)
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_mistaken_id_is_one_line_and_never_echoed(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "not an id" in lines[0]
    assert "Quillfeather" not in err


AN_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
DATES = [
    (["shred", "due", "--today", "2026-02-30"], "not a date"),
    (["rights", "overdue", "--today", "yesterday"], "not a date"),
    (["rights", "close", AN_ID, "--on", "30/11/2026", *ACTOR], "not a date"),
    (
        [
            "audit",
            "replay",
            AN_ID,
            "--as-of",
            "2026-11-30T00:00:00",
            *ACTOR,
            "--why",
            "statutory_audit",
        ],
        "no UTC offset",
    ),
    (["audit", "export", "--from", "last tuesday", "--out", "ledger.jsonl"], "not a moment"),
]


@pytest.mark.parametrize(
    ("command", "says"), DATES, ids=lambda c: " ".join(c[:2]) if isinstance(c, list) else c
)
def test_a_mistaken_date_is_one_line(
    command: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Impossible dates and other formats, once a traceback (or PostgreSQL's error)."""
    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert says in lines[0]


def registered_child(seed: int) -> UUID:
    """A synthetic child in this test's embedded store, as the CLI will find it."""
    from cme.bootstrap import build_application
    from cme.settings import load_settings
    from devtools.synthetic import SyntheticCounty
    from domain.commands import RegisterChild

    app = build_application(load_settings())
    try:
        return app.register_child(RegisterChild.of(SyntheticCounty(seed=seed).register_child()))
    finally:
        app.close()


def test_exports_are_owner_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A subject access package and a replayed read model hold personal data: mode 0600."""
    child = registered_child(seed=3)
    out = tmp_path / "sar"
    out.mkdir()
    assert main(["rights", "access", str(child), *ACTOR, "--out", str(out)]) == 0
    replayed = tmp_path / "replay.db"
    as_of = "2099-01-01T00:00:00+00:00"
    replay = ["audit", "replay", "--as-of", as_of, "--projections", str(replayed)]
    assert main([*replay, *ACTOR, "--why", "statutory_audit"]) == 0
    written = [*out.iterdir(), replayed]
    assert len(written) == 3
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o600, path.name
    # A second export into the same folder is refused before anything is read.
    capsys.readouterr()
    assert main(["rights", "access", str(child), *ACTOR, "--out", str(out)]) == 1
    assert "nothing is overwritten" in capsys.readouterr().err


def test_a_subject_access_package_without_out_goes_to_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the current folder: in a checkout, that is one `git add .` from a commit."""
    from cme.settings import load_settings

    child = registered_child(seed=4)
    here = tmp_path / "checkout"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["rights", "access", str(child), *ACTOR]) == 0
    assert not list(here.iterdir())
    exports = load_settings().data_dir / "exports"
    assert exports.stat().st_mode & 0o777 == 0o700
    assert sorted(p.suffix for p in exports.iterdir()) == [".json", ".md"]


def test_a_correction_without_a_field_name_is_refused_without_its_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["rights", "rectify", AN_ID, "--set", "legal_surname:Quillfeather", *ACTOR])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "needs FIELD=VALUE" in err
    assert "Quillfeather" not in err


@pytest.mark.parametrize("actor", ["", "Jane Quillfeather", "x" * 81])
@pytest.mark.parametrize(
    "command",
    [
        ["audit", "history", AN_ID, "--why", "statutory_audit"],
        ["rights", "close", AN_ID],
        ["senders", "revoke", "school-mis:117001", "--reason", "Replaced system"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_an_actor_must_be_an_actor_id(
    command: list[str], actor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty actor was once accepted by audit history and recorded in the ledger."""
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--actor", actor])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "not an actor id" in err
    assert "Quillfeather" not in err


def test_audit_replay_prints_the_state_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed Python's text: datetime.date(...), <Sex.FEMALE: 'female'>, _pending_events."""
    import json
    from datetime import date

    from cme.bootstrap import build_application
    from cme.settings import load_settings
    from devtools.synthetic import SyntheticCounty
    from domain.commands import NotifyReducedTimetable, RecordSchoolRegistration, RegisterChild

    app = build_application(load_settings())
    try:
        child = app.register_child(RegisterChild.of(SyntheticCounty(seed=5).register_child()))
        app.record_school_registration(
            RecordSchoolRegistration.of(
                {
                    "actor": "mis:1",
                    "child_id": child,
                    "school_urn": "123456",
                    "on_roll_from": "2025-09-01",
                }
            )
        )
        app.notify_reduced_timetable(
            NotifyReducedTimetable.of(
                {
                    "actor": "mis:1",
                    "child_id": child,
                    "school_urn": "123456",
                    "hours_per_week": "12.5",
                    "starts_on": "2025-10-01",
                    "review_on": "2025-11-01",
                }
            )
        )
    finally:
        app.close()
    now = f"{date.today().isoformat()}T23:59:59+00:00"
    replay = ["audit", "replay", str(child), "--as-of", now, *ACTOR, "--why", "statutory_audit"]
    assert main(replay) == 0
    out = capsys.readouterr().out
    state = json.loads(out)
    assert state["details"]["sex"] in {"female", "male"}
    assert "_pending_events" not in out and "datetime." not in out and "<" not in out
    # An id and --projections together: it once wrote every read model and ignored the id.
    assert main([*replay, "--projections", str(tmp_path / "x.db")]) == 2
    assert "not both" in capsys.readouterr().err


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`cme ... | head` once ended in a BrokenPipeError traceback."""
    import os

    from tests.cli import run_cme

    reader, writer = os.pipe()
    os.close(reader)  # the reader (head) has already gone
    try:
        result = run_cme(["status"], tmp_path, stdout=writer)
    finally:
        os.close(writer)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 141


def test_a_worker_named_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`cme run intake intake` started two intake workers in one process."""
    assert main(["run", "intake", "intake"]) == 2
    assert "a worker is named twice" in capsys.readouterr().err
