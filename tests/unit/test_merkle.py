"""The ledger's Merkle tree against RFC 9162 and Certificate Transparency's own test vectors."""

from __future__ import annotations

import hashlib

import pytest

from projections.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_path,
    consistent,
    inclusion_path,
    leaf_hash,
    root,
    root_from_path,
)

# certificate-transparency's merkle_tree_test leaves and the root of each prefix.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out as its recursion, to check the frontier against."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(count)]


def test_the_roots_are_certificate_transparencys() -> None:
    leaves = [leaf_hash(bytes.fromhex(d)) for d in CT_LEAVES]
    assert [root(leaves[: n + 1]).hex() for n in range(len(leaves))] == CT_ROOTS
    assert root([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", [*range(1, 34), 100, 1000, 1025])
def test_the_frontier_grows_to_the_rfcs_root(size: int) -> None:
    leaves = _leaves(size)
    frontier = Frontier()
    for n, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        if n == size or n in (1, 2, 3, 7, 8, 9):
            assert frontier.root() == _mth(leaves[:n])
    assert frontier.size == size
    assert len(frontier.subtrees) == bin(size).count("1")


@pytest.mark.parametrize("size", range(1, 34))
def test_every_leaf_has_a_path_to_the_root_and_no_other_leaf_does(size: int) -> None:
    leaves = _leaves(size)
    top = _mth(leaves)
    for index in range(size):
        path = inclusion_path(index, leaves)
        assert len(path) <= max(1, size - 1).bit_length()
        assert root_from_path(index, size, leaves[index], path) == top
        other = leaf_hash(b"another child's entry")
        assert root_from_path(index, size, other, path) != top
        if size > 1:
            assert root_from_path((index + 1) % size, size, leaves[index], path) != top
            assert root_from_path(index, size, leaves[index], path[:-1]) != top
            bent = [path[0][::-1], *path[1:]]
            assert root_from_path(index, size, leaves[index], bent) != top


def test_a_path_for_a_leaf_outside_the_tree_is_refused() -> None:
    leaves = _leaves(5)
    with pytest.raises(ValueError, match="leaf 5 is not in a tree of 5"):
        inclusion_path(5, leaves)
    assert root_from_path(5, 5, leaves[0], inclusion_path(0, leaves)) is None
    assert root_from_path(0, 5, leaves[0], [*inclusion_path(0, leaves), leaves[1]]) is None


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1's SUBPROOF, written out as its recursion."""
    n = len(leaves)
    if m == n:
        return [] if whole else [_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


@pytest.mark.parametrize("new_size", range(1, 34))
def test_every_older_tree_is_proven_a_prefix_of_a_newer_one(new_size: int) -> None:
    leaves = _leaves(new_size)
    new_root = _mth(leaves)
    for old_size in range(1, new_size + 1):
        path = consistency_path(old_size, leaves)
        assert path == _subproof(old_size, leaves, True)
        old_root = _mth(leaves[:old_size])
        assert consistent(old_size, old_root, new_size, new_root, path)
        assert not consistent(old_size, leaf_hash(b"rewritten"), new_size, new_root, path)
        assert not consistent(old_size, old_root, new_size, leaf_hash(b"rewritten"), path)
        if path:
            assert not consistent(old_size, old_root, new_size, new_root, path[:-1])
            assert not consistent(old_size, old_root, new_size, new_root, [*path, path[0]])
            bent = [path[0][::-1], *path[1:]]
            assert not consistent(old_size, old_root, new_size, new_root, bent)
        # (The sizes are bound by the signatures over each head, not by the path alone.)


def test_a_history_rewritten_below_the_old_tree_is_not_consistent() -> None:
    leaves = _leaves(20)
    old_root = _mth(leaves[:7])
    rewritten = [*leaves[:3], leaf_hash(b"removed and replaced"), *leaves[4:]]
    path = consistency_path(7, rewritten)
    assert not consistent(7, old_root, 20, _mth(rewritten), path)
    with pytest.raises(ValueError, match="a tree of 21 is not a prefix of a tree of 20"):
        consistency_path(21, leaves)
    assert not consistent(0, EMPTY_ROOT, 20, _mth(leaves), [])
