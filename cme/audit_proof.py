"""`cme audit prove` and `cme audit check-proof`: RFC 9162 proofs over the signed ledger.

An inclusion proof shows one entry alone. A data subject asking "was my record
shared with the police?" can be shown the ledger entry about them and proof
that the council's signed ledger holds it, without anyone else's entries: the
entry, its place, the audit path (about log2(n) hashes) and the signed
checkpoint whose Merkle root the path leads to.

A consistency proof shows that today's signed ledger extends a head an auditor
kept (an anchor) without reading a single entry: about log2(n) hashes between
the two signed roots. Anyone with the council's public key checks either, with
this command or README's few lines of Python.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cme.audit import Anchor, Count, Digest, KeyId, SignatureHex
from crypto_shredding.signing import CheckpointVerifier
from domain.commands import location, message_of
from projections.ledger import checkpoint_message
from projections.ledger_store import Checkpoint, LedgerReader
from projections.merkle import (
    consistency_path,
    consistent,
    inclusion_path,
    leaf_hash,
    root,
    root_from_path,
)

ProofType = Literal["cme.ledger.inclusion-proof.v1"]
PROOF_TYPE: ProofType = "cme.ledger.inclusion-proof.v1"
ConsistencyType = Literal["cme.ledger.consistency-proof.v1"]
CONSISTENCY_TYPE: ConsistencyType = "cme.ledger.consistency-proof.v1"


class SignedCheckpoint(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    seq: Count
    head_hash: Digest
    prev_link: Digest
    tree_root: Digest
    """The RFC 9162 Merkle root of entries 1..seq, signed with the rest."""
    key_id: KeyId
    signature: SignatureHex

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> SignedCheckpoint:
        return cls(
            seq=checkpoint.seq,
            head_hash=checkpoint.head_hash,
            prev_link=checkpoint.prev_link or "",
            tree_root=checkpoint.tree_root or "",
            key_id=checkpoint.key_id,
            signature=checkpoint.signature.hex(),
        )

    def signed_by(self, verifier: CheckpointVerifier) -> bool:
        message = checkpoint_message(self.seq, self.head_hash, self.prev_link, self.tree_root)
        return verifier.valid(self.key_id, message, bytes.fromhex(self.signature))


class InclusionProof(BaseModel):
    """One entry and the path from it to a signed Merkle root: no other entry is in it."""

    model_config = ConfigDict(strict=True, extra="forbid")

    type: ProofType
    seq: Count
    entry: str
    """The entry's canonical JSON, exactly as hashed."""
    leaf_index: Annotated[int, Field(ge=0, le=2**63 - 2)]
    tree_size: Count
    audit_path: Annotated[list[Digest], Field(max_length=64)]
    checkpoint: SignedCheckpoint


class ConsistencyProof(BaseModel):
    """Two signed heads and the hashes that show the older tree is a prefix of the newer."""

    model_config = ConfigDict(strict=True, extra="forbid")

    type: ConsistencyType
    old: SignedCheckpoint
    new: SignedCheckpoint
    path: Annotated[list[Digest], Field(max_length=128)]


class ProofError(ValueError):
    """No proof can be made, or a document is not one: the message says which."""


class NoSuchEntryError(ProofError):
    """The ledger has no entry with that number."""


def build_proof(
    url: str, seq: int, verifier: CheckpointVerifier, schema: str = "ledger"
) -> InclusionProof:
    """The inclusion proof of entry ``seq`` in the newest good checkpoint over it."""
    ledger = LedgerReader(url, schema)
    entry = ledger.entry(seq)
    if entry is None:
        msg = f"the ledger has no entry {seq}"
        raise NoSuchEntryError(msg)
    checkpoint, leaves = _signed_tree(ledger, seq, verifier)
    return InclusionProof(
        type=PROOF_TYPE,
        seq=seq,
        entry=entry.entry.decode(),
        leaf_index=seq - 1,
        tree_size=checkpoint.seq,
        audit_path=[h.hex() for h in inclusion_path(seq - 1, leaves)],
        checkpoint=SignedCheckpoint.of(checkpoint),
    )


def build_consistency(
    url: str, anchor: Anchor, verifier: CheckpointVerifier, schema: str = "ledger"
) -> ConsistencyProof:
    """The proof that the newest good head with a Merkle root extends ``anchor``."""
    kept = _kept_head(anchor, verifier)
    ledger = LedgerReader(url, schema)
    if ledger.entry(anchor.seq) is None:
        msg = (
            f"anchor at entry {anchor.seq}: that entry is gone (the ledger was rolled back or "
            "truncated since the anchor)"
        )
        raise ProofError(msg)
    head, leaves = _signed_tree(ledger, anchor.seq, verifier)
    if root(leaves[: anchor.seq]).hex() != kept.tree_root:
        msg = (
            f"the ledger no longer extends the anchor: the entries up to {anchor.seq} are not "
            "the tree it signed (rewritten since)"
        )
        raise ProofError(msg)
    return ConsistencyProof(
        type=CONSISTENCY_TYPE,
        old=kept,
        new=SignedCheckpoint.of(head),
        path=[h.hex() for h in consistency_path(anchor.seq, leaves)],
    )


