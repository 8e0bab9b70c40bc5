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
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from consumers.ledger_check import EntryDeriver, LedgerIntegrityError, ledger_shape_problems
from consumers.lifecycle import StopRequestedError, fault_point, retrying, where
from crypto_shredding.signing import CheckpointSigner
from projections.ledger import (
    GENESIS,
    ChainedEntry,
    chain,
    chain_hash,
    checkpoint_link,
    checkpoint_message,
)
from projections.merkle import Frontier, leaf_hash

log = logging.getLogger("cme.ledger")
CONSUMER = "notification-log"
_LOCK = 0x434D454C  # "CMEL": one ledger writer at a time


class LedgerWriter:
    def __init__(
        self,
        pool: ConnectionPool,
        signer: CheckpointSigner,
        checkpoint_every: int = 1,
        schema: str = "ledger",
        events_table: str = "eventstore.cme_events",
    ) -> None:
        self.pool = pool
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.schema = schema
        self.events_table = events_table
        # Facts only: the ledger role holds no keys and the ledger never needs a value.
        self.deriver = EntryDeriver(events_table)
        self.appended = 0
        self.parked = 0
        self._vouched: tuple[int, str, int] | None = None
        """What this writer last wrote or checked: (head seq, head hash, position)."""
        self._tree: tuple[Frontier, str] | None = None
        """The Merkle tree of the entries this writer has checked, and the hash of the last."""
        self._tree_signed: tuple[Frontier, str] | None = None
        """The tree a checkpoint in the open transaction signed; kept once it commits."""

    def counts(self) -> dict[str, int]:
        return {"appended": self.appended, "parked": self.parked}

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
        self._tree_signed = None
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            position = self._position(conn)
            self._vouch_for_head(conn, position)
            rows = conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {self.events_table} WHERE notification_id > %s "
                "ORDER BY notification_id LIMIT %s",
                (position, batch),
            ).fetchall()
            if not rows:
                return 0, 0
            entries, parked = self._entries(rows)
            if parked:
                self._park(conn, parked)
            linked = self._append(conn, entries)
            conn.execute(
                f"INSERT INTO {s}.position (consumer, position) VALUES (%s, %s) "
                "ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                (CONSUMER, rows[-1][0]),
            )
            if linked:
                self._maybe_checkpoint(conn, linked[-1].seq, linked[-1].entry_hash)
            fault_point("ledger:before-commit")
        self._keep_signed_tree()
        if linked:
            self._vouched = (linked[-1].seq, linked[-1].entry_hash, int(rows[-1][0]))
        elif self._vouched is not None:
            self._vouched = (*self._vouched[:2], int(rows[-1][0]))
        self.appended += len(linked)
        return len(linked), len(rows)

    def _append(
        self, conn: Connection[Any], entries: list[tuple[int, dict[str, Any]]]
    ) -> list[ChainedEntry]:
        """Chain ``entries`` onto the head and insert them; the linked entries."""
        s = self.schema
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
        return linked

    def _entries(
        self, rows: list[tuple[Any, ...]]
    ) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str, str]]]:
        """The entries of these events, and the events that could not be made one (parked)."""
        entries: list[tuple[int, dict[str, Any]]] = []
        parked: list[tuple[int, str, str]] = []
        for notification_id, originator_id, version, topic, state in rows:
            try:
                entry = self.deriver.entry(originator_id, version, topic, bytes(state))
            except Exception as exc:
                parked.append((notification_id, topic, where(exc)))
                continue
            if entry is not None:
                entries.append((notification_id, entry))
        return entries, parked

    def _park(
        self, conn: Connection[Any], parked: list[tuple[int, str, str]], *, again: bool = False
    ) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.schema}.parked (notification_id, topic, reason) "
                "VALUES (%s, %s, %s) ON CONFLICT (notification_id) "
                "DO UPDATE SET reason = excluded.reason, parked_at = now()",
                parked,
            )
        for notification_id, topic, reason in parked:
            log.error("parked notification %d (%s): %s", notification_id, topic, reason)
        if not again:  # a replay that still fails parks nothing new
            self.parked += len(parked)

    def replay_parked(self) -> tuple[int, int]:
        """Append the parked events that now make entries; return (appended, still parked).

        A replayed event's entry comes after later events' entries: its row stays in
        ``parked`` with the seq it was appended at, so a verifier can tell it from a swap.
        """
        s = self.schema
        self._tree_signed = None
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            self._vouch_for_head(conn, self._position(conn))
            rows = conn.execute(
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
                f"e.state FROM {self.events_table} e JOIN {s}.parked p "
                "ON p.notification_id = e.notification_id WHERE p.appended_seq IS NULL "
                "ORDER BY e.notification_id"
            ).fetchall()
            entries, parked = self._entries(rows)
            self._park(conn, parked, again=True)
            linked = self._append(conn, entries)
            at = {e.notification_id: e.seq for e in linked}
            still = {p[0] for p in parked}
            no_entry = [nid for nid, *_ in rows if nid not in still and nid not in at]
            conn.execute(f"DELETE FROM {s}.parked WHERE notification_id = ANY(%s)", (no_entry,))
            with conn.cursor() as cur:
                cur.executemany(
                    f"UPDATE {s}.parked SET appended_seq = %s WHERE notification_id = %s",
                    [(seq, nid) for nid, seq in at.items()],
                )
            if linked:
                self._maybe_checkpoint(conn, linked[-1].seq, linked[-1].entry_hash, force=True)
            position = self._position(conn)
        self._keep_signed_tree()
        if linked:
            self._vouched = (linked[-1].seq, linked[-1].entry_hash, position)
        self.appended += len(linked)
        return len(linked), len(parked)

    def _position(self, conn: Connection[Any]) -> int:
        row = conn.execute(
            f"SELECT position FROM {self.schema}.position WHERE consumer = %s", (CONSUMER,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _maybe_checkpoint(
        self, conn: Connection[Any], seq: int, head: str, force: bool = False
    ) -> None:
        """Sign the head and its Merkle root, linked to the last checkpoint, in one transaction."""
        s = self.schema
        last = conn.execute(
            f"SELECT seq, head_hash, prev_link, signature, tree_root FROM {s}.checkpoints "
            "ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        last_seq = int(last[0]) if last else 0
        if seq <= last_seq or not (force or seq - last_seq >= self.checkpoint_every):
            return
        prev_link = (
            checkpoint_link(checkpoint_message(last[0], last[1], last[2], last[4]), bytes(last[3]))
            if last
            else GENESIS
        )
        tree = self._tree_through(conn, seq)
        tree_root = tree[0].root().hex()
        message = checkpoint_message(seq, head, prev_link, tree_root)
        conn.execute(
            f"INSERT INTO {s}.checkpoints "
            "(seq, head_hash, key_id, signature, prev_link, tree_root) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (seq, head, self.signer.key_id, self.signer.sign(message), prev_link, tree_root),
        )
        self._tree_signed = tree

    def _tree_through(self, conn: Connection[Any], seq: int) -> tuple[Frontier, str]:
        """The Merkle tree of entries 1..seq, grown from the one this writer last signed.

        The first time (a new process) it is built from every entry, each
        checked against the chain as it goes: a root is signed only over
        entries whose hashes still hold.
        """
        cached = self._tree
        tree, previous = (
            (cached[0].copy(), cached[1])
            if cached is not None and cached[0].size <= seq
            else (Frontier(), GENESIS)
        )
        while tree.size < seq:
            rows = conn.execute(
                f"SELECT seq, entry, prev_hash, entry_hash FROM {self.schema}.entries "
                "WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT 20000",
                (tree.size, seq),
            ).fetchall()
            if not rows:
                self._refuse(f"entry {tree.size + 1}: missing")
            for row_seq, entry, prev_hash, entry_hash in rows:
                if row_seq != tree.size + 1 or prev_hash != previous:
                    self._refuse(f"entry {tree.size + 1}: missing or not chained to the one before")
                if chain_hash(previous, bytes(entry)) != entry_hash:
                    self._refuse(f"entry {row_seq}: content does not match its hash")
                tree.append(leaf_hash(bytes(entry)))
                previous = str(entry_hash)
        return tree, previous

    def _keep_signed_tree(self) -> None:
        """After a commit: the tree its checkpoint signed is where the next one grows from."""
        if self._tree_signed is not None:
            self._tree, self._tree_signed = self._tree_signed, None

    def checkpoint(self) -> int:
        """Sign the current head now (e.g. before an export)."""
        self._tree_signed = None
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            self._vouch_for_head(conn, self._position(conn))
            head = conn.execute(
                f"SELECT seq, entry_hash FROM {self.schema}.entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if head is None:
                return 0
            self._maybe_checkpoint(conn, int(head[0]), str(head[1]), force=True)
        self._keep_signed_tree()
        return int(head[0])

    def _vouch_for_head(self, conn: Connection[Any], position: int) -> None:
        """Refuse to extend or sign a ledger this writer cannot vouch for.

        It can if it wrote the head and the position itself. Otherwise every
        entry after the last checkpoint it can verify must chain from that
        checkpoint and be exactly what its event makes, and the ledger as a
        whole must hold an entry for every event up to the position that makes
        one, in the log's order. Someone who wrote the ledger's tables directly
        (an entry forged, deleted or swapped, a position moved to skip events)
        fails one of these: signing now would sign their work, so the writer
        stops, naming the first problem.
        """
        s = self.schema
        found = conn.execute(
            f"SELECT seq, entry_hash FROM {s}.entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        head = (int(found[0]), str(found[1])) if found else (0, GENESIS)
        if (*head, position) == self._vouched:
            return
        signed_seq, previous = self._last_verifiable_checkpoint(conn)
        rows = conn.execute(
            f"SELECT seq, notification_id, entry, prev_hash, entry_hash FROM {s}.entries "
            "WHERE seq > %s ORDER BY seq",
            (signed_seq,),
        ).fetchall()
        expected_seq = signed_seq + 1
        for seq, _, entry, prev_hash, entry_hash in rows:
            if seq != expected_seq or prev_hash != previous:
                self._refuse(f"entry {expected_seq}: missing or not chained to the one before")
            if chain_hash(previous, bytes(entry)) != entry_hash:
                self._refuse(f"entry {seq}: content does not match its hash")
            previous, expected_seq = entry_hash, seq + 1
        tail = [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]
        for problem in self.deriver.problems(conn, tail):
            self._refuse(problem)
        every = conn.execute(f"SELECT seq, notification_id FROM {s}.entries ORDER BY seq")
        order = [(int(seq), int(nid)) for seq, nid in every.fetchall()]
        for problem in ledger_shape_problems(
            conn, s, self.events_table, order, position, signed_through=signed_seq
        ):
            self._refuse(problem)
        self._vouched = (*head, position)

    def _last_verifiable_checkpoint(self, conn: Connection[Any]) -> tuple[int, str]:
        """(seq, head) of the newest checkpoint signed by this writer's key over the stored head.

        Only the newest few are tried (a signing key rotated since leaves older
        ones unverifiable here); with none, the whole ledger is checked.
        """
        s = self.schema
        verifier = self.signer.verifier()
        rows = conn.execute(
            "SELECT c.seq, c.head_hash, c.key_id, c.signature, c.prev_link, c.tree_root "
            f"FROM {s}.checkpoints c "
            f"JOIN {s}.entries e ON e.seq = c.seq AND e.entry_hash = c.head_hash "
            "ORDER BY c.seq DESC LIMIT 50"
        ).fetchall()
        for seq, head_hash, key_id, signature, prev_link, tree_root in rows:
            message = checkpoint_message(int(seq), str(head_hash), prev_link, tree_root)
            if verifier.valid(str(key_id), message, bytes(signature)):
                return int(seq), str(head_hash)
        return 0, GENESIS

    def _refuse(self, problem: str) -> None:
        msg = (
            f"the ledger holds entries its writer did not write: {problem}; nothing more is "
            "appended or signed until it is restored (`cme audit verify` names what changed)"
        )
        raise LedgerIntegrityError(msg)  # said once, by whoever stops on it

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
