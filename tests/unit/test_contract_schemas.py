"""The checked-in JSON Schemas are exactly what the pydantic models say."""

from __future__ import annotations

from pathlib import Path

import pytest

from cme.cli.intake import SCHEMA_DIR, export_schemas


def test_checked_in_schemas_match_the_models(tmp_path: Path) -> None:
    fresh = {p.name: p.read_text() for p in export_schemas(tmp_path)}
    checked_in = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    stale = sorted(n for n in fresh.keys() | checked_in.keys() if fresh.get(n) != checked_in.get(n))
    assert not stale, f"run `cme schemas export` and commit: {stale}"


def test_every_payload_has_a_schema_with_its_fields() -> None:
    import json

    removal = json.loads((SCHEMA_DIR / "removal_from_roll.v1.json").read_text())
    assert {"child", "school_urn", "removed_on", "deletion_ground"} <= set(removal["required"])
    envelope = json.loads((SCHEMA_DIR / "envelope.json").read_text())
    assert "subject_ref" in envelope["required"]


def test_export_replaces_an_earlier_export_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder holding anything else is refused: the export would write over it unasked."""
    from cme.cli import main

    assert main(["schemas", "export", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert main(["schemas", "export", str(tmp_path)]) == 0
    again = capsys.readouterr().out
    count = len(list(tmp_path.iterdir()))
    assert f"wrote {count} JSON Schemas" in first and "(0 replaced)" in first
    assert f"({count} replaced)" in again
    kept = tmp_path / "notes.txt"
    kept.write_text("mine")
    assert main(["schemas", "export", str(tmp_path)]) == 1
    assert "holds 1 file(s) this export does not write" in capsys.readouterr().err
    assert kept.read_text() == "mine"
