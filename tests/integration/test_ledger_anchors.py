"""The ledger cannot be cut back unnoticed: linked checkpoints, a signed head, anchors.

Each case once printed OK from `cme audit verify`: the head checkpoint
deleted, a middle checkpoint deleted, the last entries deleted together with
their checkpoints, the whole chain rewritten and every checkpoint deleted.
The ledger here is a schema of its own, written by the real writer from the
run's event store, so the tests can tamper with it freely.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from cme.audit import Anchor, Verification, verify_ledger
from cme.bootstrap import App, build_application
from cme.db.roles import Role, role_url
from cme.secrets import load_ledger_signer
from cme.settings import PROJECT_ROOT
from consumers.ledger import LedgerWriter
from consumers.ledger_check import LedgerIntegrityError
from crypto_shredding.signing import CheckpointSigner
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild
from projections.ledger import canonical, chain_hash, checkpoint_link, checkpoint_message
from projections.ledger_store import LedgerReader
from tests.conftest import Services
from tests.seeds import seed

SCHEMA = "ledger_tamper"


@dataclass
class Tamperable:
    services: Services
    app: App
    writer: LedgerWriter
    signer: CheckpointSigner
    name: str

    def grow(self, batches: int) -> None:
        """Read events into the ledger in several batches: one signed checkpoint each."""
        county = SyntheticCounty(seed=seed(f"{self.name} {batches}"))
        for _ in range(batches):
            child = self.app.register_child(RegisterChild.of(county.register_child()))
            self.app.record_personal_data_read(child, "auditor:test", "anchor test")
            self.writer.catch_up()

    def verify(self, anchor: Anchor | None = None, now: datetime | None = None) -> Verification:
        return verify_ledger(
            self.services.database_url,
            self.signer.verifier(),
            schema=SCHEMA,
            anchor=anchor,
            now=now,
        )

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with psycopg.connect(self.services.database_url) as conn:
            conn.execute("SET session_replication_role = replica")  # triggers off
            cur = conn.execute(statement.encode(), params)
            rows = cur.fetchall() if cur.description else []
            conn.commit()
        return rows

    def anchor(self) -> Anchor:
        return Anchor.from_checkpoint(
            LedgerReader(self.services.database_url, SCHEMA).checkpoints()[-1]
        )


@pytest.fixture
def ledger(services: Services, request: pytest.FixtureRequest) -> Iterator[Tamperable]:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION cme_ledger")
        for table in ("entries", "checkpoints", "position", "parked"):
            conn.execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE ledger.{table} INCLUDING ALL)")
            conn.execute(f"ALTER TABLE {SCHEMA}.{table} OWNER TO cme_ledger")
    app = build_application(services.settings)
    pool = ConnectionPool(
        role_url(services.settings, Role.LEDGER), min_size=1, max_size=1, open=True
    )
    signer = load_ledger_signer(services.settings)
    try:
        writer = LedgerWriter(pool, signer, schema=SCHEMA)
        yield Tamperable(services, app, writer, signer, request.node.name)
    finally:
        pool.close()
        app.close()
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def test_every_batch_leaves_the_head_signed(ledger: Tamperable) -> None:
    ledger.grow(3)
    result = ledger.verify()
    assert result.ok, result.problems
    assert result.unsigned_tail == 0 and result.warnings == []
    assert result.checkpoints >= 3


def test_deleting_a_middle_checkpoint_breaks_the_next_ones_link(ledger: Tamperable) -> None:
    ledger.grow(3)
    seqs = [r[0] for r in ledger.sql(f"SELECT seq FROM {SCHEMA}.checkpoints ORDER BY seq")]
    middle, after = seqs[-2], seqs[-1]
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints WHERE seq = %s", (middle,))
    result = ledger.verify()
    assert not result.ok
    assert (
        f"checkpoint at entry {after}: the checkpoint before it is missing or altered "
        "(its link does not match)"
    ) in result.problems


def test_deleting_the_head_checkpoint_leaves_an_unsigned_tail_that_fails_once_old(
    ledger: Tamperable,
) -> None:
    ledger.grow(2)
    head = ledger.sql(f"SELECT max(seq) FROM {SCHEMA}.checkpoints")[0][0]
    before = ledger.sql(f"SELECT max(seq) FROM {SCHEMA}.checkpoints WHERE seq < %s", (head,))[0][0]
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints WHERE seq = %s", (head,))
    fresh = ledger.verify()
    assert fresh.ok  # just written: the writer may not have signed yet
    assert fresh.unsigned_tail == head - before
    assert fresh.warnings and "signed by no checkpoint yet" in fresh.warnings[0]
    later = ledger.verify(now=datetime.now(UTC) + timedelta(minutes=11))
    assert not later.ok
    assert any("events are more than 10 minutes old" in p for p in later.problems), later.problems
    # The age is the entries' own (their events'), not recorded_at, which a writer of
    # the table could refresh to stay inside the grace for ever.
    ledger.sql(f"UPDATE {SCHEMA}.entries SET recorded_at = now() + interval '1 hour'")
    refreshed = ledger.verify(now=datetime.now(UTC) + timedelta(minutes=11))
    assert any("events are more than 10 minutes old" in p for p in refreshed.problems)


def test_cutting_the_last_entries_with_their_checkpoints_fails_against_an_anchor(
    ledger: Tamperable,
) -> None:
    ledger.grow(3)
    anchor = ledger.anchor()
    keep = ledger.sql(f"SELECT max(seq) FROM {SCHEMA}.checkpoints WHERE seq < %s", (anchor.seq,))
    cut = keep[0][0]
    ledger.sql(f"DELETE FROM {SCHEMA}.entries WHERE seq > %s", (cut,))
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints WHERE seq > %s", (cut,))
    outside = verify_ledger(
        ledger.services.database_url, ledger.signer.verifier(), schema=SCHEMA, events_table=None
    )
    assert outside.ok  # chain and signatures alone: consistent, only an anchor can tell
    result = ledger.verify(anchor=anchor)
    assert not result.ok
    assert (
        f"anchor at entry {anchor.seq}: that entry is gone "
        "(the ledger was rolled back or truncated since the anchor)"
    ) in result.problems
    # With the event store, no anchor is needed: the cut events have no entries.
    assert any("make entries the ledger lacks" in p for p in ledger.verify().problems)


def test_rewriting_the_chain_and_deleting_every_checkpoint_is_caught(ledger: Tamperable) -> None:
    ledger.grow(2)
    anchor = ledger.anchor()
    rows = ledger.sql(f"SELECT seq, entry FROM {SCHEMA}.entries ORDER BY seq")
    previous = "0" * 64
    for seq, entry in rows:  # a forger's consistent chain over altered entries
        forged = bytes(entry).replace(b"anchor test", b"nothing to see")
        digest = chain_hash(previous, forged)
        ledger.sql(
            f"UPDATE {SCHEMA}.entries SET entry = %s, prev_hash = %s, entry_hash = %s "
            "WHERE seq = %s",
            (forged, previous, digest, seq),
        )
        previous = digest
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints")
    problems = ledger.verify(anchor=anchor).problems
    assert (
        f"anchor at entry {anchor.seq}: the chain up to it has been rewritten since the anchor"
    ) in problems
    assert ": not what event" in problems[0]  # the events show it without an anchor
    later = ledger.verify(now=datetime.now(UTC) + timedelta(minutes=11))
    assert any("signed by no checkpoint" in p for p in later.problems), later.problems
    # The writer, asked to sign this chain, refuses: it is not what the events make.
    with pytest.raises(LedgerIntegrityError, match=": not what event"):
        ledger.writer.checkpoint()
    assert ledger.sql(f"SELECT count(*) FROM {SCHEMA}.checkpoints") == [(0,)]


def _forge_after_head(ledger: Tamperable, notification_id: int) -> int:
    """Append an entry the writer never wrote, chained and hashed as the writer would."""
    seq, head = ledger.sql(
        f"SELECT seq, entry_hash FROM {SCHEMA}.entries ORDER BY seq DESC LIMIT 1"
    )[0]
    child = ledger.sql(f"SELECT entry FROM {SCHEMA}.entries ORDER BY seq LIMIT 1")[0][0]
    forged = canonical(
        {
            "kind": "disclosure_refused",
            "at": datetime.now(UTC).isoformat(),
            "child_id": json.loads(bytes(child))["child_id"],
            "actor": "staff:nobody",
            "source_event": {"originator_id": str(uuid4()), "version": 1},
        }
    )
    ledger.sql(
        f"INSERT INTO {SCHEMA}.entries (seq, notification_id, entry, prev_hash, entry_hash) "
        "VALUES (%s, %s, %s, %s, %s)",
        (seq + 1, notification_id, forged, head, chain_hash(head, forged)),
    )
    return int(seq) + 1


def test_the_writer_signs_no_entry_written_around_it(ledger: Tamperable) -> None:
    """An entry inserted into the table was signed at the next batch, and verify said OK."""
    ledger.grow(2)
    signed = ledger.sql(f"SELECT count(*) FROM {SCHEMA}.checkpoints")
    forged = _forge_after_head(ledger, notification_id=900_000_002)
    county = SyntheticCounty(seed=seed(ledger.name))
    ledger.app.register_child(RegisterChild.of(county.register_child()))
    with pytest.raises(LedgerIntegrityError, match=f"entry {forged}: no event 900000002"):
        ledger.writer.catch_up()
    assert ledger.sql(f"SELECT count(*) FROM {SCHEMA}.checkpoints") == signed  # nothing signed
    result = ledger.verify()
    assert f"entry {forged}: no event 900000002 in the event store (a forged entry)" in (
        result.problems
    )


def test_a_signed_entry_altered_with_the_key_itself_is_caught_by_a_deep_verify(
    ledger: Tamperable,
) -> None:
    """As if the signing key had leaked: chain, signatures and shape all hold; the events do not."""
    ledger.grow(2)
    last = int(ledger.sql(f"SELECT max(seq) FROM {SCHEMA}.entries")[0][0])
    ((nid, entry),) = _entries_from(ledger, last)
    _rewrite_from(ledger, last, [(nid, entry.replace(b"anchor test", b"nothing to see"))])
    checkpoints = LedgerReader(ledger.services.database_url, SCHEMA).checkpoints()
    previous = checkpoints[-1]
    link = checkpoint_link(
        checkpoint_message(previous.seq, previous.head_hash, previous.prev_link),
        previous.signature,
    )
    head = ledger.sql(f"SELECT entry_hash FROM {SCHEMA}.entries WHERE seq = %s", (last,))[0][0]
    message = checkpoint_message(last, head, link)
    ledger.sql(
        f"INSERT INTO {SCHEMA}.checkpoints (seq, head_hash, key_id, signature, prev_link) "
        "VALUES (%s, %s, %s, %s, %s)",
        (last, head, ledger.signer.key_id, ledger.signer.sign(message), link),
    )
    assert ledger.verify().ok  # signed, in shape: only the events can tell
    deep = verify_ledger(
        ledger.services.database_url, ledger.signer.verifier(), schema=SCHEMA, deep=True
    )
    assert f"entry {last}: not what event {nid} makes" in " ".join(deep.problems)


def test_an_entry_for_an_event_that_makes_none_is_caught(ledger: Tamperable) -> None:
    ledger.grow(1)
    quiet = ledger.app.register_child(
        RegisterChild.of(SyntheticCounty(seed=seed(ledger.name)).register_child())
    )  # a registration: an event that makes no ledger entry
    ledger.writer.catch_up()  # read past it: it made no entry
    real = ledger.sql(
        "SELECT notification_id FROM eventstore.cme_events WHERE originator_id = %s",
        (quiet,),
    )[0][0]
    forged = _forge_after_head(ledger, notification_id=real)
    problems = " ".join(ledger.verify().problems)
    assert f"entry {forged}: not what event {real} makes" in problems  # unsigned: derived again
    assert f"entries for events {real} that make none" in problems


def _rewrite_from(ledger: Tamperable, first: int, rows: list[tuple[int, bytes]]) -> None:
    """Entries ``first``… replaced by ``rows`` (notification id, entry), chained as the writer
    would, and the checkpoints over them removed: what someone with the admin's rights can do."""
    previous = ledger.sql(f"SELECT entry_hash FROM {SCHEMA}.entries WHERE seq = %s", (first - 1,))
    head = previous[0][0] if previous else "0" * 64
    ledger.sql(f"DELETE FROM {SCHEMA}.entries WHERE seq >= %s", (first,))
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints WHERE seq >= %s", (first,))
    for seq, (nid, entry) in enumerate(rows, start=first):
        digest = chain_hash(head, entry)
        ledger.sql(
            f"INSERT INTO {SCHEMA}.entries (seq, notification_id, entry, prev_hash, entry_hash) "
            "VALUES (%s, %s, %s, %s, %s)",
            (seq, nid, entry, head, digest),
        )
        head = digest


