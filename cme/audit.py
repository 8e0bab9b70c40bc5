"""`cme audit verify`: recompute the ledger's hash chain and check every signed checkpoint.

Runs as the read-only auditor role. Reports OK with counts, or the first
entry where the chain breaks and what differs; a checkpoint past the last
entry (rows removed after it was signed) is reported too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from crypto_shredding.signing import CheckpointVerifier
from projections.ledger import GENESIS, chain_hash, checkpoint_message


@dataclass
class Verification:
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_entry(
    seq: int, expected_seq: int, entry: bytes, prev_hash: str, entry_hash: str, previous: str
) -> str | None:
    if seq != expected_seq:
        return f"entry {expected_seq} is missing (next is {seq})"
    if prev_hash != previous:
        return f"entry {seq}: prev_hash does not match the hash of entry {seq - 1}"
    if chain_hash(previous, entry) != entry_hash:
        return f"entry {seq}: content does not match its hash (altered after writing)"
    return None


def verify_ledger(
    url: str,
    verifier: CheckpointVerifier,
    schema: str = "ledger",
    progress: Callable[[int], None] = lambda _: None,
    chunk: int = 20_000,
) -> Verification:
    result = Verification()
    heads: dict[int, str] = {}
    with psycopg.connect(url) as conn:
        checkpoints = conn.execute(
            f"SELECT seq, head_hash, key_id, signature FROM {schema}.checkpoints ORDER BY seq"
        ).fetchall()
        wanted = {int(c[0]) for c in checkpoints}
        previous, expected_seq, after = GENESIS, 1, 0
        while True:
            rows = conn.execute(
                f"SELECT seq, entry, prev_hash, entry_hash FROM {schema}.entries "
                "WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, chunk),
            ).fetchall()
            if not rows:
                break
            for seq, entry, prev_hash, entry_hash in rows:
                if not result.problems:
                    problem = _check_entry(
                        seq, expected_seq, bytes(entry), prev_hash, entry_hash, previous
                    )
                    if problem:
                        result.problems.append(problem)
                previous = entry_hash
                expected_seq = seq + 1
                if seq in wanted:
                    heads[seq] = entry_hash
                result.entries += 1
            after = rows[-1][0]
            progress(result.entries)
    for seq, head_hash, key_id, signature in checkpoints:
        result.checkpoints += 1
        if not verifier.valid(key_id, checkpoint_message(seq, head_hash), bytes(signature)):
            result.problems.append(f"checkpoint at entry {seq}: the signature is not valid")
        elif seq not in heads:
            result.problems.append(
                f"checkpoint at entry {seq}: that entry is gone (the ledger was truncated after it)"
            )
        elif heads[seq] != head_hash:
            result.problems.append(f"checkpoint at entry {seq}: the chain's head has changed since")
    return result


def ledger_parked(url: str) -> int:
    """How many events the ledger writer set aside (the ledger is incomplete until replayed)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM ledger.parked").fetchone()
    return int(row[0]) if row else 0
