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


def test_the_clusters_of_earlier_clones_are_stopped_removed_and_named(
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

    stopped_now: list[Path] = []

    def stop(data: Path) -> None:
        assert data.exists(), "a cluster is stopped before its folder is removed"
        stopped_now.append(data)

    removed = remove_earlier_clusters(checkout, home, stop)

    assert stopped_now == [running / "data"]
    assert sorted(removed) == sorted([stopped, running, old_style])
    assert home.exists() and other_checkout.exists()
    assert not any(folder.exists() for folder in removed)
    printed = capsys.readouterr().out
    assert f"stopping the PostgreSQL cluster of an earlier checkout in {running}" in printed
    assert all(f"removing {folder}" in printed for folder in removed)
