"""The Merkle tree against RFC 6962's own recursive definitions (hypothesis)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.merkle import inclusion, levels, node, root, verify_inclusion


def leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + str(i).encode()).digest()


def rfc_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]), RFC 6962 section 2.1, as written."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(rfc_root(leaves[:k]), rfc_root(leaves[k:]))


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 6962 section 2.1.1, as written."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*rfc_path(m, leaves[:k]), rfc_root(leaves[k:])]
    return [*rfc_path(m - k, leaves[k:]), rfc_root(leaves[:k])]


@settings(max_examples=200)
@given(st.integers(1, 140), st.data())
def test_root_and_paths_are_rfc_6962s_and_verify(n: int, data: st.DataObject) -> None:
    leaves = [leaf(i) for i in range(n)]
    tree = levels(leaves)
    m = data.draw(st.integers(0, n - 1))

    assert root(leaves) == rfc_root(leaves)
    assert inclusion(tree, m) == rfc_path(m, leaves)
    assert verify_inclusion(leaves[m], m, n, inclusion(tree, m), root(leaves))


@given(st.integers(2, 80), st.data())
def test_another_leaf_or_a_changed_path_does_not_verify(
    n: int, data: st.DataObject
) -> None:
    leaves = [leaf(i) for i in range(n)]
    tree, top = levels(leaves), root(leaves)
    m = data.draw(st.integers(0, n - 1))
    path = inclusion(tree, m)
    other = data.draw(st.integers(0, n - 1).filter(lambda i: i != m))

    assert not verify_inclusion(leaves[other], m, n, path, top)
    assert not verify_inclusion(leaves[m], other, n, path, top) or (
        inclusion(tree, other) == path and leaves[other] == leaves[m]
    )
    if path:
        broken = [bytes(32), *path[1:]]
        assert not verify_inclusion(leaves[m], m, n, broken, top)


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert root([]) == hashlib.sha256(b"").digest()
