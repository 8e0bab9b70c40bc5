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
from typing import Any

from crypto_shredding.signing import CheckpointVerifier
from projections.ledger import checkpoint_message
from projections.ledger_store import LedgerReader
from projections.merkle import inclusion_path, leaf_hash, root, root_from_path

PROOF_TYPE = "cme.ledger.inclusion-proof.v1"


class ProofError(ValueError):
    """No proof can be made, or a document is not one: the message says which."""


class NoSuchEntryError(ProofError):
    """The ledger has no entry with that number."""


def build_proof(url: str, seq: int, schema: str = "ledger") -> dict[str, Any]:
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
    return {
        "type": PROOF_TYPE,
        "seq": seq,
        "entry": entry.entry.decode(),
        "leaf_index": seq - 1,
        "tree_size": checkpoint.seq,
        "audit_path": [h.hex() for h in inclusion_path(seq - 1, leaves)],
        "checkpoint": {
            "seq": checkpoint.seq,
            "head_hash": checkpoint.head_hash,
            "prev_link": checkpoint.prev_link,
            "tree_root": checkpoint.tree_root,
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature.hex(),
        },
    }


def check_proof(document: Any, verifier: CheckpointVerifier) -> dict[str, Any]:
    """The proven entry, parsed; :class:`ProofError` naming the first thing that does not hold."""
    try:
        if document.get("type") != PROOF_TYPE:
            msg = f"not a ledger inclusion proof (its type is not {PROOF_TYPE})"
            raise ProofError(msg)
        checkpoint = document["checkpoint"]
        seq, size, index = (
            int(document["seq"]),
            int(document["tree_size"]),
            int(document["leaf_index"]),
        )
        entry = str(document["entry"]).encode()
        path = [bytes.fromhex(h) for h in document["audit_path"]]
        message = checkpoint_message(
            int(checkpoint["seq"]),
            str(checkpoint["head_hash"]),
            str(checkpoint["prev_link"]),
            str(checkpoint["tree_root"]),
        )
        signature = bytes.fromhex(checkpoint["signature"])
        key_id = str(checkpoint["key_id"])
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, ProofError):
            raise
        msg = f"not a ledger inclusion proof: a field is missing or malformed ({error})"
        raise ProofError(msg) from None
    if not verifier.valid(key_id, message, signature):
        msg = "the checkpoint's signature is not valid for the council's ledger key"
        raise ProofError(msg)
    if size != int(checkpoint["seq"]) or index != seq - 1:
        msg = "the proof's entry or tree size is not the checkpoint's"
        raise ProofError(msg)
    reached = root_from_path(index, size, leaf_hash(entry), path)
    if reached is None or reached.hex() != checkpoint["tree_root"]:
        msg = f"entry {seq} and its audit path do not lead to the signed Merkle root"
        raise ProofError(msg)
    try:
        parsed: dict[str, Any] = json.loads(entry)
    except json.JSONDecodeError:
        msg = f"entry {seq} is not a ledger entry (not JSON)"
        raise ProofError(msg) from None
    return parsed
