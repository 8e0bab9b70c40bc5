"""Is each ledger entry what the event store says it should be? One answer for writer and auditor.

The ledger is a function of the event store's notification log: each entry
is the canonical JSON that ``projections.ledger.ledger_entry`` makes of one
stored event. Hashes and signatures prove the chain was not changed after it
was signed; they cannot prove that what was signed came from the event
store. Someone able to write the ledger table could insert an entry for an
event that never happened, or rewrite the unsigned part and its hashes, and
the writer would sign it at its next batch. Deriving each entry again from
its stored event closes that: a forged entry has no event, or another body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from psycopg import Connection

from crypto_shredding.mapper import facts_mapper
from projections.ledger import ENTRIES, canonical, ledger_entry


class LedgerIntegrityError(RuntimeError):
    """Entries that are not what the event store says: the writer signs nothing more."""


class EntryDeriver:
    """The entry each stored event makes, from its clear facts (no key needed)."""

    def __init__(self, events_table: str) -> None:
        self.events_table = events_table
        self.mapper = facts_mapper()

    def entry(
        self, originator_id: Any, version: int, topic: str, state: bytes
    ) -> dict[str, Any] | None:
        """The event as the domain knows it (upcast), its personal part left sealed; its entry."""
        stored = StoredEvent(originator_id, version, topic, state)
        event = self.mapper.to_domain_events([stored], withhold_personal=True)[0]
        return ledger_entry(topic, event)

    def problems(
        self, conn: Connection[Any], entries: Sequence[tuple[int, int, bytes]]
    ) -> Iterable[str]:
        """For (seq, notification_id, entry) rows: each one that its event does not make."""
        ids = [notification_id for _, notification_id, _ in entries]
        rows = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {self.events_table} WHERE notification_id = ANY(%s)",
            (ids,),
        ).fetchall()
        events = {int(r[0]): r[1:] for r in rows}
        for seq, notification_id, entry in entries:
            found = events.get(notification_id)
            if found is None:
                yield f"entry {seq}: no event {notification_id} in the event store (a forged entry)"
                continue
            originator_id, version, topic, state = found
            try:
                expected = self.entry(originator_id, version, topic, bytes(state))
            except Exception as exc:  # an event the writer would have parked
                name = type(exc).__name__
                yield f"entry {seq}: its event {notification_id} cannot be read ({name})"
                continue
            if expected is None or canonical(expected) != entry:
                yield (
                    f"entry {seq}: not what event {notification_id} makes "
                    "(rewritten, or an entry forged on a real event)"
                )


LEDGER_TOPICS = sorted(ENTRIES)
"""The topics of events that make an entry: whether one does depends on its topic alone."""


def ledger_shape_problems(
    conn: Connection[Any],
    schema: str,
    events_table: str,
    entries: Sequence[tuple[int, int]],
    position: int,
    signed_through: int,
    settled: bool = True,
) -> list[str]:
    """Entries (seq, notification id) missing or out of the log's order, up to ``position``.

    Every event up to the writer's position whose topic makes an entry has one,
    or is parked; entries follow the log's order, except a parked event's entry,
    appended when it was replayed (``parked.appended_seq`` says where). A
    deleted entry, two swapped, or a position moved on to skip events each
    break one of these, however well the hashes were redone. The writer signs
    a replay in the transaction that appends it, so that exception holds only
    up to ``signed_through``: after it, a ``parked`` row (which the ledger role
    can write) excuses nothing. ``settled=False`` is for a reader outside the
    writer's transaction: what the writer added after ``position`` was read is
    left out, not reported.
    """
    parked = {
        int(nid): (None if seq is None else int(seq))
        for nid, seq in conn.execute(
            f"SELECT notification_id, appended_seq FROM {schema}.parked"
        ).fetchall()
    }
    if not settled:
        entries = [(seq, nid) for seq, nid in entries if nid <= position]
        parked = {nid: seq for nid, seq in parked.items() if nid <= position}
    problems: list[str] = []
    highest = max([nid for _, nid in entries] + list(parked), default=0)
    if position < highest:
        problems.append(
            f"the writer's position ({position}) is behind the events already in the ledger "
            f"or parked (up to {highest}): it was moved back"
        )
    expected = {
        int(row[0])
        for row in conn.execute(
            f"SELECT notification_id FROM {events_table} "
            "WHERE topic = ANY(%s) AND notification_id <= %s",
            (LEDGER_TOPICS, position),
        ).fetchall()
    }
    present = [nid for _, nid in entries]
    extra = sorted(set(present) - expected)
    if extra:
        shown = ", ".join(str(nid) for nid in extra[:3])
        problems.append(f"entries for events {shown} that make none, or lie past the position")
    waiting = {nid for nid, seq in parked.items() if seq is None}
    missing = sorted(expected - set(present) - waiting)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(str(nid) for nid in missing[:3])
        problems.append(
            f"events {shown}{more} make entries the ledger lacks (deleted, or skipped by a "
            "moved position)"
        )
    latest = 0
    for seq, nid in entries:
        if nid < latest and (seq > signed_through or parked.get(nid) != seq):
            problems.append(
                f"entry {seq}: out of the log's order (event {nid} after event {latest}) and "
                "not a parked event's replay signed when it was appended"
            )
            break
        latest = max(latest, nid)
    return problems
