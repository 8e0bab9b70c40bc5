"""Applying read-model changes with SQL, the same statements on PostgreSQL and SQLite.

One call applies a batch of events' changes, skips events the read models
already reflect (by aggregate version), and records the consumer's position,
all in one transaction: the exactly-once effect of a projector.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol
from uuid import UUID

from projections.caseworker import (
    CASE_PERSONAL_COLUMNS,
    CHILD_PERSONAL_COLUMNS,
    TIMELINE_PERSONAL_COLUMNS,
)
from projections.changes import Add, Append, Change, Latest, RedactChild, Upsert, When
from projections.schema import KEYS, TABLES, Dialect, column_type, table_ddl, view_ddl


@dataclass(frozen=True)
class ProjectedEvent:
    """One event's changes, identified by its aggregate and version."""

    originator_id: UUID
    version: int
    changes: list[Change]


@dataclass(frozen=True)
class ParkedEvent:
    """A stored event the read models could not take in, and why (never a value)."""

    originator_id: UUID
    version: int
    topic: str
    state: bytes
    reason: str
    parked_at: str

    @classmethod
    def now(
        cls, originator_id: UUID, version: int, topic: str, state: bytes, reason: str
    ) -> ParkedEvent:
        """An event set aside at this moment, for this reason."""
        return cls(originator_id, version, topic, state, reason, datetime.now(UTC).isoformat())


class Cursor(Protocol):
    def execute(self, query: Any, params: Any = ...) -> Any: ...

    def executemany(self, query: Any, params_seq: Any) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class ReadModelsMissingError(Exception):
    """The caseworker tables are not there yet: the projector creates them on its first start."""


def _missing_relation(exc: Exception) -> bool:
    return type(exc).__name__ == "UndefinedTable" or "no such table" in str(exc)


