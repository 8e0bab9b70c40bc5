"""Where the local PostgreSQL cluster lives when the postgres user cannot enter the checkout.

CI clones to the same private path on every run; a cluster named after the path
alone was found again by the next clone, which had made a new admin password,
and refused it ("password authentication failed for user cme_admin").
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.services import postgres
from devtools.services.postgres import _outside_home, remove_earlier_clusters


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "var-tmp"
    folder.mkdir()
    monkeypatch.setattr(postgres, "OUTSIDE", folder)
    return folder


def test_a_fresh_clone_at_the_same_path_gets_its_own_cluster(tmp_path: Path, outside: Path) -> None:
    checkout = tmp_path / "check" / ".local"
    first = _outside_home(checkout, "password-of-the-first-clone")
    again = _outside_home(checkout, "password-of-the-first-clone")
    second = _outside_home(checkout, "password-of-the-second-clone")
    elsewhere = _outside_home(tmp_path / "other" / ".local", "password-of-the-first-clone")
    assert first == again
    assert len({first, second, elsewhere}) == 3
    assert first.parent == outside
    assert "password" not in first.name


def test_the_stopped_clusters_of_earlier_clones_are_removed_and_named(
    tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout = tmp_path / "check" / ".local"
    home = _outside_home(checkout, "this-clone")
    stopped = _outside_home(checkout, "an-earlier-clone")
    running = _outside_home(checkout, "a-clone-still-running")
    old_style = outside / f"cme-postgres-{postgres._place(checkout)}"
    other_checkout = _outside_home(tmp_path / "other" / ".local", "an-earlier-clone")
    for folder in (home, stopped, running, old_style, other_checkout):
        (folder / "data").mkdir(parents=True)
    (running / "data" / "postmaster.pid").write_text(f"{os.getpid()}\n")

    removed = remove_earlier_clusters(checkout, home)

    assert sorted(removed) == sorted([stopped, old_style])
    assert home.exists() and running.exists() and other_checkout.exists()
    assert not stopped.exists() and not old_style.exists()
    printed = capsys.readouterr().out
    assert f"removing {stopped}" in printed
    assert f"still running from {running}" in printed
