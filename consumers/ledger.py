"""The ledger writer: sharing-related events, in event-store order, onto the hash chain.

A single chain needs a single order. The events topic has many partitions and
no order across them, so the ledger writer reads the event store's own
notification log (totally ordered: the library serialises inserts) with the
ledger role, which may read the event store but not the key store: entries
are built from each event's clear facts only. Entries, the position and (at
intervals) a signed checkpoint are written in one transaction under an
advisory lock, so two writers never fork the chain and a rebuild is
byte-identical.
"""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from consumers.lifecycle import StopRequestedError, fault_point, retrying
from crypto_shredding.signing import CheckpointSigner
from domain.transcoding import cme_transcoder
from projections.ledger import GENESIS, chain, checkpoint_message, ledger_entry

log = logging.getLogger("cme.ledger")
CONSUMER = "notification-log"
_LOCK = 0x434D454C  # "CMEL": one ledger writer at a time


class LedgerWriter:
    def __init__(
        self,
        pool: ConnectionPool,
        signer: CheckpointSigner,
        checkpoint_every: int = 1000,
        schema: str = "ledger",
        events_table: str = "eventstore.cme_events",
    ) -> None:
        self.pool = pool
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.schema = schema
        self.events_table = events_table
        self.transcoder = cme_transcoder()
        self.appended = 0

    def counts(self) -> dict[str, int]:
        return {"appended": self.appended}

    def catch_up(self, batch: int = 2000) -> int:
        """Append the entries of every event after the stored position; return how many."""
        total = 0
        while True:
            added, read = self._step(batch)
            total += added
            if read == 0:
                return total

    def _step(self, batch: int) -> tuple[int, int]:
        s = self.schema
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            row = conn.execute(
                f"SELECT position FROM {s}.position WHERE consumer = %s", (CONSUMER,)
            ).fetchone()
            position = int(row[0]) if row else 0
            rows = conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {self.events_table} WHERE notification_id > %s "
                "ORDER BY notification_id LIMIT %s",
                (position, batch),
            ).fetchall()
            if not rows:
                return 0, 0
            entries = []
            for notification_id, originator_id, version, topic, state in rows:
                event = self._facts(originator_id, version, bytes(state))
                entry = ledger_entry(topic, event)
                if entry is not None:
                    entries.append((notification_id, entry))
            head = conn.execute(
                f"SELECT seq, entry_hash FROM {s}.entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            last_seq, previous = (int(head[0]), str(head[1])) if head else (0, GENESIS)
            linked = chain(entries, previous, last_seq + 1)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {s}.entries (seq, notification_id, entry, prev_hash, entry_hash) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [
                        (e.seq, e.notification_id, e.canonical, e.prev_hash, e.entry_hash)
                        for e in linked
                    ],
                )
            conn.execute(
                f"INSERT INTO {s}.position (consumer, position) VALUES (%s, %s) "
                "ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                (CONSUMER, rows[-1][0]),
            )
            if linked:
                self._maybe_checkpoint(conn, linked[-1].seq, linked[-1].entry_hash)
            fault_point("ledger:before-commit")
        self.appended += len(linked)
        return len(linked), len(rows)

    def _maybe_checkpoint(
        self, conn: Connection[Any], seq: int, head: str, force: bool = False
    ) -> None:
        s = self.schema
        row = conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {s}.checkpoints").fetchone()
        last = int(row[0]) if row else 0
        if seq > last and (force or seq - last >= self.checkpoint_every):
            conn.execute(
                f"INSERT INTO {s}.checkpoints (seq, head_hash, key_id, signature) "
                "VALUES (%s, %s, %s, %s)",
                (seq, head, self.signer.key_id, self.signer.sign(checkpoint_message(seq, head))),
            )

    def checkpoint(self) -> int:
        """Sign the current head now (e.g. before an export)."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            head = conn.execute(
                f"SELECT seq, entry_hash FROM {self.schema}.entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if head is None:
                return 0
            self._maybe_checkpoint(conn, int(head[0]), str(head[1]), force=True)
            return int(head[0])

    def _facts(self, originator_id: Any, version: int, state: bytes) -> Any:
        fields = self.transcoder.decode(state)
        fields.pop("personal", None)  # sealed; the ledger never holds or needs the values
        return SimpleNamespace(originator_id=originator_id, originator_version=version, **fields)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                added = retrying(self.catch_up, stop, "appending to the ledger")
                if not added:
                    stop.wait(0.5)
        except StopRequestedError:
            pass
        finally:
            log.info("ledger writer stopping: appended=%d", self.appended)
