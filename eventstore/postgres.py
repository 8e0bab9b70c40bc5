"""The event store on PostgreSQL: batch writes with the events, and one-query reads.

The library's recorder calls ``_insert_events`` inside the transaction that
inserts the events and the consumer's tracking position (the pattern of the
library's own searchable-content example). Here it also inserts the batch's
new wrapped data keys, changes key expiries and writes blind-index rows, so
a batch is all there or not at all. The writer role may insert keys and set
their expiry, but reads no key material (cme/db/setup.sql).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from psycopg import Cursor, sql
from psycopg.rows import DictRow, tuple_row

from application.unit_of_work import BATCH_WRITES, BatchWrites

FACTORY = f"{__name__}:Factory"
"""For the library's PERSISTENCE_MODULE setting."""


class StorableKey(Protocol):
    """A new child's data key as the key ring made it: wrapped, with its KEK and expiry."""

    child_id: UUID
    kek_id: str
    wrapped: bytes
    expires_on: date | None


class Recorder(PostgresProcessRecorder):
    writes_batch_atomically = True
    batch_written: Callable[[], None] | None = None
    """Called inside the transaction once a batch's keys and index rows are written
    (the composition root hangs the crash tests' fault point here)."""

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's insert, with four typed arrays sent in binary.

        The library sends one array of a composite type, which psycopg dumps as
        text, hex-escaping every sealed byte: that dump was 14 % of intake's
        time (#16). The lock, the notification and the RETURNING of the
        notification ids, in insertion order, are the library's own.
        """
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
                "RETURNING notification_id"
            ).format(self._table()),
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        writes: BatchWrites | None = kwargs.get(BATCH_WRITES)
        if writes:
            write_batch(curs, writes)
            if self.batch_written is not None:
                self.batch_written()

    def _table(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(
            sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name)
        )

    def select_many(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Many aggregates' events with one ``= ANY`` query (intake reads a poll's children)."""
        found: dict[UUID, list[StoredEvent]] = {}
        if not ids:
            return found
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(self._table())
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (list(ids),))
            for row in cursor.fetchall():
                found.setdefault(row["originator_id"], []).append(
                    StoredEvent(
                        originator_id=row["originator_id"],
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    )
                )
        return found

    def recorded_among(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates have any stored event, in one query."""
        if not ids:
            return set()
        query = sql.SQL(
            "SELECT DISTINCT originator_id FROM {} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(self._table())
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (list(ids),))
            return {row["originator_id"] for row in cursor.fetchall()}

    def aggregates_about(self, child_id: UUID) -> list[UUID]:
        """The cases, disclosures, requests and intake records about a child, from an index.

        ``eventstore.subject_of`` (cme/db/setup.sql) reads the child id from a
        stored event's clear part; an expression index on each aggregate's
        first event makes this a lookup, not a scan of the log.
        """
        query = sql.SQL(
            "SELECT originator_id FROM {} "
            "WHERE originator_version = 1 AND eventstore.subject_of(state) = %s"
        ).format(self._table())
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (child_id,))
            return [row["originator_id"] for row in cursor.fetchall()]

    def originators_of(self, topic: str) -> list[UUID]:
        """Aggregates with an event of this type (a partial index serves the rare ones)."""
        query = sql.SQL("SELECT DISTINCT originator_id FROM {} WHERE topic = %s").format(
            self._table()
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (topic,))
            return [row["originator_id"] for row in cursor.fetchall()]

    def notifications_after(self, position: int, limit: int) -> Sequence[Notification]:
        """The next page of the log after ``position``, read with plain tuple rows.

        In a full replay the library's dict rows cost more than the database's
        own read.
        """
        query = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(self._table())
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(query, (position, limit), prepare=True)
            return [
                Notification(
                    id=nid, originator_id=oid, originator_version=version, topic=topic, state=state
                )
                for nid, oid, version, topic, state in cur.fetchall()
            ]


class Factory(PostgresFactory):
    process_recorder_class = Recorder


def write_batch(curs: Cursor[Any], writes: BatchWrites) -> None:
    if writes.new_keys:
        keys = [cast(StorableKey, k) for k in writes.new_keys]  # made by the key ring
        curs.execute(
            "INSERT INTO keystore.data_keys (child_id, kek_id, wrapped_key, expires_on) "
            "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[], %s::date[])",
            (
                [k.child_id for k in keys],
                [k.kek_id for k in keys],
                [k.wrapped for k in keys],
                [k.expires_on for k in keys],
            ),
        )
    for child_id, expires_on in writes.expiry_changes.items():
        curs.execute(
            "UPDATE keystore.data_keys SET expires_on = %s WHERE child_id = %s",
            (expires_on, child_id),
        )
    if writes.index_drops:
        curs.execute(
            "DELETE FROM matching.blind_index b USING unnest(%s::uuid[], %s::text[]) "
            "AS d(child_id, kind) WHERE b.child_id = d.child_id AND b.kind = d.kind",
            ([c for c, _ in writes.index_drops], [k for _, k in writes.index_drops]),
        )
    if writes.index_rows:
        rows = writes.index_rows
        curs.execute(
            "INSERT INTO matching.blind_index (child_id, kind, digest) "
            "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[]) ON CONFLICT DO NOTHING",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        )