def _entries_from(ledger: Tamperable, first: int) -> list[tuple[int, bytes]]:
    rows = ledger.sql(
        f"SELECT notification_id, entry FROM {SCHEMA}.entries WHERE seq >= %s ORDER BY seq",
        (first,),
    )
    return [(int(nid), bytes(entry)) for nid, entry in rows]


@pytest.mark.parametrize("how", ["deleted", "swapped", "swapped with a parked alibi"])
def test_an_entry_deleted_or_swapped_and_rechained_is_never_signed(
    ledger: Tamperable, how: str
) -> None:
    """Each entry was what its event makes, so only the ledger's shape could tell: it was
    signed at the next batch (or by `cme audit checkpoint`) and verify said OK. A forged
    parked row claiming the later entry as a replay (the ledger role may write that table)
    once excused the swap."""
    ledger.grow(3)
    last = int(ledger.sql(f"SELECT max(seq) FROM {SCHEMA}.entries")[0][0])
    first = last - 1
    tail = _entries_from(ledger, first)
    _rewrite_from(ledger, first, tail[1:] if how == "deleted" else [tail[1], tail[0]])
    if how == "swapped with a parked alibi":
        ledger.sql(
            f"INSERT INTO {SCHEMA}.parked (notification_id, topic, reason, appended_seq) "
            "VALUES (%s, 'domain.access_log:AccessLog.PersonalDataRead', 'forged', %s)",
            (tail[0][0], last),
        )
    says = "make entries the ledger lacks" if how == "deleted" else "out of the log's order"
    with pytest.raises(LedgerIntegrityError, match=says):
        ledger.writer.checkpoint()
    assert any(says in problem for problem in ledger.verify().problems)


