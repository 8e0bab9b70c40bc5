"""The event store's PostgreSQL recorder, writing a batch's keys and index rows with its events.

The library's recorder calls ``_insert_events`` inside the transaction that
inserts the events and the consumer's tracking position (the pattern of the
library's own searchable-content example). Here it also inserts the batch's
new wrapped data keys, changes key expiries and writes blind-index rows, so
a batch is all there or not at all. The writer role may insert keys and set
their expiry, but reads no key material (cme/db/setup.sql).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

from crypto_shredding.batch_writes import BATCH_WRITES, BatchWrites

TOPIC = f"{__name__}:BatchWritingPostgresRecorder"
"""For the library's PROCESS_RECORDER_TOPIC setting."""


class BatchWritingPostgresRecorder(PostgresProcessRecorder):
    writes_batch_atomically = True
    batch_written: Callable[[], None] | None = None
    """Called inside the transaction once a batch's keys and index rows are written
    (the composition root hangs the crash tests' fault point here)."""

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        writes: BatchWrites | None = kwargs.get(BATCH_WRITES)
        if writes:
            write_batch(curs, writes)
            if self.batch_written is not None:
                self.batch_written()


def write_batch(curs: Cursor[Any], writes: BatchWrites) -> None:
    if writes.new_keys:
        keys = writes.new_keys
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
