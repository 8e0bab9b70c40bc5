"""`cme audit verify`: recompute the ledger's hash chain and check every signed checkpoint.

Runs as the read-only auditor role. Reports OK with counts, or the first
entry where the chain breaks and what differs; a checkpoint past the last
entry (rows removed after it was signed) is reported too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crypto_shredding.signing import CheckpointVerifier
from projections.ledger import GENESIS, chain_hash, checkpoint_link, checkpoint_message
from projections.ledger_store import Checkpoint, LedgerReader


@dataclass
class Verification:
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unsigned_tail: int = 0
    """Entries after the last signed checkpoint."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Anchor:
    """A signed head an auditor kept: today's ledger must still extend it."""

    seq: int
    head_hash: str
    key_id: str
    signature: bytes
    prev_link: str | None

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.head_hash, self.prev_link)

    def to_json(self) -> str:
        return json.dumps(
            {
                "type": "checkpoint",
                "seq": self.seq,
                "head_hash": self.head_hash,
                "key_id": self.key_id,
                "signature": self.signature.hex(),
                "prev_link": self.prev_link,
            },
            indent=2,
        )

    @classmethod
    def from_text(cls, text: str) -> Anchor:
        """An anchor file, or an export (JSON Lines): its last checkpoint is the anchor."""
        try:
            whole = json.loads(text)
            documents = [whole] if isinstance(whole, dict) else []
        except json.JSONDecodeError:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        checkpoints = [d for d in documents if d.get("type") == "checkpoint"]
        if not checkpoints:
            msg = "the anchor file holds no signed checkpoint"
            raise ValueError(msg)
        last = max(checkpoints, key=lambda d: int(d["seq"]))
        return cls(
            int(last["seq"]),
            str(last["head_hash"]),
            str(last["key_id"]),
            bytes.fromhex(last["signature"]),
            last.get("prev_link"),
        )

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> Anchor:
        return cls(
            checkpoint.seq,
            checkpoint.head_hash,
            checkpoint.key_id,
            checkpoint.signature,
            checkpoint.prev_link,
        )


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
    anchor: Anchor | None = None,
    tail_grace: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
) -> Verification:
    """Recompute the chain; check every checkpoint's signature and link; hold it to an anchor.

    The writer signs the head in the transaction of every batch, each
    checkpoint linked to the one before, so: a removed checkpoint breaks
    the next one's link; entries signed by no checkpoint are a warning, and
    a problem once they are older than ``tail_grace`` (the checkpoint that
    signed them was removed); a rollback, truncation or rewrite since an
    auditor's ``anchor`` fails against it.
    """
    result = Verification()
    heads: dict[int, str] = {}
    ledger = LedgerReader(url, schema)
    checkpoints = ledger.checkpoints()
    wanted = {c.seq for c in checkpoints} | ({anchor.seq} if anchor else set())
    previous, expected_seq, last_seq = GENESIS, 1, 0
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
            last_seq = row.seq
        progress(result.entries)
    result.problems += _check_checkpoints(checkpoints, heads, verifier, result)
    _check_tail(ledger, checkpoints, last_seq, tail_grace, now, result)
    if anchor is not None:
        result.problems += _check_anchor(anchor, heads, verifier)
    return result


def _check_checkpoints(
    checkpoints: list[Checkpoint],
    heads: dict[int, str],
    verifier: CheckpointVerifier,
    result: Verification,
) -> list[str]:
    problems = []
    link: str | None = None  # the link the next version 2 checkpoint must carry
    for checkpoint in checkpoints:
        seq, head_hash = checkpoint.seq, checkpoint.head_hash
        result.checkpoints += 1
        message = checkpoint_message(seq, head_hash, checkpoint.prev_link)
        if not verifier.valid(checkpoint.key_id, message, checkpoint.signature):
            problems.append(f"checkpoint at entry {seq}: the signature is not valid")
        elif checkpoint.prev_link is not None and checkpoint.prev_link != (link or GENESIS):
            problems.append(
                f"checkpoint at entry {seq}: the checkpoint before it is missing or altered "
                "(its link does not match)"
            )
        elif seq not in heads:
            problems.append(
                f"checkpoint at entry {seq}: that entry is gone (the ledger was truncated after it)"
            )
        elif heads[seq] != head_hash:
            problems.append(f"checkpoint at entry {seq}: the chain's head has changed since")
        link = checkpoint_link(message, checkpoint.signature)
    return problems


def _check_tail(
    ledger: LedgerReader,
    checkpoints: list[Checkpoint],
    last_seq: int,
    grace: timedelta,
    now: datetime | None,
    result: Verification,
) -> None:
    signed = checkpoints[-1].seq if checkpoints else 0
    result.unsigned_tail = max(0, last_seq - signed)
    if not result.unsigned_tail:
        return
    first = signed + 1
    span = f"entries {first}-{last_seq}" if last_seq > first else f"entry {first}"
    written = ledger.recorded_at(first)
    result.warnings.append(
        f"{span} ({result.unsigned_tail}) signed by no checkpoint yet; "
        "`cme audit checkpoint` signs the head now"
    )
    if written is not None and (now or datetime.now(UTC)) - written > grace:
        minutes = int(grace.total_seconds() // 60)
        result.problems.append(
            f"{span} signed by no checkpoint though written more than {minutes} minutes ago: "
            "the writer signs every batch, so a checkpoint was removed"
        )


def _check_anchor(anchor: Anchor, heads: dict[int, str], verifier: CheckpointVerifier) -> list[str]:
    if not verifier.valid(anchor.key_id, anchor.message(), anchor.signature):
        return ["the anchor's signature is not valid (not a checkpoint of this ledger's key)"]
    if anchor.seq not in heads:
        return [
            f"anchor at entry {anchor.seq}: that entry is gone "
            "(the ledger was rolled back or truncated since the anchor)"
        ]
    if heads[anchor.seq] != anchor.head_hash:
        return [
            f"anchor at entry {anchor.seq}: the chain up to it has been rewritten since the anchor"
        ]
    return []
