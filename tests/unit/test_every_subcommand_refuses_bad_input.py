"""Every subcommand, every kind of bad input: one line on stderr, exit 2, nothing echoed (#15).

The parser itself is walked, so a subcommand or an option added later is
covered without anyone remembering to list it here. For each argument the
command line checks (an id, a date, a moment, a count, a port, an actor, a
sender, a file to read, a file or folder to write, a closed list), one bad
value is given with every other argument valid; then an unknown option and
a missing required argument. What was typed is never repeated: it might be
a child's name typed into the wrong place.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cme.cli import build_parser, main

NAME = "Jane Quillfeather"
"""What someone typed where it did not belong; it must never be repeated."""


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
        return
    for name, child in groups[0].choices.items():
        yield from leaves(child, (*path, name))


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._VersionAction)
    ]


def kind(action: argparse.Action) -> str:
    if action.choices is not None and action.type is None:
        return "choice"
    return getattr(action.type, "__name__", "text") if action.type else "text"


def valid(action: argparse.Action, files: dict[str, str]) -> str:
    by_kind = {
        "an_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "a_date": "2026-11-30",
        "an_instant": "2026-11-30T00:00:00+00:00",
        "a_count": "1",
        "an_entry_number": "1",
        "token_minutes": "60",
        "minutes": "0",
        "a_port": "8080",
        "an_actor": "staff:dpo-1",
        "a_sender": "school-mis:117001",
        "a_quarantine_id": "abcd1234",
        "a_principal": "school-mis-117001",
        "a_text_file": files["text"],
        "a_new_file": files["new"],
        "a_folder": files["folder"],
        "_a_correction": "preferred_name=Sam",
        "_a_worker": "relay",
        "_subject": "staff-1",
        "float": "1",
        "int": "1",
    }
    if action.choices is not None:
        return str(next(iter(action.choices)))
    return by_kind.get(kind(action), "text")


BAD: dict[str, list[str]] = {
    "an_id": [NAME, "1b4e28ba-2fa1-11d2-883f"],
    "a_date": ["2026-02-30", "yesterday", "30/11/2026"],
    "an_instant": ["last tuesday", "2026-11-30T00:00:00"],
    "a_count": ["0", "-1", "many", "99999999999999999999", "+3", " 3", "1_0", "\uff13"],
    "an_entry_number": ["0", "-1", "1_0", "+3", "9" * 20],
    "minutes": ["-1", "ten"],
    "token_minutes": ["0", "1441", "99999"],
    "a_port": ["0", "65536", "http"],
    "an_actor": ["", NAME],
    "a_sender": [NAME, "school"],
    "a_quarantine_id": [NAME, "xyz"],
    "a_principal": [NAME, "User:school"],
    "a_text_file": ["{missing}", "{folder}", "{empty}", "{binary}"],
    "a_new_file": ["{text}", "{folder}", "{orphan}"],
    "a_folder": ["{missing}", "{text}"],
    "_a_correction": [NAME],
    "_a_worker": [NAME],
    "_a_public_key": [NAME, "k1:bm90IGEga2V5"],
    "choice": [NAME],
    "float": [NAME],
    "int": [NAME],
}


def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "text.jsonl").write_text('{"a": 1}\n')
    (tmp_path / "empty").write_text("")
    (tmp_path / "binary").write_bytes(b"\x00\x01\x02\x03")
    return {
        "text": str(tmp_path / "text.jsonl"),
        "new": str(tmp_path / "new-file"),
        "folder": str(tmp_path / "folder"),
        "missing": str(tmp_path / "no-such-file"),
        "empty": str(tmp_path / "empty"),
        "binary": str(tmp_path / "binary"),
        "orphan": str(tmp_path / "no-such-folder" / "file"),
    }


def command_line(
    path: tuple[str, ...],
    parser: argparse.ArgumentParser,
    paths: dict[str, str],
    replace: argparse.Action | None = None,
    bad: str = "",
    drop: argparse.Action | None = None,
) -> list[str]:
    """Every required argument valid (and the one under test bad, or left out)."""
    argv = list(path)
    for action in arguments(parser):
        if action is drop:
            continue
        is_positional = not action.option_strings
        wanted = action is replace or action.required or (is_positional and action.nargs != "*")
        if not wanted or action.nargs == 0:
            continue
        value = bad if action is replace else valid(action, paths)
        if is_positional:
            argv.append(value)
        else:
            argv += [action.option_strings[-1], value]
    return argv


def cases() -> Iterator[Any]:
    for path, parser in leaves(build_parser()):
        name = " ".join(path)
        for action in arguments(parser):
            for bad in BAD.get(kind(action), []):
                label = action.option_strings[-1] if action.option_strings else action.dest
                yield pytest.param(path, label, bad, "bad", id=f"{name} {label}={bad or 'empty'}")
        yield pytest.param(path, None, "--no-such-option", "unknown", id=f"{name} unknown option")
        for action in arguments(parser):
            if action.required and action.option_strings:
                label = action.option_strings[-1]
                yield pytest.param(path, label, "", "missing", id=f"{name} without {label}")


@pytest.fixture(autouse=True)
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize(("path", "label", "bad", "how"), list(cases()))
def test_bad_input_is_one_line_and_nothing_runs(
    path: tuple[str, ...],
    label: str | None,
    bad: str,
    how: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = files(tmp_path)
    parser = dict(leaves(build_parser()))[path]
    target = next((a for a in arguments(parser) if label in (*a.option_strings[-1:], a.dest)), None)
    if how == "unknown":
        argv = [*command_line(path, parser, paths), bad, NAME]
    elif how == "missing":
        argv = command_line(path, parser, paths, drop=target)
    else:
        argv = command_line(path, parser, paths, target, bad.format(**paths))
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2, argv
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "Quillfeather" not in err, f"what was typed was repeated: {lines[0]}"
    assert lines[0].startswith("cme"), lines[0]  # argparse names the parser that refused
    if how == "unknown":  # the subcommand that does not take it, not the top-level `cme`
        assert lines[0].startswith(f"cme {' '.join(path)}: "), lines[0]
    assert sorted(tmp_path.rglob("*")) == before, "a refused command wrote a file"


def test_every_subcommand_is_covered() -> None:
    """A sanity check on the walk: every leaf has at least the unknown-option case."""
    covered = {tuple(p.values[0]) for p in cases()}
    assert covered == {path for path, _ in leaves(build_parser())}
    assert len(covered) >= 45
