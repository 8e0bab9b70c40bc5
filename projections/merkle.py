"""An RFC 9162 (Certificate Transparency v2) Merkle tree over the ledger's entries.

The hash chain proves the ledger was not altered, but showing that one entry
is in it takes every entry after it: other children's disclosures. The tree
lets the DPO show a data subject that a disclosure about them is in the
signed ledger with their own entry and about log2(n) hashes, nothing else
(RFC 9162 §2.1.3, inclusion proofs). Leaves are the entries' canonical bytes,
hashed with a 0x00 prefix and nodes with 0x01, as the RFC says, so any
RFC 9162 verifier checks a proof.

Pure functions, and a frontier (the roots of the perfect subtrees so far)
that gives the root of a growing tree in O(log n) memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two below ``size`` (RFC 9162 §2.1.1's k)."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    return Frontier.of(leaves).root()


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf ``index`` up to the root, leaf first."""
    if not 0 <= index < len(leaves):
        msg = f"leaf {index} is not in a tree of {len(leaves)}"
        raise ValueError(msg)
    path: list[bytes] = []
    low, high = 0, len(leaves)
    while high - low > 1:
        k = _split(high - low)
        if index < low + k:
            path.append(root(leaves[low + k : high]))
            high = low + k
        else:
            path.append(root(leaves[low : low + k]))
            low += k
    path.reverse()
    return path


def root_from_path(index: int, size: int, leaf: bytes, path: Iterable[bytes]) -> bytes | None:
    """The root an inclusion path leads to (RFC 9162 §2.1.3.2); None if it cannot be one."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def consistency_path(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the hashes that show D[0:m] is a prefix of D[n]."""
    if not 0 < old_size <= len(leaves):
        msg = f"a tree of {old_size} is not a prefix of a tree of {len(leaves)}"
        raise ValueError(msg)
    path: list[bytes] = []
    low, high, whole = 0, len(leaves), True
    m = old_size
    while m != high - low:
        k = _split(high - low)
        if m <= k:
            path.append(root(leaves[low + k : high]))
            high = low + k
        else:
            path.append(root(leaves[low : low + k]))
            low, m, whole = low + k, m - k, False
    if not whole:
        path.append(root(leaves[low:high]))
    path.reverse()
    return path


def consistent(
    old_size: int, old_root: bytes, new_size: int, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether ``path`` proves the tree (old_size, old_root) a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2, step by step.
    """
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    hashes = list(path)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        hashes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


@dataclass
class Frontier:
    """The roots of the perfect subtrees of a tree of ``size`` leaves, largest first."""

    size: int = 0
    subtrees: list[tuple[int, bytes]] = field(default_factory=list)  # (height, hash)

    @classmethod
    def of(cls, leaves: Iterable[bytes]) -> Frontier:
        frontier = cls()
        for leaf in leaves:
            frontier.append(leaf)
        return frontier

    def append(self, leaf: bytes) -> None:
        height, digest = 0, leaf
        while self.subtrees and self.subtrees[-1][0] == height:
            _, left = self.subtrees.pop()
            height, digest = height + 1, node_hash(left, digest)
        self.subtrees.append((height, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self.subtrees:
            return EMPTY_ROOT
        result = self.subtrees[-1][1]
        for _, left in reversed(self.subtrees[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.subtrees))
