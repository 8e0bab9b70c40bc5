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
from projections.ledger import canonical, ledger_entry


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
