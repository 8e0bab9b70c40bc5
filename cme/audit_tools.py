"""`cme audit replay --projections|export|report`: the auditor's tools over files and the ledger.

``replay --projections`` builds the read models as they stood into a new
file (every child whose values it holds gets a recorded read); ``export``
and ``report`` use the ledger only. ``history`` and ``replay`` of one
aggregate are use cases: :mod:`application.audit`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from application.statutory_clock import undecided_requests
from cme.bootstrap import App
from cme.private_files import open_private, write_private
from consumers.projection_feed import project_stored
from crypto_shredding.mapper import cme_mapper
from eventstore.scanning import subject_of_stored
from projections.ledger_store import Checkpoint, LedgerReader, StoredEntry
from projections.store import SqliteReadModels


def replay_projections(
    app: App, as_of: datetime, out: Path, actor: str, purpose: str
) -> tuple[int, int]:
    """The caseworker read models as they stood at ``as_of``, into a new SQLite file.

    Built from the event store alone by the same projection code the
    projector runs. The file holds personal values (of children whose keys
    still exist), so it is created readable by its owner only, and every
    child whose values it holds gets a recorded read. Returns (events, children).
    """
    if out.exists():
        msg = f"{out} exists; replay writes a new file (move or delete the old one first)"
        raise FileExistsError(msg)
    write_private(out, "")  # owner-only before SQLite writes a value into it
    store = SqliteReadModels(str(out))
    store.create()
    mapper = cme_mapper(app.data_keys)
    position, events = 0, 0
    subjects: set[UUID] = set()
    try:
        while page := app.queries.notifications_after(position, 5000):
            position = page[-1].id
            kept = [n for n in page if _timestamp(n.state) <= as_of]
            if kept:
                store.apply(project_stored(mapper, kept), "replay", 0, position)
                subjects.update(subject_of_stored(n) for n in kept)
                events += len(kept)
    finally:
        store.close()
    readable = sorted(app.data_keys.store.get_many(subjects))  # whose values the file holds
    for start in range(0, len(readable), 1000):
        chunk = readable[start : start + 1000]
        with app.batch():
            app.prefetch(chunk, subjects=chunk)
            for child_id in chunk:
                app.record_personal_data_read(child_id, actor=actor, purpose=purpose)
    return events, len(readable)


def _timestamp(state: bytes) -> datetime:
    stamp = orjson.loads(state)["timestamp"]
    return datetime.fromisoformat(stamp["_data_"] if isinstance(stamp, dict) else stamp)


def export_lines(url: str, start: datetime | None, end: datetime | None) -> Iterator[str]:
    """The ledger's entries (and all checkpoints) as JSON Lines, for outside verification.

    Both are read before the first line is given: an error then is the
    caller's to answer, not a stream cut short after a success was sent.
    """
    ledger = LedgerReader(url)
    return _lines(ledger.entries(start, end), ledger.checkpoints())


def _lines(entries: list[StoredEntry], checkpoints: list[Checkpoint]) -> Iterator[str]:
    for e in entries:
        recorded = e.recorded_at.isoformat() if e.recorded_at else None
        line = {
            "type": "entry",
            "seq": e.seq,
            "notification_id": e.notification_id,
            "entry": e.entry.decode(),
            "prev_hash": e.prev_hash,
            "entry_hash": e.entry_hash,
            "recorded_at": recorded,
        }
        yield json.dumps(line) + "\n"
    for c in checkpoints:
        line = {
            "type": "checkpoint",
            "seq": c.seq,
            "head_hash": c.head_hash,
            "key_id": c.key_id,
            "signature": c.signature.hex(),
            "prev_link": c.prev_link,
            "tree_root": c.tree_root,
            "signed_at": c.signed_at.isoformat() if c.signed_at else None,
        }
        yield json.dumps(line) + "\n"


def export(url: str, start: datetime | None, end: datetime | None, out: Path) -> int:
    """Write :func:`export_lines` to ``out``; the number of entries."""
    entries = 0
    with open_private(out) as file:
        for line in export_lines(url, start, end):
            entries += line.startswith('{"type": "entry"')
            file.write(line)
    return entries


def report(url: str, app: App) -> dict[str, Any]:
    """Disclosures per agency, per lawful basis, per month; refusals; rights requests."""
    entries = LedgerReader(url).documents()
    made = [e for e in entries if e["kind"] == "disclosure_made"]
    refused = [e for e in entries if e["kind"] == "disclosure_refused"]
    today = app.today()
    undecided = list(undecided_requests(app))
    open_requests = len(undecided)
    overdue_requests = sum(request.is_overdue(today) for request in undecided)
    return {
        "disclosures_by_agency": dict(Counter(e["counterparty_agency"] for e in made)),
        "disclosures_by_lawful_basis": dict(Counter(e["lawful_basis"] for e in made)),
        "disclosures_by_month": dict(Counter(str(e.get("on", e["at"]))[:7] for e in made)),
        "refusals_by_reason": dict(Counter(e["refusal_reason"] for e in refused)),
        "rights_requests_open": open_requests,
        "rights_requests_overdue": overdue_requests,
    }
