"""The disclosure ledger's tables, read: one place for the SQL every reader of the ledger runs.

Auditors verify and export it, the DPO's report counts it, a shredding
certificate looks for the child's erasure receipt, ``cme status`` counts
what is parked. The writer (consumers/ledger.py) appends under its own lock;
everyone else reads through here, with the read-only auditor role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from projections.ledger import checkpoint_message
from projections.merkle import leaf_hash


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    notification_id: int
    entry: bytes
    prev_hash: str
    entry_hash: str
    recorded_at: datetime | None = None

    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.entry)
        return parsed


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    key_id: str
    signature: bytes
    signed_at: datetime | None = None
    prev_link: str | None = None  # None: a version 1 checkpoint
    tree_root: str | None = None  # None: a version 1 or 2 checkpoint

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.head_hash, self.prev_link, self.tree_root)


@dataclass(frozen=True)
class ParkedEntry:
    notification_id: int
    topic: str
    parked_at: datetime
    reason: str


class LedgerReader:
    """Reads the ledger as one role (the auditor's, or the ledger writer's)."""

    def __init__(self, url: str, schema: str = "ledger") -> None:
        self.url = url
        self.schema = schema

    def checkpoints(self) -> list[Checkpoint]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT seq, head_hash, key_id, signature, signed_at, prev_link, tree_root "
                f"FROM {self.schema}.checkpoints ORDER BY seq"
            ).fetchall()
        return [Checkpoint(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6]) for r in rows]

    def recorded_at(self, seq: int) -> datetime | None:
        """When the entry ``seq`` was written (None: no such entry)."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                f"SELECT recorded_at FROM {self.schema}.entries WHERE seq = %s", (seq,)
            ).fetchone()
        return row[0] if row else None

    def chain(self, chunk: int = 20_000) -> Iterator[list[StoredEntry]]:
        """Every entry in order, a chunk at a time (a million entries fit in no list).

        From the lowest seq there is, not from 1: a row put in at 0 or below is
        read too, so a verifier sees it (and an export holds it).
        """
        after = -(2**63) - 1
        with psycopg.connect(self.url) as conn:
            while True:
                rows = conn.execute(
                    "SELECT seq, notification_id, entry, prev_hash, entry_hash "
                    f"FROM {self.schema}.entries WHERE seq > %s ORDER BY seq LIMIT %s",
                    (after, chunk),
                ).fetchall()
                if not rows:
                    return
                yield [StoredEntry(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]
                after = rows[-1][0]

    def leaves(self, through: int) -> list[bytes]:
        """The Merkle leaf hash of every entry up to ``through``, in order."""
        leaves: list[bytes] = []
        for rows in self.chain():
            leaves += (leaf_hash(e.entry) for e in rows if 1 <= e.seq <= through)
            if rows[-1].seq >= through:
                break
        return leaves

    def entry(self, seq: int) -> StoredEntry | None:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT seq, notification_id, entry, prev_hash, entry_hash, recorded_at "
                f"FROM {self.schema}.entries WHERE seq = %s",
                (seq,),
            ).fetchone()
        return StoredEntry(row[0], row[1], bytes(row[2]), row[3], row[4], row[5]) if row else None

    def entries(
        self, recorded_from: datetime | None = None, recorded_before: datetime | None = None
    ) -> list[StoredEntry]:
        """Entries recorded in a period (None: unbounded).

        The instants go to PostgreSQL in UTC: it refuses offsets past ±15:59,
        which Python accepts (an export from ``+16:00`` once failed mid-answer).
        """
        recorded_from, recorded_before = (
            None if moment is None else moment.astimezone(UTC)
            for moment in (recorded_from, recorded_before)
        )
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT seq, notification_id, entry, prev_hash, entry_hash, recorded_at "
                f"FROM {self.schema}.entries "
                "WHERE (%s::timestamptz IS NULL OR recorded_at >= %s::timestamptz) "
                "AND (%s::timestamptz IS NULL OR recorded_at < %s::timestamptz) ORDER BY seq",
                (recorded_from, recorded_from, recorded_before, recorded_before),
            ).fetchall()
        return [StoredEntry(r[0], r[1], bytes(r[2]), r[3], r[4], r[5]) for r in rows]

    def documents(self) -> list[dict[str, Any]]:
        """Every entry's canonical JSON, parsed (for counting)."""
        return [e.document() for chunk in self.chain() for e in chunk]

    def documents_about(self, child_id: UUID) -> list[dict[str, Any]]:
        """The entries naming this child (ids and categories only: the ledger holds no value)."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                f"SELECT entry FROM {self.schema}.entries "
                "WHERE convert_from(entry, 'UTF8')::jsonb ->> 'child_id' = %s ORDER BY seq",
                (str(child_id),),
            ).fetchall()
        return [json.loads(bytes(r[0])) for r in rows]

    def parked(self) -> list[ParkedEntry]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT notification_id, topic, parked_at, reason "
                f"FROM {self.schema}.parked WHERE appended_seq IS NULL ORDER BY notification_id"
            ).fetchall()
        return [ParkedEntry(r[0], r[1], r[2], r[3]) for r in rows]

    def parked_count(self) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                f"SELECT count(*) FROM {self.schema}.parked WHERE appended_seq IS NULL"
            ).fetchone()
        return int(row[0]) if row else 0

    def position(self) -> int:
        """How far the writer has read the event store's log."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute(f"SELECT max(position) FROM {self.schema}.position").fetchone()
        return int(row[0]) if row and row[0] is not None else 0
