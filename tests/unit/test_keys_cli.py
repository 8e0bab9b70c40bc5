"""`cme keys rotate` on the embedded store: counts what is left, refuses nonsense (#15).

Once, ``--batch 0`` printed success while re-wrapping nothing, and README's
next step (remove the old KEK) would have made every record unreadable.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from cme.bootstrap import build_application
from cme.cli import main
from cme.settings import load_settings
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild


def kek(name: str) -> str:
    return f"{name}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def old_and_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """An embedded store with two children whose keys are under the old KEK."""
    old, new = kek("kek-old"), kek("kek-new")
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CME_KEK", old)
    app = build_application(load_settings())
    county = SyntheticCounty(seed=7)
    try:
        for _ in range(2):
            app.register_child(RegisterChild.of(county.register_child()))
    finally:
        app.close()
    return old, new


def test_rotation_reports_no_key_left_under_the_old_kek(
    old_and_new: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = old_and_new
    monkeypatch.setenv("CME_KEK", f"{new},{old}")
    assert main(["keys", "rotate", "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert "re-wrapped 2 data keys under kek-new" in out
    assert "kek-new: 2 keys (current)" in out
    assert "kek-old: 0 keys" in out
    assert "may now be removed" in out
    # And now the old KEK can go.
    monkeypatch.setenv("CME_KEK", new)
    assert main(["keys", "rotate"]) == 0


def test_a_ring_without_a_kek_keys_still_need_stops_at_start(
    old_and_new: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, new = old_and_new
    monkeypatch.setenv("CME_KEK", new)  # the old one removed before rotating
    assert main(["keys", "rotate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "CME_KEK" in err[0]
    assert "'kek-old' (2 keys)" in err[0]


@pytest.mark.parametrize("batch", ["0", "-1", "many"])
def test_a_nonsense_batch_is_refused(batch: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["keys", "rotate", "--batch", batch])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--batch" in err[0]
