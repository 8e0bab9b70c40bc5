"""Listings a person and a pipe can both use (#15).

Tables were cut at 80 columns (``whereabouts_unkn…``), pipes got the cut
values, and open cases showed no id to take to the next command.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cme.cli import main
from cme.listings import Listing, render

LONG = "whereabouts_unknown_after_every_enquiry_was_made_and_nobody_answered"
LISTING = Listing(
    "cases",
    ["child_id", "status"],
    [{"child_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "status": LONG}, {"child_id": "x"}],
    total=5,
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_tab_separated_whole_values() -> None:
    out = io.StringIO()
    render([LISTING], out=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "# cases"
    assert lines[1] == "child_id\tstatus"
    assert lines[2] == f"1b4e28ba-2fa1-11d2-883f-0016d3cca427\t{LONG}"
    assert lines[3] == "x\t"
    assert lines[4] == "# ... and 3 more (raise --limit)"


def test_a_table_wraps_rather_than_cuts() -> None:
    out = Terminal()
    render([LISTING], "table", out)
    flat = "".join(line.strip(" │┃|") for line in out.getvalue().splitlines())
    assert "…" not in out.getvalue()
    for part in LONG.split("_"):
        assert part in flat


def test_json_has_every_row_and_the_total() -> None:
    out = io.StringIO()
    render([LISTING], "json", out)
    (document,) = json.loads(out.getvalue())
    assert document["total"] == 5
    assert document["rows"][0] == {
        "child_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "status": LONG,
    }
    assert document["rows"][1] == {"child_id": "x", "status": None}


def test_tabs_and_newlines_in_a_value_do_not_break_the_rows() -> None:
    out = io.StringIO()
    render([Listing("t", ["a", "b"], [{"a": "one\ttwo", "b": "three\nfour"}])], "tsv", out)
    assert out.getvalue().splitlines()[2] == "one two\tthree four"


def test_open_cases_show_the_ids_the_next_command_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    from cme.bootstrap import build_application, read_models
    from cme.db.roles import Role
    from cme.settings import load_settings
    from consumers.inprocess_feed import catch_up
    from devtools.synthetic import SyntheticCounty
    from domain.commands import OpenCase, RegisterChild

    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    app = build_application(load_settings())
    try:
        child = app.register_child(RegisterChild.of(SyntheticCounty(seed=9).register_child()))
        case = app.open_case(
            OpenCase.of(
                {
                    "actor": "cw:1",
                    "child_id": child,
                    "source": "school",
                    "reason": "never_registered",
                    "referred_on": date.today().isoformat(),
                }
            )
        )
        store, close = read_models(load_settings(), Role.CASEWORKER)
        try:
            catch_up(app, store)  # what `cme run` does in the embedded mode
        finally:
            close()
    finally:
        app.close()
    assert main(["caseworker", "open-cases", "--format", "json"]) == 0
    (cases,) = json.loads(capsys.readouterr().out)
    assert cases["rows"][0]["child_id"] == str(child)
    assert cases["rows"][0]["case_id"] == str(case)
    assert main(["caseworker", "child", str(child), "--format", "tsv"]) == 0
    assert f"# Child {child}" in capsys.readouterr().out
