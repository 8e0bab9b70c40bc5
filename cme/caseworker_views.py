"""What a caseworker sees: the caseworker views, as listings to print.

Used by `cme caseworker ...` and by the demo. It reads only the caseworker
read models (never the event store), as the caseworker tools do. Every row
carries the child's id (and the case's), which `cme caseworker child` and
the rights commands take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from cme.listings import Listing, render
from projections.store import SqlReadModels


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "name":
        if row.get("legal_surname") is None:
            return "[shredded]" if row.get("shredded_on") else ""
        return f"{row.get('legal_forenames')} {row.get('legal_surname')}"
    value = row.get(column)
    return "" if value is None else str(value)


def _listing(
    title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], limit: int
) -> Listing:
    shown = [{c: _cell(row, c) for c in columns} for row in rows[:limit]]
    return Listing(title, columns, shown, total=len(rows))


def open_cases(store: SqlReadModels, limit: int = 10) -> Listing:
    rows = store.rows("open_cases", order_by="days_open DESC, case_id")
    return _listing(
        "Open CME cases, longest open first",
        rows,
        [
            "child_id",
            "case_id",
            "name",
            "status",
            "reason",
            "days_open",
            "days_since_last_enquiry",
            "assigned_officer",
        ],
        limit,
    )


def whereabouts_unknown(store: SqlReadModels, over_days: int = 0, limit: int = 10) -> Listing:
    rows = [
        r
        for r in store.rows("whereabouts_unknown", order_by="days_unknown DESC, case_id")
        if (r["days_unknown"] or 0) >= over_days
    ]
    return _listing(
        f"Whereabouts unknown for {over_days}+ days",
        rows,
        ["child_id", "case_id", "name", "status_since", "days_unknown", "assigned_officer"],
        limit,
    )


def overdue_reviews(store: SqlReadModels, limit: int = 10) -> Listing:
    rows = store.rows("reduced_timetables_overdue", order_by="days_overdue DESC, child_id")
    return _listing(
        "Reduced timetables past their review date",
        rows,
        [
            "child_id",
            "name",
            "school_urn",
            "hours_per_week",
            "review_on",
            "days_overdue",
        ],
        limit,
    )


def moves_awaiting_confirmation(store: SqlReadModels, limit: int = 10) -> Listing:
    rows = store.rows("moves_awaiting_confirmation", order_by="moved_on, child_id")
    return _listing(
        "Moved to another LA or abroad, awaiting confirmation",
        rows,
        ["child_id", "name", "moved_to_la", "moved_abroad", "moved_on"],
        limit,
    )


def dfe_return(store: SqlReadModels) -> list[Listing]:
    """The termly CME return's counts (no personal data: counts only)."""
    rows = store.rows("dfe_cme_return")
    tables = []
    for dimension, title in (
        ("sex", "by sex"),
        ("year_group", "by year group (0 = reception)"),
        ("time_missing", "by time missing"),
        ("main_reason", "by main reason"),
    ):
        counts: dict[str, int] = {}
        for row in rows:
            key = "unknown" if row[dimension] is None else str(row[dimension])
            counts[key] = counts.get(key, 0) + int(row["children"])
        tables.append(
            Listing(
                f"DfE CME return: children in open cases {title}",
                [dimension, "children"],
                [
                    {dimension: key, "children": count}
                    for key, count in sorted(counts.items(), key=lambda kv: _order(kv[0]))
                ],
            )
        )
    return tables


def _order(key: str) -> tuple[int, str]:
    try:
        return (0, f"{int(key):04d}")
    except ValueError:
        return (1, key)


def child_summary(store: SqlReadModels, child_id: str) -> list[Listing]:
    children = store.rows_about("children", UUID(child_id))
    if not children:
        return []
    details = Listing(
        f"Child {child_id}",
        ["field", "value"],
        [
            {"field": key, "value": value}
            for key, value in children[0].items()
            if value not in (None, "", "[]", "{}")
        ],
        header=False,
    )
    timeline = store.rows_about("case_timeline", UUID(child_id), order_by="case_id, seq")
    return [
        details,
        _listing(
            "Case timeline",
            timeline,
            ["on_date", "kind", "agency", "method", "outcome", "actor", "notes"],
            50,
        ),
    ]


def print_all(listings: Sequence[Listing], fmt: str | None = None) -> None:
    render(listings, fmt)
