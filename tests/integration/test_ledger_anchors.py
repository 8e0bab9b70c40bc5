"""The ledger cannot be cut back unnoticed: linked checkpoints, a signed head, anchors.

Each case once printed OK from `cme audit verify`: the head checkpoint
deleted, a middle checkpoint deleted, the last entries deleted together with
their checkpoints, the whole chain rewritten and every checkpoint deleted.
The ledger here is a schema of its own, written by the real writer from the
run's event store, so the tests can tamper with it freely.
"""

from __future__ import annotations

import json
import os
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
from projections import merkle
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
    link = checkpoint_link(previous.message(), previous.signature)
    head = ledger.sql(f"SELECT entry_hash FROM {SCHEMA}.entries WHERE seq = %s", (last,))[0][0]
    tree_root = merkle.root([merkle.leaf_hash(e) for e in _entries(ledger)[:last]]).hex()
    message = checkpoint_message(last, head, link, tree_root)
    ledger.sql(
        f"INSERT INTO {SCHEMA}.checkpoints "
        "(seq, head_hash, key_id, signature, prev_link, tree_root) VALUES (%s, %s, %s, %s, %s, %s)",
        (last, head, ledger.signer.key_id, ledger.signer.sign(message), link, tree_root),
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


def _write_live_ledger(ledger: Tamperable, batches: int = 1) -> None:
    """Events into the live ledger (schema `ledger`), which the command line reads."""
    ledger.grow(batches)
    pool = ConnectionPool(
        role_url(ledger.services.settings, Role.LEDGER), min_size=1, max_size=1, open=True
    )
    try:
        LedgerWriter(pool, ledger.signer).catch_up()
    finally:
        pool.close()


def _cme_audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cme.cli", "audit", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_cli_anchors_and_verifies_against_the_anchor(
    tmp_path: Path, ledger: Tamperable
) -> None:
    # The live ledger (schema `ledger`): write it, sign the head, keep it, verify against it.
    _write_live_ledger(ledger)
    out = tmp_path / "anchor.json"
    anchored = _cme_audit("anchor", "--out", str(out))
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    verified = _cme_audit("verify", "--anchor", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "extends the anchor at entry" in verified.stdout


# One entry shown alone: the RFC 9162 Merkle root every checkpoint signs, and inclusion proofs.


def _rfc9162_root(entries: list[bytes]) -> bytes:
    """MTH(D[n]) from the RFC's own recursion, independent of projections.merkle."""
    import hashlib

    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1 << ((len(entries) - 1).bit_length() - 1)
    return hashlib.sha256(
        b"\x01" + _rfc9162_root(entries[:k]) + _rfc9162_root(entries[k:])
    ).digest()


def _entries(ledger: Tamperable) -> list[bytes]:
    return [bytes(r[0]) for r in ledger.sql(f"SELECT entry FROM {SCHEMA}.entries ORDER BY seq")]


def test_every_checkpoint_signs_the_merkle_root_of_the_entries_up_to_it(
    ledger: Tamperable,
) -> None:
    ledger.grow(2)
    # A writer with no tree in memory (a restart) builds it from the table and goes on.
    ledger.writer = LedgerWriter(ledger.writer.pool, ledger.signer, schema=SCHEMA)
    ledger.grow(3)  # (another seed than the first two batches)
    entries = _entries(ledger)
    checkpoints = LedgerReader(ledger.services.database_url, SCHEMA).checkpoints()
    assert len(checkpoints) >= 4
    for checkpoint in checkpoints:
        assert checkpoint.tree_root == _rfc9162_root(entries[: checkpoint.seq]).hex()
        assert checkpoint.message().startswith(b"cme.ledger.checkpoint.v3|")
        assert ledger.signer.verifier().valid(
            checkpoint.key_id, checkpoint.message(), checkpoint.signature
        )
    assert ledger.verify().ok


def test_a_root_signed_over_other_entries_fails_verify(ledger: Tamperable) -> None:
    """The signing key misused: a checkpoint whose root is not the entries' is named."""
    ledger.grow(2)
    last = LedgerReader(ledger.services.database_url, SCHEMA).checkpoints()[-1]
    forged_root = "ab" * 32
    message = checkpoint_message(last.seq, last.head_hash, last.prev_link, forged_root)
    ledger.sql(
        f"UPDATE {SCHEMA}.checkpoints SET tree_root = %s, signature = %s WHERE seq = %s",
        (forged_root, ledger.signer.sign(message), last.seq),
    )
    problems = ledger.verify().problems
    assert f"checkpoint at entry {last.seq}: its Merkle root is not the root of the entries" in (
        " ".join(problems)
    )
    ledger.sql(
        f"UPDATE {SCHEMA}.checkpoints SET tree_root = %s WHERE seq = %s",
        ("cd" * 32, last.seq),
    )
    assert any("the signature is not valid" in p for p in ledger.verify().problems)
    ledger.sql(
        f"UPDATE {SCHEMA}.checkpoints SET key_id = 'another-council' WHERE seq = %s", (last.seq,)
    )
    assert (
        f"checkpoint at entry {last.seq}: signed with a key id that is not one of the ledger's "
        "keys given (--public-key or CME_LEDGER_PUBLIC_KEY)"
    ) in ledger.verify().problems


def test_an_entry_is_proven_with_no_other_entry_in_the_proof(ledger: Tamperable) -> None:
    from cme.audit_proof import build_proof, check_proof

    ledger.grow(3)
    entries = _entries(ledger)
    assert len(entries) >= 5
    for seq in range(1, len(entries) + 1):
        proof = build_proof(
            ledger.services.database_url, seq, ledger.signer.verifier(), schema=SCHEMA
        ).model_dump()
        # The entry itself, then only numbers, hashes, a key id and a signature.
        assert set(proof) == {
            "type",
            "seq",
            "entry",
            "leaf_index",
            "tree_size",
            "audit_path",
            "checkpoint",
        }
        assert proof["entry"] == entries[seq - 1].decode()
        hexes = [
            *proof["audit_path"],
            *(v for k, v in proof["checkpoint"].items() if k not in {"seq", "key_id"}),
        ]
        assert all(len(h) in (64, 128) and int(h, 16) >= 0 for h in hexes)
        assert not any(
            e.decode() in json.dumps(proof) for i, e in enumerate(entries, 1) if i != seq
        )
        assert check_proof(proof, ledger.signer.verifier()) == json.loads(entries[seq - 1])
        assert len(proof["audit_path"]) <= (len(entries) - 1).bit_length()


def test_an_outside_verifier_checks_a_proof_with_the_rfcs_algorithm(ledger: Tamperable) -> None:
    """What README gives a data subject's adviser: hashlib and cryptography, nothing of ours."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from cme.audit_proof import build_proof

    ledger.grow(3)
    proof = build_proof(
        ledger.services.database_url, 3, ledger.signer.verifier(), schema=SCHEMA
    ).model_dump()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(ledger.signer.public_key_b64()))
    c = proof["checkpoint"]
    message = (
        f"cme.ledger.checkpoint.v3|{c['seq']}|{c['head_hash']}|{c['prev_link']}|{c['tree_root']}"
    )
    public.verify(bytes.fromhex(c["signature"]), message.encode())  # raises if not
    fn, sn = proof["leaf_index"], proof["tree_size"] - 1
    r = hashlib.sha256(b"\x00" + proof["entry"].encode()).digest()
    for p in map(bytes.fromhex, proof["audit_path"]):
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0 and r.hex() == c["tree_root"]


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        (
            lambda p: p.update(entry=p["entry"].replace('"kind":"', '"kind":"x')),
            "do not lead to the signed Merkle root",
        ),
        (
            lambda p: p["audit_path"].__setitem__(0, "00" * 32),
            "do not lead to the signed Merkle root",
        ),
        (lambda p: p.update(leaf_index=p["leaf_index"] + 1), "leaf index is not its entry's"),
        (lambda p: p["audit_path"].append("00" * 32), "do not lead to the signed Merkle root"),
        (
            lambda p: p["checkpoint"].update(tree_root="ab" * 32),
            "signature is not valid",
        ),
        (lambda p: p.update(audit_path="not hashes"), "not a ledger inclusion proof: audit_path"),
        (lambda p: p.pop("checkpoint"), "not a ledger inclusion proof: checkpoint"),
        (lambda p: p.update(type="something else"), "not a ledger inclusion proof: type"),
        (lambda p: p.update(seq=2.0), "not a ledger inclusion proof: seq"),
        (lambda p: p.update(seq="2"), "not a ledger inclusion proof: seq"),
        (lambda p: p.update(tree_size=2**70), "not a ledger inclusion proof: tree_size"),
        (lambda p: p.update(leaf_index=-1), "not a ledger inclusion proof: leaf_index"),
        (lambda p: p.update(entry={"kind": "x"}), "not a ledger inclusion proof: entry"),
        (lambda p: p["audit_path"].__setitem__(0, "ZZ" * 32), "inclusion proof: audit_path.0"),
        (lambda p: p["checkpoint"].update(signature="00"), "proof: checkpoint.signature"),
        (lambda p: p.update(note="trust me"), "not a ledger inclusion proof"),
    ],
)
def test_a_proof_altered_in_any_part_is_refused_naming_what_fails(
    ledger: Tamperable, tamper: Any, refusal: str
) -> None:
    from cme.audit_proof import ProofError, build_proof, check_proof

    ledger.grow(3)
    proof = build_proof(
        ledger.services.database_url, 2, ledger.signer.verifier(), schema=SCHEMA
    ).model_dump()
    assert check_proof(json.loads(json.dumps(proof)), ledger.signer.verifier())
    tamper(proof)
    with pytest.raises(ProofError, match=refusal):
        check_proof(proof, ledger.signer.verifier())


def test_no_proof_for_an_entry_no_root_signs_or_one_that_is_not_there(ledger: Tamperable) -> None:
    from cme.audit_proof import ProofError, build_proof

    ledger.grow(1)
    last = len(_entries(ledger))
    with pytest.raises(ProofError, match=f"the ledger has no entry {last + 1}"):
        build_proof(ledger.services.database_url, last + 1, ledger.signer.verifier(), schema=SCHEMA)
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints")
    with pytest.raises(ProofError, match="no checkpoint with a Merkle root signs entry 1 yet"):
        build_proof(ledger.services.database_url, 1, ledger.signer.verifier(), schema=SCHEMA)


def test_the_cli_proves_an_entry_and_checks_the_proof(tmp_path: Path, ledger: Tamperable) -> None:
    _write_live_ledger(ledger)
    out = tmp_path / "proof.json"
    proved = _cme_audit("prove", "1", "--out", str(out))
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert f"wrote {out}: entry 1 " in proved.stdout
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    checked = _cme_audit("check-proof", str(out), "--public-key", _public_key(ledger.signer))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK: entry 1 (")
    document = json.loads(out.read_text())
    document["entry"] = document["entry"].replace("{", "{ ", 1)
    out.write_text(json.dumps(document))
    refused = _cme_audit("check-proof", str(out))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "cme audit check-proof: entry 1 and its audit path do not lead to the signed Merkle root"
    ]
    missing = _cme_audit("prove", "999999999", "--out", str(tmp_path / "none.json"))
    assert missing.returncode == 1
    assert "the ledger has no entry 999999999" in missing.stderr
    assert not (tmp_path / "none.json").exists()


def _public_key(signer: CheckpointSigner) -> str:
    return f"{signer.key_id}:{signer.public_key_b64()}"


# Today's ledger extends a head kept earlier: an RFC 9162 consistency proof, no entry read.


def _resign_all(ledger: Tamperable) -> None:
    """As with a leaked key (the writer itself refuses): one checkpoint over the entries now."""
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints")
    entries = _entries(ledger)
    head = ledger.sql(f"SELECT entry_hash FROM {SCHEMA}.entries ORDER BY seq DESC LIMIT 1")[0][0]
    tree_root = merkle.root([merkle.leaf_hash(e) for e in entries]).hex()
    message = checkpoint_message(len(entries), head, "0" * 64, tree_root)
    ledger.sql(
        f"INSERT INTO {SCHEMA}.checkpoints "
        "(seq, head_hash, key_id, signature, prev_link, tree_root) VALUES (%s, %s, %s, %s, %s, %s)",
        (
            len(entries),
            head,
            ledger.signer.key_id,
            ledger.signer.sign(message),
            "0" * 64,
            tree_root,
        ),
    )


def test_a_kept_anchor_is_proven_extended_without_any_entry(ledger: Tamperable) -> None:
    from cme.audit_proof import build_consistency, check_consistency

    ledger.grow(2)
    anchor = ledger.anchor()
    ledger.grow(3)
    proof = build_consistency(
        ledger.services.database_url, anchor, ledger.signer.verifier(), schema=SCHEMA
    )
    assert (proof.old.seq, proof.new.seq) == (anchor.seq, len(_entries(ledger)))
    assert set(proof.model_dump()) == {"type", "old", "new", "path"}
    assert 0 < len(proof.path) <= 2 * proof.new.seq.bit_length()
    document = json.loads(proof.model_dump_json())
    assert check_consistency(document, ledger.signer.verifier(), anchor) == proof
    # The same head again: an empty path, and still a proof.
    same = build_consistency(
        ledger.services.database_url, ledger.anchor(), ledger.signer.verifier(), schema=SCHEMA
    )
    assert same.path == [] and check_consistency(
        json.loads(same.model_dump_json()), ledger.signer.verifier(), ledger.anchor()
    )


def test_a_ledger_rewritten_below_the_anchor_cannot_be_proven_to_extend_it(
    ledger: Tamperable,
) -> None:
    from cme.audit_proof import ProofError, build_consistency

    ledger.grow(3)
    anchor = ledger.anchor()
    first = anchor.seq - 1
    tail = _entries_from(ledger, first)
    _rewrite_from(ledger, first, [tail[1], tail[0]])
    _resign_all(ledger)  # signed again, chained again: only the anchor can tell
    with pytest.raises(ProofError, match="the ledger no longer extends the anchor"):
        build_consistency(
            ledger.services.database_url, anchor, ledger.signer.verifier(), schema=SCHEMA
        )


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        (lambda p: p["path"].__setitem__(0, "00" * 32), "does not extend the one signed at"),
        (lambda p: p["path"].pop(), "does not extend the one signed at"),
        (lambda p: p["new"].update(tree_root="ab" * 32), "newer head's signature is not valid"),
        (lambda p: p["new"].update(seq=p["new"]["seq"] + 1), "newer head's signature"),
        (lambda p: p["old"].update(tree_root="ab" * 32), "another head than your anchor"),
        (lambda p: p.update(path="00"), "not a ledger consistency proof: path"),
        (lambda p: p.pop("new"), "not a ledger consistency proof: new"),
    ],
)
def test_a_consistency_proof_altered_in_any_part_is_refused(
    ledger: Tamperable, tamper: Any, refusal: str
) -> None:
    from cme.audit_proof import ProofError, build_consistency, check_consistency

    ledger.grow(2)
    anchor = ledger.anchor()
    ledger.grow(3)
    document = build_consistency(
        ledger.services.database_url, anchor, ledger.signer.verifier(), schema=SCHEMA
    ).model_dump()
    tamper(document)
    with pytest.raises(ProofError, match=refusal):
        check_consistency(document, ledger.signer.verifier(), anchor)


def test_an_older_signed_head_passed_off_as_the_anchor_is_refused(ledger: Tamperable) -> None:
    """A proof from an earlier, genuinely signed head proves nothing about the auditor's."""
    from cme.audit_proof import ProofError, build_consistency, check_consistency

    ledger.grow(2)
    earlier = Anchor.from_checkpoint(
        LedgerReader(ledger.services.database_url, SCHEMA).checkpoints()[0]
    )
    kept = ledger.anchor()
    ledger.grow(3)
    other = build_consistency(
        ledger.services.database_url, earlier, ledger.signer.verifier(), schema=SCHEMA
    )
    with pytest.raises(ProofError, match="starts from another head than your anchor at entry"):
        check_consistency(other.model_dump(), ledger.signer.verifier(), kept)


def test_the_cli_proves_the_ledger_extends_an_anchor(tmp_path: Path, ledger: Tamperable) -> None:
    _write_live_ledger(ledger)
    anchor = tmp_path / "anchor.json"
    assert _cme_audit("anchor", "--out", str(anchor)).returncode == 0
    _write_live_ledger(ledger, batches=2)
    proof = tmp_path / "extends.json"
    proved = _cme_audit("prove", "--since", str(anchor), "--out", str(proof))
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert "extends the anchor at entry" in proved.stdout
    checked = _cme_audit("check-proof", str(proof), "--anchor", str(anchor))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK: the ledger signed at entry ")
    alone = _cme_audit("check-proof", str(proof))
    assert alone.returncode == 2
    assert alone.stderr.strip() == (
        "cme audit check-proof: a consistency proof is checked against the anchor you kept: "
        "give --anchor FILE"
    )
    not_anchor = _cme_audit("prove", "--since", str(proof), "--out", str(tmp_path / "x.json"))
    assert not_anchor.returncode != 0
    assert len(not_anchor.stderr.strip().splitlines()) == 1, not_anchor.stderr


def test_an_anchor_from_before_merkle_roots_is_sent_to_verify(ledger: Tamperable) -> None:
    from cme.audit_proof import ProofError, build_consistency

    ledger.grow(1)
    kept = ledger.anchor()
    old_style = Anchor(kept.seq, kept.head_hash, kept.key_id, kept.signature, kept.prev_link)
    with pytest.raises(ProofError, match="check it with `cme audit verify --anchor FILE`"):
        build_consistency(
            ledger.services.database_url, old_style, ledger.signer.verifier(), schema=SCHEMA
        )


def test_a_proof_is_made_from_the_newest_checkpoint_that_holds(ledger: Tamperable) -> None:
    """A newest checkpoint with a broken signature is passed over, not handed out."""
    from cme.audit_proof import build_proof, check_proof

    ledger.grow(3)
    newest = LedgerReader(ledger.services.database_url, SCHEMA).checkpoints()[-1]
    broken = bytes([newest.signature[0] ^ 1]) + newest.signature[1:]
    ledger.sql(
        f"UPDATE {SCHEMA}.checkpoints SET signature = %s WHERE seq = %s", (broken, newest.seq)
    )
    proof = build_proof(ledger.services.database_url, 1, ledger.signer.verifier(), schema=SCHEMA)
    assert proof.checkpoint.seq < newest.seq
    assert check_proof(proof.model_dump(), ledger.signer.verifier())["kind"]


def test_check_proof_reads_strictly_and_never_makes_a_key(
    tmp_path: Path, ledger: Tamperable
) -> None:
    _write_live_ledger(ledger)
    out = tmp_path / "proof.json"
    assert _cme_audit("prove", "1", "--out", str(out)).returncode == 0
    text = out.read_text()
    key = ["--public-key", _public_key(ledger.signer)]
    twice = tmp_path / "twice.json"
    twice.write_text(text.replace('"seq": 1,', '"seq": 1, "seq": 1,', 1))
    refused = _cme_audit("check-proof", str(twice), *key)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"cme audit check-proof: {twice} is not a proof: an object has the same member twice"
    )
    endless = tmp_path / "endless.json"
    endless.write_text(text.replace('"tree_size": ', '"tree_size": 1e999, "x": ', 1))
    refused = _cme_audit("check-proof", str(endless), *key)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    elsewhere = tmp_path / "elsewhere"
    keyless = subprocess.run(
        [sys.executable, "-m", "cme.cli", "audit", "check-proof", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "CME_DATA_DIR": str(elsewhere)},
    )
    assert keyless.returncode == 1
    assert "no ledger key to check signatures with: give --public-key" in keyless.stderr
    assert not (elsewhere / "secrets" / "ledger-signing-key").exists()


