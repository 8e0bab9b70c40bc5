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
from typing import Annotated, Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from consumers import strict_json
from consumers.ledger_check import LEDGER_TOPICS, EntryDeriver, ledger_shape_problems
from crypto_shredding.signing import CheckpointVerifier
from domain.commands import location, message_of
from projections.ledger import GENESIS, chain_hash, checkpoint_link, checkpoint_message
from projections.ledger_store import Checkpoint, LedgerReader, StoredEntry
from projections.merkle import Frontier, leaf_hash


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


# A checkpoint's fields as files carry them (anchors, exports, proofs): lower-case hex only.
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
SignatureHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
KeyId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=1, le=2**63 - 1)]  # a PostgreSQL bigint's range


class _KeptCheckpoint(BaseModel):
    """A checkpoint as an anchor file or an export line holds it."""

    model_config = ConfigDict(strict=True, extra="ignore")

    seq: Count
    head_hash: Digest
    key_id: KeyId
    signature: SignatureHex
    prev_link: Digest | None = None
    tree_root: Digest | None = None


@dataclass(frozen=True)
class Anchor:
    """A signed head an auditor kept: today's ledger must still extend it."""

    seq: int
    head_hash: str
    key_id: str
    signature: bytes
    prev_link: str | None
    tree_root: str | None = None

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.head_hash, self.prev_link, self.tree_root)

    def to_json(self) -> str:
        return json.dumps(
            {
                "type": "checkpoint",
                "seq": self.seq,
                "head_hash": self.head_hash,
                "key_id": self.key_id,
                "signature": self.signature.hex(),
                "prev_link": self.prev_link,
                "tree_root": self.tree_root,
            },
            indent=2,
        )

    @classmethod
    def from_text(cls, text: str) -> Anchor:
        """An anchor file, or an export (JSON Lines): its last checkpoint is the anchor.

        Read strictly (no member twice, no NaN or Infinity, bounded numbers) and
        typed: a file that two readers could read differently anchors nothing.
        """
        limits = strict_json.Limits(string=1_000_000)
        try:
            whole = strict_json.loads(text, limits)
            documents = [whole] if isinstance(whole, dict) else []
        except strict_json.JsonRefusedError as refused:
            if refused.rule != "not_json":
                raise ValueError(refused.message) from None
            documents = [
                strict_json.loads(line, limits) for line in text.splitlines() if line.strip()
            ]
        checkpoints = [
            d for d in documents if isinstance(d, dict) and d.get("type") == "checkpoint"
        ]
        if not checkpoints:
            msg = "the anchor file holds no signed checkpoint"
            raise ValueError(msg)
        try:
            kept = [_KeptCheckpoint.model_validate(d) for d in checkpoints]
        except ValidationError as invalid:
            first = invalid.errors(include_url=False, include_input=False, include_context=False)[0]
            msg = f"a checkpoint's {location(first['loc'], first['type'])}: {message_of(first)}"
            raise ValueError(msg) from None
        last = max(kept, key=lambda c: c.seq)
        return cls(
            last.seq,
            last.head_hash,
            last.key_id,
            bytes.fromhex(last.signature),
            last.prev_link,
            last.tree_root,
        )

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> Anchor:
        return cls(
            checkpoint.seq,
            checkpoint.head_hash,
            checkpoint.key_id,
            checkpoint.signature,
            checkpoint.prev_link,
            checkpoint.tree_root,
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
    events_table: str | None = "eventstore.cme_events",
    deep: bool = False,
) -> Verification:
    """Recompute the chain; check every checkpoint's signature and link; hold it to an anchor.

    With ``events_table`` (the auditor role may read the event store), the
    ledger's shape is held to the log (an entry for every event that makes
    one, in the log's order) and the entries no checkpoint signs yet are
    derived again from their events. ``deep`` derives every entry again: a
    signed entry can differ from its event only if the signing key was used
    by someone else, and that check costs a pass over every event (about a
    seventh of the chain-only speed). Without ``events_table`` the check is
    the outside verifier's: chain, signatures, anchor.

    The writer signs the head in the transaction of every batch, each
    checkpoint linked to the one before, so: a removed checkpoint breaks
    the next one's link; entries signed by no checkpoint are a warning, and
    a problem once they are older than ``tail_grace`` (the checkpoint that
    signed them was removed); a rollback, truncation or rewrite since an
    auditor's ``anchor`` fails against it.
    """
    result = Verification()
    heads: dict[int, str] = {}
    roots: dict[int, str] = {}  # the Merkle root of entries 1..seq, where a checkpoint signs one
    tree = Frontier()
    ledger = LedgerReader(url, schema)
    checkpoints = ledger.checkpoints()
    wanted = {c.seq for c in checkpoints} | ({anchor.seq} if anchor else set())
    # Read before the entries: what the writer appends meanwhile lies past it and is left
    # out of the shape check, instead of reading as events the ledger lacks.
    position = ledger.position()
    previous, expected_seq, last_seq = GENESIS, 1, 0
    tail_at: datetime | None = None
    signed = checkpoints[-1].seq if checkpoints else 0
    rederive = _rederiver(url, events_table)
    broken: list[str] = []  # the first break of the chain (what follows it says little)
    order: list[tuple[int, int]] = []  # (seq, notification id) of every entry
    derived: list[str] = []  # entries their events do not make
    for rows in ledger.chain(chunk):
        derived += rederive([r for r in rows if deep or r.seq > signed])
        for row in rows:
            if row.seq < 1:  # not the writer's: named, and kept out of the chain and tree
                broken.append(
                    f"an entry numbered {row.seq}: the writer numbers them from 1 (put in by hand)"
                )
                continue
            if not broken:
                problem = _check_entry(
                    row.seq, expected_seq, row.entry, row.prev_hash, row.entry_hash, previous
                )
                if problem:
                    broken.append(problem)
            previous = row.entry_hash
            expected_seq = row.seq + 1
            tree.append(leaf_hash(row.entry))
            if row.seq in wanted:
                heads[row.seq] = row.entry_hash
                roots[row.seq] = tree.root().hex()
            if row.seq == signed + 1:
                tail_at = _entry_time(row.entry)
            order.append((row.seq, row.notification_id))
            result.entries += 1
            last_seq = row.seq
        progress(result.entries)
    result.problems += broken + derived[:5]
    if len(derived) > 5:
        result.problems.append(f"… and {len(derived) - 5} more entries not made by their events")
    if events_table is not None:
        with psycopg.connect(url) as conn:
            result.problems += ledger_shape_problems(
                conn, schema, events_table, order, position, signed_through=signed, settled=False
            )
            result.problems += _left_behind(conn, events_table, position, tail_grace, now)
    result.problems += _check_checkpoints(checkpoints, heads, roots, verifier, result)
    _check_tail(signed, tail_at, last_seq, tail_grace, now, result)
    if anchor is not None:
        result.problems += _check_anchor(anchor, heads, roots, verifier)
    return result


