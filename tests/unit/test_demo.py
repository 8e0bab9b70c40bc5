"""`make demo` (embedded): the county's traffic, the caseworker view, shredding at 25."""

from __future__ import annotations

from pathlib import Path

import pytest

from cme.cli import main


def test_the_demo_shreds_on_the_25th_birthday_and_certifies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CME_MODE", raising=False)
    assert main(["demo", "--messages", "300", "--seed", "5"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "(the day before): 0 children shredded" in out
    assert "(the 25th birthday): 1 child(ren) shredded" in out
    assert "SHREDDED, signed by" in out
    assert "NOT SHREDDED" not in out
    # One disclosure through the API, on two people's word, and its ledger entries.
    assert "as staff:senior.dan (caseworker, senior officer): requested" in out
    assert "/approve as staff:senior.dan: 409 two_person_rule" in out
    assert "/approve as staff:senior.cy: made" in out
    assert '"kind":"disclosure_requested"' in out.replace(" ", "")
    made = out.replace(" ", "").split('"kind":"disclosure_made"')
    assert len(made) == 2, "one disclosure_made entry"
    assert '"approved_by":"staff:senior.cy"' in out.replace(" ", "")