def test_a_truncation_hidden_by_moving_the_position_back_fails_once_it_is_old(
    ledger: Tamperable,
) -> None:
    """Entries and their checkpoints removed, the position set back over them: the events
    past the position are all that is left to tell, by their age (a stopped writer too)."""
    ledger.grow(3)
    last = int(ledger.sql(f"SELECT max(seq) FROM {SCHEMA}.entries")[0][0])
    ledger.sql(f"DELETE FROM {SCHEMA}.entries WHERE seq >= %s", (last - 1,))
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints WHERE seq >= %s", (last - 1,))
    ledger.sql(
        f"UPDATE {SCHEMA}.position SET position = "
        f"(SELECT notification_id FROM {SCHEMA}.entries WHERE seq = %s)",
        (last - 2,),
    )
    assert ledger.verify().ok  # as a writer a moment behind
    later = datetime.now(UTC) + timedelta(minutes=11)
    problems = " ".join(ledger.verify(now=later).problems)
    assert "events past the writer's position make entries the ledger lacks" in problems
    assert "more than 10 minutes old" in problems


def test_an_entry_numbered_below_one_is_refused_and_else_named(ledger: Tamperable) -> None:
    ledger.grow(1)
    first = _entries_from(ledger, 1)[0][1]
    row = (-1, 900_000_003, first, "0" * 64, chain_hash("0" * 64, first))
    insert = (
        f"INSERT INTO {SCHEMA}.entries (seq, notification_id, entry, prev_hash, entry_hash) "
        "VALUES (%s, %s, %s, %s, %s)"
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        ledger.sql(insert, row)
    ledger.sql(f"ALTER TABLE {SCHEMA}.entries DROP CONSTRAINT entries_numbered_from_one")
    ledger.sql(insert, row)
    problems = ledger.verify().problems
    assert "an entry numbered -1: the writer numbers them from 1 (put in by hand)" in problems


def test_a_checkpoint_in_an_older_format_after_a_newer_one_is_named(ledger: Tamperable) -> None:
    """A v2 checkpoint (no Merkle root) signed after v3 ones: a downgrade, as with a leaked key."""
    ledger.grow(2)
    previous = LedgerReader(ledger.services.database_url, SCHEMA).checkpoints()[-1]
    _write_live_ledger(ledger, batches=3)  # more entries in the run's store
    ledger.writer.catch_up()
    ledger.sql(f"DELETE FROM {SCHEMA}.checkpoints WHERE seq > %s", (previous.seq,))
    last, head = ledger.sql(
        f"SELECT seq, entry_hash FROM {SCHEMA}.entries ORDER BY seq DESC LIMIT 1"
    )[0]
    link = checkpoint_link(previous.message(), previous.signature)
    message = checkpoint_message(last, head, link)
    ledger.sql(
        f"INSERT INTO {SCHEMA}.checkpoints (seq, head_hash, key_id, signature, prev_link) "
        "VALUES (%s, %s, %s, %s, %s)",
        (last, head, ledger.signer.key_id, ledger.signer.sign(message), link),
    )
    problems = " ".join(ledger.verify().problems)
    assert f"checkpoint at entry {last}: in an older format (v2) than one before it (v3)" in (
        problems
    )


def test_an_anchor_not_signed_by_the_key_or_past_the_ledger_proves_nothing(
    ledger: Tamperable,
) -> None:
    from cme.audit_proof import ProofError, build_consistency, check_consistency

    ledger.grow(2)
    kept = ledger.anchor()
    ledger.grow(3)
    url, key = ledger.services.database_url, ledger.signer.verifier()
    genuine = build_consistency(url, kept, key, schema=SCHEMA).model_dump()
    flipped = Anchor(
        kept.seq,
        kept.head_hash,
        kept.key_id,
        bytes([kept.signature[0] ^ 1]) + kept.signature[1:],
        kept.prev_link,
        kept.tree_root,
    )
    with pytest.raises(ProofError, match="the anchor's signature is not valid"):
        build_consistency(url, flipped, key, schema=SCHEMA)
    with pytest.raises(ProofError, match="the anchor's signature is not valid"):
        check_consistency(genuine, key, flipped)
    ledger.sql(f"DELETE FROM {SCHEMA}.entries WHERE seq >= %s", (kept.seq,))
    with pytest.raises(ProofError, match=f"anchor at entry {kept.seq}: that entry is gone"):
        build_consistency(url, kept, key, schema=SCHEMA)


def test_checkpoint_and_anchor_keep_nothing_over_a_checkpoint_that_does_not_verify(
    tmp_path: Path, ledger: Tamperable
) -> None:
    """A row put past the head stops the writer signing: saying "signed", or anchoring
    that row, would hand the auditor evidence that fails later."""
    _write_live_ledger(ledger)
    forged = 10**9
    head = ledger.sql("SELECT entry_hash FROM ledger.entries ORDER BY seq DESC LIMIT 1")[0][0]
    ledger.sql(
        "INSERT INTO ledger.checkpoints (seq, head_hash, key_id, signature, prev_link) "
        "VALUES (%s, %s, %s, %s, %s)",
        (forged, head, ledger.signer.key_id, b"\x00" * 64, "0" * 64),
    )
    try:
        for command in (["checkpoint"], ["anchor", "--out", str(tmp_path / "a.json")]):
            refused = _cme_audit(*command)
            assert refused.returncode == 1, refused.stdout
            assert refused.stderr.strip().splitlines() == [
                refused.stderr.strip().splitlines()[0]
            ], refused.stderr
            assert "does not verify, or one lies past it" in refused.stderr
        assert not (tmp_path / "a.json").exists()
    finally:
        ledger.sql("DELETE FROM ledger.checkpoints WHERE seq = %s", (forged,))
    inclusion = tmp_path / "proof.json"
    assert _cme_audit("prove", "1", "--out", str(inclusion)).returncode == 0
    assert _cme_audit("anchor", "--out", str(tmp_path / "b.json")).returncode == 0
    mixed = _cme_audit("check-proof", str(inclusion), "--anchor", str(tmp_path / "b.json"))
    assert mixed.returncode == 2
    assert "--anchor is for a consistency proof" in mixed.stderr