class SqlReadModels:
    """Read models in a database reached through ``transaction()`` cursors."""

    def __init__(self, dialect: Dialect, schema: str | None) -> None:
        self.dialect = dialect
        self.schema = schema
        self.mark = "%s" if dialect == "postgres" else "?"

    # -- connection handling, provided by the adapters below ------------------------

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        raise NotImplementedError
        yield  # pragma: no cover

    # -- the schema --------------------------------------------------------------------

    def create(self) -> None:
        """The tables and views; columns added since a table was made are added to it.

        A column added to the schema (``case_timeline.joint_with_school``, say)
        would otherwise be missing from read models made before it, and every
        write of it parked until a rebuild. The columns present are read first,
        before any other statement: PostgreSQL's cursor runs in pipeline mode,
        where a fetch after other statements on the same cursor can meet theirs.
        """
        tables, views = table_ddl(self.dialect, self.schema), view_ddl(self.dialect, self.schema)
        with self.transaction() as cur:
            present = self._columns(cur)
            for statement in tables:
                cur.execute(statement)
            for table, columns in TABLES.items():
                if table not in present:
                    continue  # made just now, with every column
                for name in sorted(columns.keys() - present[table]):
                    kind = column_type(self.dialect, columns[name])
                    cur.execute(f"ALTER TABLE {self.table(table)} ADD COLUMN {name} {kind}")
            for statement in views:
                cur.execute(statement)

    def _columns(self, cur: Cursor) -> dict[str, set[str]]:
        """The columns of each read-model table that exists already, by table."""
        found: dict[str, set[str]] = {}
        if self.dialect == "sqlite":
            where = f"{self.schema}." if self.schema else ""
            for table in TABLES:
                cur.execute(f"PRAGMA {where}table_info({table})")
                names = {str(row[1]) for row in cur.fetchall()}
                if names:
                    found[table] = names
            return found
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = ANY(%s)",
            (self.schema or "public", list(TABLES)),
        )
        for table, column in cur.fetchall():
            found.setdefault(str(table), set()).add(str(column))
        return found

    def table(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name

    # -- values --------------------------------------------------------------------------

    def _value(self, value: Any) -> Any:
        if self.dialect == "sqlite":
            if isinstance(value, UUID):
                return str(value)
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, bool):
                return int(value)
        return value

    # -- applying ------------------------------------------------------------------------

    def position(self, consumer: str, part: int) -> int | None:
        with self.transaction() as cur:
            cur.execute(
                f"SELECT position FROM {self.table('positions')} "
                f"WHERE consumer = {self.mark} AND part = {self.mark}",
                (consumer, part),
            )
            rows = cur.fetchall()
        return int(rows[0][0]) if rows else None

    def apply(
        self,
        events: Sequence[ProjectedEvent],
        consumer: str,
        part: int,
        position: int | None,
        unpark: Sequence[tuple[UUID, int]] = (),
    ) -> int:
        """Apply new events' changes and the position in one transaction; count applied.

        ``position`` None leaves the consumer's position as it is (a replay of
        parked events); ``unpark`` names parked events this transaction applies.
        """
        with self.transaction() as cur:
            for originator_id, version in unpark:
                cur.execute(
                    f"DELETE FROM {self.table('parked_events')} "
                    f"WHERE originator_id = {self.mark} AND version = {self.mark}",
                    (self._value(originator_id), version),
                )
            applied_versions = self._versions(cur, {e.originator_id for e in events})
            applied = 0
            # Redactions run once for the batch, after its other changes: a redaction
            # only clears personal columns, so running it last clears at least as much.
            redactions: list[RedactChild] = []
            statements: dict[str, list[Statement]] = {}
            for event in events:
                if applied_versions.get(event.originator_id, 0) >= event.version:
                    continue  # already reflected: a redelivery
                for change in event.changes:
                    if isinstance(change, RedactChild):
                        redactions.append(change)
                    else:
                        statements.setdefault(change.table, []).append(self._statement(change))
                applied_versions[event.originator_id] = event.version
                applied += 1
            _execute_in_runs(cur, statements)
            if redactions:
                self._redact(cur, redactions)
            self._write_versions(cur, applied_versions, {e.originator_id for e in events})
            if position is not None:
                self._upsert(
                    cur,
                    "positions",
                    {"consumer": consumer, "part": part},
                    {"position": position},
                )
        return applied

    def redact(self, redactions: Sequence[RedactChild]) -> None:
        """Clear these children's personal values now, whatever else waits (no version moves)."""
        with self.transaction() as cur:
            self._redact(cur, redactions)

    # -- parked events -------------------------------------------------------------------

    def park(self, parked: ParkedEvent, consumer: str, part: int, position: int | None) -> None:
        """Set one event aside with its reason, and move the position past it, together."""
        with self.transaction() as cur:
            self._upsert(
                cur,
                "parked_events",
                {"originator_id": parked.originator_id, "version": parked.version},
                {
                    "topic": parked.topic,
                    "state": parked.state,
                    "reason": parked.reason,
                    "parked_at": parked.parked_at,
                    "consumer": consumer,
                    "part": part,
                    "position": position,
                },
            )
            if position is not None:
                self._upsert(
                    cur, "positions", {"consumer": consumer, "part": part}, {"position": position}
                )

    def parked_among(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these aggregates have an event parked (their later ones wait behind it)."""
        listed = [self._value(i) for i in set(ids)]
        found: set[UUID] = set()
        with self.transaction() as cur:
            for start in range(0, len(listed), 500):
                chunk = listed[start : start + 500]
                marks = ", ".join([self.mark] * len(chunk))
                cur.execute(
                    f"SELECT DISTINCT originator_id FROM {self.table('parked_events')} "
                    f"WHERE originator_id IN ({marks})",
                    chunk,
                )
                found |= {r[0] if isinstance(r[0], UUID) else UUID(r[0]) for r in cur.fetchall()}
        return found

    def parked(self) -> list[ParkedEvent]:
        """Every parked event, in aggregate and version order."""
        with self.transaction() as cur:
            cur.execute(
                "SELECT originator_id, version, topic, state, reason, parked_at "
                f"FROM {self.table('parked_events')} ORDER BY originator_id, version"
            )
            rows = cur.fetchall()
        return [
            ParkedEvent(
                r[0] if isinstance(r[0], UUID) else UUID(r[0]),
                int(r[1]),
                r[2],
                bytes(r[3]),
                r[4],
                r[5],
            )
            for r in rows
        ]

    def _versions(self, cur: Cursor, ids: Iterable[UUID]) -> dict[UUID, int]:
        listed = [self._value(i) for i in ids]
        if not listed:
            return {}
        result: dict[UUID, int] = {}
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            marks = ", ".join([self.mark] * len(chunk))
            cur.execute(
                f"SELECT originator_id, version FROM {self.table('applied_versions')} "
                f"WHERE originator_id IN ({marks})",
                chunk,
            )
            for originator_id, version in cur.fetchall():
                key = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
                result[key] = int(version)
        return result

    def _write_versions(self, cur: Cursor, versions: dict[UUID, int], touched: set[UUID]) -> None:
        """Every touched aggregate's version in one statement (PostgreSQL) or one per row."""
        written = [(i, versions[i]) for i in touched if i in versions]
        if not written:
            return
        if self.dialect == "postgres":
            cur.execute(
                f"INSERT INTO {self.table('applied_versions')} (originator_id, version) "
                "SELECT * FROM unnest(%s::uuid[], %s::int[]) "
                "ON CONFLICT (originator_id) DO UPDATE SET version = excluded.version",
                ([i for i, _ in written], [v for _, v in written]),
            )
            return
        for originator_id, version in written:
            self._upsert(
                cur, "applied_versions", {"originator_id": originator_id}, {"version": version}
            )

    def _statement(self, change: Upsert | Append) -> Statement:
        if isinstance(change, Upsert):
            return self._upsert_statement(change.table, change.key, change.values)
        return self._insert_once_statement(change.table, {**change.key, **change.values})

    def _upsert(self, cur: Cursor, table: str, key: dict[str, Any], values: dict[str, Any]) -> None:
        cur.execute(*self._upsert_statement(table, key, values))

    def _upsert_statement(
        self, table: str, key: dict[str, Any], values: dict[str, Any]
    ) -> Statement:
        name = self.table(table)
        columns = list(key) + list(values)
        inserted = [*key.values(), *(self._initial(v) for v in values.values())]
        updates = []
        params_update: list[Any] = []
        for column, value in values.items():
            current = f"{table}.{column}"  # the stored row (aliased to its bare name)
            if isinstance(value, Latest):
                updates.append(
                    f"{column} = CASE WHEN {current} IS NULL OR excluded.{column} > {current} "
                    f"THEN excluded.{column} ELSE {current} END"
                )
            elif isinstance(value, Add):
                updates.append(f"{column} = COALESCE({current}, 0) + excluded.{column}")
            elif isinstance(value, When):
                guard = f"{table}.{value.column}"
                then = f"THEN {self.mark} ELSE {current} END"
                updates.append(f"{column} = CASE WHEN {guard} = {self.mark} {then}")
                params_update += [self._value(value.equals), self._value(value.value)]
            else:
                updates.append(f"{column} = excluded.{column}")
        marks = ", ".join([self.mark] * len(columns))
        conflict = ", ".join(KEYS[table])
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        alias = f" AS {table}" if self.dialect == "postgres" and self.schema else ""
        return (
            f"INSERT INTO {name}{alias} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({conflict}) {action}",
            [self._value(v) for v in inserted] + params_update,
        )

    @staticmethod
    def _initial(value: Any) -> Any:
        """What a column gets when the row is new."""
        if isinstance(value, Latest):
            return value.value
        if isinstance(value, Add):
            return value.value
        if isinstance(value, When):
            return None
        return value

    def _insert_once_statement(self, table: str, row: dict[str, Any]) -> Statement:
        known = TABLES[table]
        row = {k: v for k, v in row.items() if k in known}
        marks = ", ".join([self.mark] * len(row))
        return (
            f"INSERT INTO {self.table(table)} ({', '.join(row)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(KEYS[table])}) DO NOTHING",
            [self._value(v) for v in row.values()],
        )

    def _redact(self, cur: Cursor, redactions: Sequence[RedactChild]) -> None:
        """Clear every personal column of these children, in one statement per table."""
        tables = (
            ("children", CHILD_PERSONAL_COLUMNS, True),
            ("case_timeline", TIMELINE_PERSONAL_COLUMNS, False),
            ("cases", CASE_PERSONAL_COLUMNS, False),
        )
        for table, columns, stamped in tables:
            sets = ", ".join(f"{c} = NULL" for c in columns)
            if stamped:
                sets += ", shredded_on = v.shredded_on" if self.dialect == "postgres" else ""
            if self.dialect == "postgres":
                cur.execute(
                    f"UPDATE {self.table(table)} AS t SET {sets} "
                    "FROM unnest(%s::uuid[], %s::date[]) AS v(child_id, shredded_on) "
                    "WHERE t.child_id = v.child_id",
                    ([r.child_id for r in redactions], [r.shredded_on for r in redactions]),
                )
                continue
            stamp = ", shredded_on = ?" if stamped else ""
            for redaction in redactions:
                cur.execute(
                    f"UPDATE {self.table(table)} SET {sets}{stamp} WHERE child_id = ?",
                    (
                        *([self._value(redaction.shredded_on)] if stamped else []),
                        self._value(redaction.child_id),
                    ),
                )

    # -- reading (tests, the caseworker CLI) ----------------------------------------------

    def rows(self, relation: str, order_by: str = "") -> list[dict[str, Any]]:
        with self.transaction() as cur:
            order = f" ORDER BY {order_by}" if order_by else ""
            cur.execute(f"SELECT * FROM {self.table(relation)}{order}")
            fetched = cur.fetchall()
            names = [d[0] for d in cur.description]  # type: ignore[attr-defined]
        return [dict(zip(names, row, strict=True)) for row in fetched]

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if _missing_relation(exc):
                msg = "the caseworker read models are not built yet: start the projector"
                raise ReadModelsMissingError(msg) from None
            raise

    def page(
        self,
        relation: str,
        order_by: str,
        limit: int,
        offset: int,
        where: Mapping[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a view in a stable order, and how many rows it has in all.

        ``where`` filters on equal values; its column names are the caller's
        code, never a request's text (the values are parameters).
        """
        given = {column: value for column, value in (where or {}).items() if value is not None}
        condition = " AND ".join(f"{column} = {self.mark}" for column in given)
        filtered = f" WHERE {condition}" if condition else ""
        values = tuple(self._value(value) for value in given.values())
        with self._reading(), self.transaction() as cur:
            cur.execute(f"SELECT count(*) FROM {self.table(relation)}{filtered}", values)
            total = int(cur.fetchall()[0][0])
            cur.execute(
                f"SELECT * FROM {self.table(relation)}{filtered} ORDER BY {order_by} "
                f"LIMIT {self.mark} OFFSET {self.mark}",
                (*values, limit, offset),
            )
            fetched = cur.fetchall()
            names = [d[0] for d in cur.description]  # type: ignore[attr-defined]
        return [dict(zip(names, row, strict=True)) for row in fetched], total

    def rows_about(self, relation: str, child_id: Any, order_by: str = "") -> list[dict[str, Any]]:
        """The rows of one child (every caseworker relation carries ``child_id``)."""
        with self._reading(), self.transaction() as cur:
            order = f" ORDER BY {order_by}" if order_by else ""
            cur.execute(
                f"SELECT * FROM {self.table(relation)} WHERE child_id = {self.mark}{order}",
                (self._value(child_id),),
            )
            fetched = cur.fetchall()
            names = [d[0] for d in cur.description]  # type: ignore[attr-defined]
        return [dict(zip(names, row, strict=True)) for row in fetched]


Statement = tuple[str, list[Any]]
"""SQL with its parameters."""


def _execute_in_runs(cur: Cursor, by_table: dict[str, list[Statement]]) -> None:
    """Each table's statements in their order, a run of the same SQL as one ``executemany``.

    Changes to one row follow each other within its table; the tables depend
    on none of each other's rows, so taking them a table at a time is safe.
    One executemany for a run saves psycopg's per-statement work, which was
    most of the projector's time (#16).
    """
    for statements in by_table.values():
        start = 0
        while start < len(statements):
            sql = statements[start][0]
            end = start + 1
            while end < len(statements) and statements[end][0] == sql:
                end += 1
            if end - start == 1:
                cur.execute(sql, statements[start][1])
            else:
                cur.executemany(sql, [params for _, params in statements[start:end]])
            start = end


class PostgresReadModels(SqlReadModels):
    def __init__(self, pool: Any, schema: str = "caseworker") -> None:
        super().__init__("postgres", schema)
        self.pool = pool

    def vacuum_redacted(self) -> None:
        """VACUUM the tables redactions rewrite: their dead row versions held the values.

        An UPDATE leaves the old row (with the shredded child's name, address,
        notes) in the table as a dead tuple until vacuum; autovacuum would get
        there eventually, this gets there now. WAL keeps its copy until the
        server recycles the segment (README, "Plaintext copies").
        """
        tables = ", ".join(self.table(t) for t in ("children", "cases", "case_timeline"))
        with self.pool.connection() as conn:
            conn.autocommit = True
            conn.execute(f"VACUUM {tables}")

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        # Pipeline mode sends a batch's many small statements without waiting for
        # each reply; a fetch (the version lookup) syncs when it needs to.
        with (
            self.pool.connection() as conn,
            conn.pipeline(),
            conn.transaction(),
            conn.cursor() as cur,
        ):
            yield cur


class SqliteReadModels(SqlReadModels):
    def __init__(self, path: str) -> None:
        super().__init__("sqlite", None)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # A redacted (shredded) child's old values are overwritten, not left in free pages.
        self.conn.execute("PRAGMA secure_delete=ON")
        self.lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self.lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