def _kept_head(anchor: Anchor, verifier: CheckpointVerifier) -> SignedCheckpoint:
    """The anchor as a signed head with a Merkle root, if it is one the ledger's key signed."""
    if anchor.tree_root is None or anchor.prev_link is None:
        msg = (
            f"the anchor at entry {anchor.seq} was signed before checkpoints carried a Merkle "
            "root; check it with `cme audit verify --anchor FILE`"
        )
        raise ProofError(msg)
    kept = SignedCheckpoint(
        seq=anchor.seq,
        head_hash=anchor.head_hash,
        prev_link=anchor.prev_link,
        tree_root=anchor.tree_root,
        key_id=anchor.key_id,
        signature=anchor.signature.hex(),
    )
    if not kept.signed_by(verifier):
        msg = "the anchor's signature is not valid (not a checkpoint of this ledger's key)"
        raise ProofError(msg)
    return kept


def _signed_tree(
    ledger: LedgerReader, seq: int, verifier: CheckpointVerifier
) -> tuple[Checkpoint, list[bytes]]:
    """The newest checkpoint over entry ``seq`` that holds, and the leaves of its tree.

    It holds if the key signed it and its Merkle root is the entries' own; a
    proof is never handed out from one the checker would refuse. A newer one
    that does not hold is skipped (`cme audit verify` names it).
    """
    rooted = [c for c in ledger.checkpoints() if c.tree_root is not None and c.seq >= seq]
    if not rooted:
        msg = (
            f"no checkpoint with a Merkle root signs entry {seq} yet; "
            "`cme audit checkpoint` signs the head"
        )
        raise ProofError(msg)
    leaves = ledger.leaves(rooted[-1].seq)
    for checkpoint in reversed(rooted):
        tree = leaves[: checkpoint.seq]
        signed = SignedCheckpoint.of(checkpoint).signed_by(verifier)
        if signed and len(tree) == checkpoint.seq and root(tree).hex() == checkpoint.tree_root:
            return checkpoint, tree
    msg = (
        f"no checkpoint over entry {seq} is both signed by the ledger's key and the root of "
        "its entries: run `cme audit verify`"
    )
    raise ProofError(msg)


def check_proof(document: Any, verifier: CheckpointVerifier) -> dict[str, Any]:
    """The proven entry, parsed; :class:`ProofError` naming the first thing that does not hold."""
    proof = _parsed(InclusionProof, document)
    c = proof.checkpoint
    if not c.signed_by(verifier):
        msg = "the checkpoint's signature is not valid for the council's ledger key"
        raise ProofError(msg)
    if proof.tree_size != c.seq:
        msg = "the proof's tree size is not the size its checkpoint signed"
        raise ProofError(msg)
    if proof.leaf_index != proof.seq - 1:
        msg = "the proof's leaf index is not its entry's place (seq - 1)"
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


def check_consistency(
    document: Any, verifier: CheckpointVerifier, anchor: Anchor
) -> ConsistencyProof:
    """The proof, if it shows the newer signed head extends ``anchor`` (the auditor's own)."""
    kept = _kept_head(anchor, verifier)
    proof = _parsed(ConsistencyProof, document)
    old, new = proof.old, proof.new
    if old != kept:
        msg = f"the proof starts from another head than your anchor at entry {anchor.seq}"
        raise ProofError(msg)
    for which, head in (("older", old), ("newer", new)):
        if not head.signed_by(verifier):
            msg = f"the {which} head's signature is not valid for the council's ledger key"
            raise ProofError(msg)
    path = [bytes.fromhex(h) for h in proof.path]
    if not consistent(
        old.seq, bytes.fromhex(old.tree_root), new.seq, bytes.fromhex(new.tree_root), path
    ):
        msg = (
            f"the ledger signed at entry {new.seq} does not extend the one signed at entry "
            f"{old.seq}: rolled back, cut or rewritten since the anchor"
        )
        raise ProofError(msg)
    return proof


Proof = TypeVar("Proof", InclusionProof, ConsistencyProof)


def _parsed(model: type[Proof], document: Any) -> Proof:
    """The document as ``model``, or one line naming the first field that is wrong (no value)."""
    kind = "inclusion" if model is InclusionProof else "consistency"
    try:
        return model.model_validate(document)
    except ValidationError as invalid:
        first = invalid.errors(include_url=False, include_input=False, include_context=False)[0]
        where = location(first["loc"], first["type"]) or "the document"
        msg = f"not a ledger {kind} proof: {where}: {message_of(first)}"
        raise ProofError(msg) from None
