"""An auditor's slip with the anchor file gets one line naming the file, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli import run_cme


def verify_with_anchor(anchor: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_cme(["audit", "verify", "--anchor", str(anchor)], data_dir)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing", "argument --anchor: no such file"),
        ("directory", "argument --anchor: is a folder, not a file"),
        ("not json", "is not an anchor or ledger export"),
        ("json without a checkpoint", "is not an anchor or ledger export"),
        ("a list", "is not an anchor or ledger export"),
        ("binary", "argument --anchor: is not text"),
        ("nested 100,000 deep", "nested more than"),
        ("an infinite seq", "not JSON"),
        ("a 5,000-digit seq", "a number longer than"),
        ("a member twice", "an object has the same member twice"),
        ("a seq as text", "a checkpoint's seq: Input should be a valid integer"),
        ("a signature in capitals", "a checkpoint's signature: String should match pattern"),
        ("70,000 spaces, then no checkpoint", "is not an anchor or ledger export"),
        ("blank space only", "argument --anchor: holds only blank space"),
    ],
)
def test_a_bad_anchor_file_is_one_line(kind: str, expected: str, tmp_path: Path) -> None:
    anchor = tmp_path / "head.anchor"
    if kind == "directory":
        anchor.mkdir()
    elif kind == "not json":
        anchor.write_text("this is not json\n")
    elif kind == "json without a checkpoint":
        anchor.write_text('{"type": "entry", "seq": 1}\n')
    elif kind == "a list":
        anchor.write_text("[1, 2]\n[3]\n")
    elif kind == "nested 100,000 deep":
        anchor.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    elif kind in {
        "an infinite seq",
        "a 5,000-digit seq",
        "a member twice",
        "a seq as text",
        "a signature in capitals",
    }:
        anchor.write_text(_altered_anchor(kind))
    elif kind == "70,000 spaces, then no checkpoint":
        anchor.write_text(" " * 70_000 + '{"type": "entry", "seq": 1}\n')
    elif kind == "blank space only":
        anchor.write_text(" \n" * 40_000)
    elif kind == "binary":
        anchor.write_bytes(b"\xff\xfe\x00\x81" * 8)
    result = verify_with_anchor(anchor, tmp_path)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("cme audit verify: "), errors[0]
    assert expected in errors[0], errors[0]
    if "argument" not in expected:  # argparse's own line names the option, not the file
        assert str(anchor) in errors[0], errors[0]


def _altered_anchor(kind: str) -> str:
    """A well-formed anchor, then altered as ``kind`` says."""
    fields = (
        '"type": "checkpoint", "head_hash": "' + "a" * 64 + '", "key_id": "k1", '
        '"signature": "' + "b" * 128 + '", "prev_link": "' + "0" * 64 + '"'
    )
    seq = {
        "an infinite seq": "Infinity",
        "a 5,000-digit seq": "9" * 5000,
        "a seq as text": '"3"',
    }.get(kind, "3")
    if kind == "a member twice":
        return "{" + fields + ', "seq": 3, "seq": 4}'
    if kind == "a signature in capitals":
        fields = fields.replace("b" * 128, "B" * 128)
    return "{" + fields + ', "seq": ' + seq + "}"