def _check_checkpoints(
    checkpoints: list[Checkpoint],
    heads: dict[int, str],
    roots: dict[int, str],
    verifier: CheckpointVerifier,
    result: Verification,
) -> list[str]:
    problems = []
    link: str | None = None  # the link the next version 2 checkpoint must carry
    newest_format = 1
    for checkpoint in checkpoints:
        seq, head_hash = checkpoint.seq, checkpoint.head_hash
        result.checkpoints += 1
        message = checkpoint.message()
        version = 1 if checkpoint.prev_link is None else 2 if checkpoint.tree_root is None else 3
        newest_format = max(newest_format, version)
        if version < newest_format:
            problems.append(
                f"checkpoint at entry {seq}: in an older format (v{version}) than one before it "
                f"(v{newest_format}): the writer never goes back, so it was put in by hand"
            )
        elif checkpoint.key_id not in verifier.public_keys:
            problems.append(
                f"checkpoint at entry {seq}: signed with a key id that is not one of the "
                "ledger's keys given (--public-key or CME_LEDGER_PUBLIC_KEY)"
            )
        elif not verifier.valid(checkpoint.key_id, message, checkpoint.signature):
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
        elif checkpoint.tree_root is not None and roots[seq] != checkpoint.tree_root:
            problems.append(
                f"checkpoint at entry {seq}: its Merkle root is not the root of the entries "
                "up to it"
            )
        link = checkpoint_link(message, checkpoint.signature)
    return problems


