"""A mistaken id on the command line: one line on stderr, exit 2, nothing echoed (#15).

The text typed where an id belongs may be a person's name; it is never
repeated, and no command gets as far as a traceback.
"""

from __future__ import annotations

from pathlib import Path

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
