"""`cme audit prove` and `cme audit check-proof`: one entry in the signed ledger, shown alone.

A data subject asking "was my record shared with the police?" can be shown the
ledger entry about them and proof that the council's signed ledger holds it,
without anyone else's entries: the entry, its place, the RFC 9162 audit path
(about log2(n) hashes) and the signed checkpoint whose Merkle root the path
leads to. Anyone with the council's public key checks it, with this command or
the few lines of Python in README.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from crypto_shredding.signing import CheckpointVerifier
from domain.commands import location, message_of
from projections.ledger import checkpoint_message
from projections.ledger_store import LedgerReader
from projections.merkle import inclusion_path, leaf_hash, root, root_from_path

ProofType = Literal["cme.ledger.inclusion-proof.v1"]
PROOF_TYPE: ProofType = "cme.ledger.inclusion-proof.v1"
LARGEST = 2**63 - 1  # a PostgreSQL bigint: no ledger holds more entries

Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=1, le=LARGEST)]


class SignedCheckpoint(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    seq: Count
    head_hash: Digest
    prev_link: Digest
    tree_root: Digest
    """The RFC 9162 Merkle root of entries 1..seq, signed with the rest."""
    key_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    signature: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]


class InclusionProof(BaseModel):
    """One entry and the path from it to a signed Merkle root: no other entry is in it."""

    model_config = ConfigDict(strict=True, extra="forbid")

    type: ProofType
    seq: Count
    entry: str
    """The entry's canonical JSON, exactly as hashed."""
    leaf_index: Annotated[int, Field(ge=0, le=LARGEST)]
    tree_size: Count
    audit_path: Annotated[list[Digest], Field(max_length=64)]
    checkpoint: SignedCheckpoint


class ProofError(ValueError):
    """No proof can be made, or a document is not one: the message says which."""


class NoSuchEntryError(ProofError):
    """The ledger has no entry with that number."""


def build_proof(url: str, seq: int, schema: str = "ledger") -> InclusionProof:
    """The inclusion proof of entry ``seq`` in the newest checkpoint with a Merkle root."""
    ledger = LedgerReader(url, schema)
    entry = ledger.entry(seq)
    if entry is None:
        msg = f"the ledger has no entry {seq}"
        raise NoSuchEntryError(msg)
    signing = [c for c in ledger.checkpoints() if c.tree_root is not None and c.seq >= seq]
    if not signing:
        msg = (
            f"no checkpoint with a Merkle root signs entry {seq} yet; "
            "`cme audit checkpoint` signs the head"
        )
        raise ProofError(msg)
    checkpoint = signing[-1]
    leaves = ledger.leaves(checkpoint.seq)
    if len(leaves) != checkpoint.seq or root(leaves).hex() != checkpoint.tree_root:
        msg = (
            f"the entries up to {checkpoint.seq} are not the tree its checkpoint signed: "
            "run `cme audit verify`"
        )
        raise ProofError(msg)
    return InclusionProof(
        type=PROOF_TYPE,
        seq=seq,
        entry=entry.entry.decode(),
        leaf_index=seq - 1,
        tree_size=checkpoint.seq,
        audit_path=[h.hex() for h in inclusion_path(seq - 1, leaves)],
        checkpoint=SignedCheckpoint(
            seq=checkpoint.seq,
            head_hash=checkpoint.head_hash,
            prev_link=checkpoint.prev_link or "",
            tree_root=checkpoint.tree_root,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature.hex(),
        ),
    )


def check_proof(document: Any, verifier: CheckpointVerifier) -> dict[str, Any]:
    """The proven entry, parsed; :class:`ProofError` naming the first thing that does not hold."""
    try:
        proof = InclusionProof.model_validate(document)
    except ValidationError as invalid:
        first = invalid.errors(include_url=False, include_input=False, include_context=False)[0]
        where = location(first["loc"], first["type"]) or "the document"
        msg = f"not a ledger inclusion proof: {where}: {message_of(first)}"
        raise ProofError(msg) from None
    c = proof.checkpoint
    message = checkpoint_message(c.seq, c.head_hash, c.prev_link, c.tree_root)
    if not verifier.valid(c.key_id, message, bytes.fromhex(c.signature)):
        msg = "the checkpoint's signature is not valid for the council's ledger key"
        raise ProofError(msg)
    if proof.tree_size != c.seq or proof.leaf_index != proof.seq - 1:
        msg = "the proof's entry or tree size is not the checkpoint's"
        raise ProofError(msg)
    path = [bytes.fromhex(h) for h in proof.audit_path]
    reached = root_from_path(
        proof.leaf_index, proof.tree_size, leaf_hash(proof.entry.encode()), path
    )
    if reached is None or reached.hex() != c.tree_root:
        msg = f"entry {proof.seq} and its audit path do not lead to the signed Merkle root"
        raise ProofError(msg)
    parsed = json.loads(proof.entry)  # signed by the council's key: one of its own entries
    if not isinstance(parsed, dict):
        msg = f"entry {proof.seq} is not a ledger entry"
        raise ProofError(msg)
    return parsed
