"""The caseworker read schema: tables and views, for PostgreSQL and for SQLite.

This is the contract caseworker tools query (documented in README.md). The
tables are written only by the projector; the views are what tools read.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["postgres", "sqlite"]

# column name -> logical type; the first columns of each table are its key.
TABLES: dict[str, dict[str, str]] = {
    "children": {
        "child_id": "uuid",
        "registered_on": "date",
        "source": "text",
        "legal_forenames": "text",
        "legal_surname": "text",
        "preferred_name": "text",
        "date_of_birth": "date",
        "sex": "text",
        "gender": "text",
        "ethnicity": "text",
        "upn": "text",
        "address_line1": "text",
        "address_line2": "text",
        "address_town": "text",
        "address_postcode": "text",
        "carers": "text",
        "flags": "text",
        "notes": "text",
        "current_school_urn": "text",
        "last_school_urn": "text",
        "roll_status": "text",
        "on_roll_from": "date",
        "removed_on": "date",
        "deletion_ground": "text",
        "reduced_timetable_school_urn": "text",
        "reduced_timetable_hours": "text",
        "reduced_timetable_starts_on": "date",
        "reduced_timetable_review_on": "date",
        "moved_to_la": "text",
        "moved_abroad": "bool",
        "destination_country": "text",
        "moved_on": "date",
        "move_confirmed": "bool",
        "open_case_id": "uuid",
        "restricted": "bool",
        "legal_hold": "bool",
        "legal_holds": "int",
        "shredded_on": "date",
    },
    "cases": {
        "case_id": "uuid",
        "child_id": "uuid",
        "status": "text",
        "status_since": "date",
        "source": "text",
        "reason": "text",
        "referred_on": "date",
        "assigned_officer": "text",
        "next_action_due": "date",
        "last_enquiry_on": "date",
        "enquiries": "int",
        "outcome": "text",
        "closed_on": "date",
        "referrer_name": "text",
        "referrer_contact": "text",
        "referral_notes": "text",
    },
    "case_timeline": {
        "case_id": "uuid",
        "seq": "int",
        "child_id": "uuid",
        "on_date": "date",
        "kind": "text",
        "actor": "text",
        "agency": "text",
        "method": "text",
        "outcome": "text",
        "decided_by": "text",
        "automated": "bool",
        "notes": "text",
        "joint_with_school": "bool",
    },
    # Disclosures requested through the API and what became of them: no values,
    # only with whom, why, under which basis and which categories.
    "disclosure_requests": {
        "disclosure_id": "uuid",
        "child_id": "uuid",
        "case_id": "uuid",
        "status": "text",
        "recipient_agency": "text",
        "recipient_organisation": "text",
        "purpose": "text",
        "lawful_basis": "text",
        "categories": "text",
        "requested_by": "text",
        "requested_on": "date",
        "decided_by": "text",
        "decided_on": "date",
        "refusal_reason": "text",
    },
    # Which version of each aggregate the read models already reflect: a
    # re-delivered event (relay crash, Kafka redelivery) is skipped.
    "applied_versions": {"originator_id": "uuid", "version": "int"},
    # Each consumer's position, written in the same transaction as the rows.
    "positions": {"consumer": "text", "part": "int", "position": "bigint"},
    # Events the projector could not apply, with why, and the later events of
    # the same aggregate held behind them; the rest flows on. The stored form
    # keeps its personal part sealed. `cme projections replay-parked` retries.
    "parked_events": {
        "originator_id": "uuid",
        "version": "int",
        "topic": "text",
        "state": "bytes",
        "reason": "text",
        "parked_at": "text",
        "consumer": "text",
        "part": "int",
        "position": "bigint",
    },
}

KEYS: dict[str, tuple[str, ...]] = {
    "children": ("child_id",),
    "cases": ("case_id",),
    "case_timeline": ("case_id", "seq"),
    "disclosure_requests": ("disclosure_id",),
    "applied_versions": ("originator_id",),
    "positions": ("consumer", "part"),
    "parked_events": ("originator_id", "version"),
}

_TYPES: dict[Dialect, dict[str, str]] = {
    "postgres": {
        "uuid": "uuid",
        "date": "date",
        "text": "text",
        "bool": "boolean",
        "int": "integer",
        "bigint": "bigint",
        "bytes": "bytea",
    },
    "sqlite": {
        "uuid": "TEXT",
        "date": "TEXT",
        "text": "TEXT",
        "bool": "INTEGER",
        "int": "INTEGER",
        "bigint": "INTEGER",
        "bytes": "BLOB",
    },
}


def column_type(dialect: Dialect, kind: str) -> str:
    return _TYPES[dialect][kind]


def table_ddl(dialect: Dialect, schema: str | None) -> list[str]:
    prefix = f"{schema}." if schema else ""
    statements = []
    for table, columns in TABLES.items():
        cols = ", ".join(f"{name} {_TYPES[dialect][kind]}" for name, kind in columns.items())
        key = ", ".join(KEYS[table])
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {prefix}{table} ({cols}, PRIMARY KEY ({key}))"
        )
    statements.append(f"CREATE INDEX IF NOT EXISTS cases_child ON {prefix}cases (child_id)")
    statements.append(
        f"CREATE INDEX IF NOT EXISTS timeline_child ON {prefix}case_timeline (child_id)"
    )
    return statements


def _days_since(dialect: Dialect, column: str) -> str:
    if dialect == "postgres":
        return f"(current_date - {column})"
    return f"CAST(julianday('now') - julianday({column}) AS INTEGER)"


def _year_group(dialect: Dialect) -> str:
    """National curriculum year group (0 is reception).

    It is the age on the 31 August before this academic year began, less four.
    """
    if dialect == "postgres":
        start = (
            "(EXTRACT(YEAR FROM current_date)::int - "
            "CASE WHEN EXTRACT(MONTH FROM current_date) >= 9 THEN 0 ELSE 1 END)"
        )
        born_after_august = "CASE WHEN EXTRACT(MONTH FROM c.date_of_birth) >= 9 THEN 1 ELSE 0 END"
        return f"({start} - EXTRACT(YEAR FROM c.date_of_birth)::int - {born_after_august} - 4)"
    start = (
        "(CAST(strftime('%Y','now') AS INTEGER) - "
        "CASE WHEN CAST(strftime('%m','now') AS INTEGER) >= 9 THEN 0 ELSE 1 END)"
    )
    born_after_august = (
        "CASE WHEN CAST(strftime('%m', c.date_of_birth) AS INTEGER) >= 9 THEN 1 ELSE 0 END"
    )
    return f"({start} - CAST(strftime('%Y', c.date_of_birth) AS INTEGER) - {born_after_august} - 4)"


def view_ddl(dialect: Dialect, schema: str | None) -> list[str]:
    p = f"{schema}." if schema else ""
    create = "CREATE OR REPLACE VIEW" if dialect == "postgres" else "CREATE VIEW IF NOT EXISTS"
    true = "true" if dialect == "postgres" else "1"
    false = "false" if dialect == "postgres" else "0"
    days_open = _days_since(dialect, "k.referred_on")
    since_enquiry = _days_since(dialect, "k.last_enquiry_on")
    in_status = _days_since(dialect, "k.status_since")
    missing = _days_since(dialect, "k.referred_on")
    return [
        f"""{create} {p}open_cases AS
        SELECT k.case_id, k.child_id, c.legal_forenames, c.legal_surname, k.status,
               k.reason, k.source, k.referred_on, {days_open} AS days_open,
               k.last_enquiry_on, {since_enquiry} AS days_since_last_enquiry,
               k.enquiries, k.assigned_officer, k.next_action_due, c.restricted
        FROM {p}cases k LEFT JOIN {p}children c ON c.child_id = k.child_id
        WHERE k.status <> 'closed'""",
        f"""{create} {p}whereabouts_unknown AS
        SELECT k.case_id, k.child_id, c.legal_forenames, c.legal_surname, k.status_since,
               {in_status} AS days_unknown, k.assigned_officer
        FROM {p}cases k LEFT JOIN {p}children c ON c.child_id = k.child_id
        WHERE k.status = 'whereabouts_unknown'""",
        f"""{create} {p}reduced_timetables_overdue AS
        SELECT c.child_id, c.legal_forenames, c.legal_surname,
               c.reduced_timetable_school_urn AS school_urn,
               c.reduced_timetable_hours AS hours_per_week,
               c.reduced_timetable_review_on AS review_on,
               {_days_since(dialect, "c.reduced_timetable_review_on")} AS days_overdue
        FROM {p}children c
        WHERE c.reduced_timetable_review_on IS NOT NULL
          AND c.reduced_timetable_review_on < CURRENT_DATE""",
        f"""{create} {p}moves_awaiting_confirmation AS
        SELECT c.child_id, c.legal_forenames, c.legal_surname, c.moved_to_la,
               c.moved_abroad, c.moved_on
        FROM {p}children c
        WHERE (c.moved_to_la IS NOT NULL OR c.moved_abroad = {true})
          AND (c.move_confirmed IS NULL OR c.move_confirmed = {false})""",
        f"""{create} {p}disclosures_awaiting_decision AS
        SELECT d.disclosure_id, d.child_id, d.case_id, d.recipient_agency,
               d.recipient_organisation, d.purpose, d.lawful_basis, d.categories,
               d.requested_by, d.requested_on,
               {_days_since(dialect, "d.requested_on")} AS days_waiting
        FROM {p}disclosure_requests d
        WHERE d.status = 'requested'""",
        f"""{create} {p}children_exportable AS
        SELECT * FROM {p}children WHERE restricted = {false} AND shredded_on IS NULL""",
        f"""{create} {p}dfe_cme_return AS
        SELECT COALESCE(c.sex, 'unknown') AS sex,
               CASE WHEN c.date_of_birth IS NULL THEN NULL ELSE {_year_group(dialect)} END
                   AS year_group,
               CASE WHEN k.referred_on IS NULL THEN 'unknown'
                    WHEN {missing} <= 84 THEN 'up_to_12_weeks'
                    ELSE 'over_12_weeks' END AS time_missing,
               k.reason AS main_reason,
               COUNT(*) AS children
        FROM {p}cases k LEFT JOIN {p}children c ON c.child_id = k.child_id
        WHERE k.status <> 'closed'
        GROUP BY 1, 2, 3, 4""",
    ]