def test_a_position_moved_on_to_skip_events_stops_the_writer(ledger: Tamperable) -> None:
    """The ledger role can move its own position: events after it never reached the ledger."""
    ledger.grow(1)
    with psycopg.connect(role_url(ledger.services.settings, Role.LEDGER)) as conn:
        conn.execute(f"UPDATE {SCHEMA}.position SET position = position + 40")
    county = SyntheticCounty(seed=seed(f"{ledger.name} skipped"))
    child = ledger.app.register_child(RegisterChild.of(county.register_child()))
    ledger.app.record_personal_data_read(child, "auditor:test", "skipped read")
    with pytest.raises(LedgerIntegrityError, match="make entries the ledger lacks"):
        ledger.writer.catch_up()
    assert any("make entries the ledger lacks" in p for p in ledger.verify().problems)


def test_the_cli_anchors_and_verifies_against_the_anchor(
    services: Services, tmp_path: Path, ledger: Tamperable
) -> None:
    # The live ledger (schema `ledger`): write it, sign the head, keep it, verify against it.
    ledger.grow(1)
    pool = ConnectionPool(
        role_url(services.settings, Role.LEDGER), min_size=1, max_size=1, open=True
    )
    try:
        LedgerWriter(pool, ledger.signer).catch_up()
    finally:
        pool.close()
    out = tmp_path / "anchor.json"
    anchored = subprocess.run(
        [sys.executable, "-m", "cme.cli", "audit", "anchor", "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    verified = subprocess.run(
        [sys.executable, "-m", "cme.cli", "audit", "verify", "--anchor", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "extends the anchor at entry" in verified.stdout
