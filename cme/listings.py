"""Every listing the command line prints: a table on a terminal, TSV in a pipe, or JSON.

A table wraps a long value rather than cutting it (``whereabouts_unkn…`` was
once all a caseworker saw of a status), and a pipe gets every value whole,
one row a line, so ``cut``, ``sort`` and spreadsheets can use it. Each
listing carries the ids the next command needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "tsv", "json")


@dataclass(frozen=True)
class Listing:
    """Rows under a title; ``total`` counts the rows before a limit was applied."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Mapping[str, Any]]
    total: int | None = None
    header: bool = True
    """False for a record shown as field/value pairs."""
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def more(self) -> int:
        return 0 if self.total is None else max(0, self.total - len(self.rows))


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="table (the default on a terminal), tsv (the default in a pipe: whole values, "
        "tab-separated) or json",
    )


def render(listings: Sequence[Listing], fmt: str | None = None, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    fmt = fmt or ("table" if out.isatty() else "tsv")
    if fmt == "json":
        out.write(json.dumps([_as_json(listing) for listing in listings], indent=2) + "\n")
    elif fmt == "tsv":
        for number, listing in enumerate(listings):
            if number:
                out.write("\n")
            _tsv(listing, out)
    else:
        console = Console(file=out, width=None if out.isatty() else 160)
        for listing in listings:
            console.print(_table(listing))


def text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_json(listing: Listing) -> dict[str, Any]:
    return {
        "title": listing.title,
        "total": len(listing.rows) if listing.total is None else listing.total,
        "rows": [{c: _json_value(row.get(c)) for c in listing.columns} for row in listing.rows],
    }


def _json_value(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def _tsv(listing: Listing, out: TextIO) -> None:
    """``# title`` comment lines, then a header and one line per row; tabs and newlines blanked."""
    out.write(f"# {listing.title}\n")
    if listing.header:
        out.write("\t".join(listing.columns) + "\n")
    for row in listing.rows:
        out.write("\t".join(_one_cell(row.get(c)) for c in listing.columns) + "\n")
    if listing.more:
        out.write(f"# ... and {listing.more} more (raise --limit)\n")


def _one_cell(value: Any) -> str:
    return text(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _table(listing: Listing) -> Table:
    shown = len(listing.rows) if listing.total is None else listing.total
    table = Table(
        title=f"{listing.title} ({shown})" if listing.header else listing.title,
        title_justify="left",
        show_header=listing.header,
    )
    for column in listing.columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in listing.rows:
        table.add_row(*(text(row.get(c)) for c in listing.columns))
    captions = [*listing.notes]
    if listing.more:
        captions.append(f"... and {listing.more} more (raise --limit)")
    if captions:
        table.caption = "; ".join(captions)
    return table