def _check_tail(
    signed: int,
    first_at: datetime | None,
    last_seq: int,
    grace: timedelta,
    now: datetime | None,
    result: Verification,
) -> None:
    """Entries after the last checkpoint: a warning, a problem once their event is old.

    The age is the first unsigned entry's own time (its event's, inside the
    hashed entry and checked against the event store), not the table's
    ``recorded_at``, which anyone able to write the table can refresh.
    """
    result.unsigned_tail = max(0, last_seq - signed)
    if not result.unsigned_tail:
        return
    first = signed + 1
    span = f"entries {first}-{last_seq}" if last_seq > first else f"entry {first}"
    result.warnings.append(
        f"{span} ({result.unsigned_tail}) signed by no checkpoint yet; `cme audit checkpoint` "
        "signs the head once the writer has checked them against the event store"
    )
    if first_at is not None and (now or datetime.now(UTC)) - first_at > grace:
        minutes = int(grace.total_seconds() // 60)
        result.problems.append(
            f"{span} signed by no checkpoint though their events are more than {minutes} "
            "minutes old: the writer signs every batch, so a checkpoint was removed"
        )


def _left_behind(
    conn: psycopg.Connection[Any],
    events_table: str,
    position: int,
    grace: timedelta,
    now: datetime | None,
) -> list[str]:
    """Events past the writer's position that make entries, once the oldest is old.

    The writer reads the log within seconds, so such events are a stopped
    writer, or a truncation hidden by moving the position back over the
    entries removed (with their checkpoints): without an anchor only their
    age tells, as for entries no checkpoint signs.
    """
    count, first = conn.execute(
        f"SELECT count(*), min(notification_id) FROM {events_table} "
        "WHERE topic = ANY(%s) AND notification_id > %s",
        (LEDGER_TOPICS, position),
    ).fetchone() or (0, None)
    if not count:
        return []
    event = conn.execute(
        f"SELECT originator_id, originator_version, topic, state FROM {events_table} "
        "WHERE notification_id = %s",
        (first,),
    ).fetchone()
    try:
        deriver = EntryDeriver(events_table)
        entry = deriver.entry(event[0], event[1], event[2], bytes(event[3])) if event else None
        at = datetime.fromisoformat(entry["at"]) if entry else None
    except Exception:  # an event the writer would park: its age is unknown here
        at = None
    if at is None or (now or datetime.now(UTC)) - at <= grace:
        return []
    minutes = int(grace.total_seconds() // 60)
    return [
        f"{count} events past the writer's position make entries the ledger lacks, the oldest "
        f"(event {first}) more than {minutes} minutes old: the ledger writer has stopped, or "
        "its position was moved back over removed entries (an anchor tells which)"
    ]


def _entry_time(entry: bytes) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(entry)["at"])
    except (ValueError, KeyError, TypeError):
        return None  # a malformed entry: the chain or the event check reports it


def _rederiver(url: str, events_table: str | None) -> Callable[[list[StoredEntry]], list[str]]:
    """A check of each chunk of entries against the events that should have made them."""
    if events_table is None:
        return lambda _: []
    deriver = EntryDeriver(events_table)

    def check(rows: list[StoredEntry]) -> list[str]:
        if not rows:
            return []
        with psycopg.connect(url) as conn:
            return list(deriver.problems(conn, [(r.seq, r.notification_id, r.entry) for r in rows]))

    return check


def _check_anchor(
    anchor: Anchor, heads: dict[int, str], roots: dict[int, str], verifier: CheckpointVerifier
) -> list[str]:
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
    if anchor.tree_root is not None and roots[anchor.seq] != anchor.tree_root:
        return [f"anchor at entry {anchor.seq}: the entries up to it are not the anchor's tree"]
    return []
