"""Reading many aggregates' stored events in one query, where the store allows it.

The library reads one aggregate per query; intake needs the few hundred
children a poll mentions. On PostgreSQL this is one ``= ANY`` query on the
library's own table (read through the library's own connection pool); other
stores fall back to one query per aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg import sql
from psycopg.rows import tuple_row


def select_many(
    recorder: ApplicationRecorder, ids: Sequence[UUID]
) -> dict[UUID, list[StoredEvent]]:
    found: dict[UUID, list[StoredEvent]] = {}
    if not ids:
        return found
    if isinstance(recorder, PostgresAggregateRecorder):
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )
        with recorder.datastore.transaction(commit=False) as cursor:
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
    for ident in ids:
        events = list(recorder.select_events(ident))
        if events:
            found[ident] = events
    return found


def recorded_among(recorder: ApplicationRecorder, ids: Sequence[UUID]) -> set[UUID]:
    """Which of these aggregates have any stored event (one query on PostgreSQL)."""
    if not ids:
        return set()
    if isinstance(recorder, PostgresAggregateRecorder):
        query = sql.SQL(
            "SELECT DISTINCT originator_id FROM {}.{} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (list(ids),))
            return {row["originator_id"] for row in cursor.fetchall()}
    return {ident for ident in ids if recorder.select_events(ident, limit=1)}


def aggregates_about(recorder: ApplicationRecorder, child_id: UUID) -> list[UUID] | None:
    """The ids of the cases, disclosures and requests about a child, from an index.

    None where the store has no such index (the embedded SQLite store): the
    caller then scans the log, which is small there.
    """
    if not isinstance(recorder, PostgresAggregateRecorder):
        return None
    query = sql.SQL(
        "SELECT originator_id FROM {}.{} "
        "WHERE originator_version = 1 AND eventstore.subject_of(state) = %s"
    ).format(sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(query, (child_id,))
        return [row["originator_id"] for row in cursor.fetchall()]


def notifications_after(
    recorder: ApplicationRecorder, position: int, limit: int
) -> Sequence[Notification]:
    """The next page of the log after ``position``, as the library's notifications.

    On PostgreSQL the page is read with plain tuple rows: in a full replay the
    library's dict rows cost more than the database's own read.
    """
    if not isinstance(recorder, PostgresAggregateRecorder):
        return recorder.select_notifications(start=position, limit=limit, inclusive_of_start=False)
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query, (position, limit), prepare=True)
        return [
            Notification(
                id=nid, originator_id=oid, originator_version=version, topic=topic, state=state
            )
            for nid, oid, version, topic, state in cur.fetchall()
        ]
