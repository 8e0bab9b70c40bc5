"""`cme audit verify`: recompute the ledger's hash chain and check every signed checkpoint.

Runs as the read-only auditor role. Reports OK with counts, or the first
entry where the chain breaks and what differs; a checkpoint past the last
entry (rows removed after it was signed) is reported too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crypto_shredding.signing import CheckpointVerifier
from projections.ledger import GENESIS, chain_hash, checkpoint_message
from projections.ledger_store import LedgerReader


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
    ledger = LedgerReader(url, schema)
    checkpoints = ledger.checkpoints()
    wanted = {c.seq for c in checkpoints}
    previous, expected_seq = GENESIS, 1
    for rows in ledger.chain(chunk):
        for row in rows:
            if not result.problems:
                problem = _check_entry(
                    row.seq, expected_seq, row.entry, row.prev_hash, row.entry_hash, previous
                )
                if problem:
                    result.problems.append(problem)
            previous = row.entry_hash
            expected_seq = row.seq + 1
            if row.seq in wanted:
                heads[row.seq] = row.entry_hash
            result.entries += 1
        progress(result.entries)
    for checkpoint in checkpoints:
        seq, head_hash = checkpoint.seq, checkpoint.head_hash
        result.checkpoints += 1
        message = checkpoint_message(seq, head_hash)
        if not verifier.valid(checkpoint.key_id, message, checkpoint.signature):
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
    return LedgerReader(url).parked_count()
