"""The Merkle tree over the log's leaves, as RFC 6962 / 9162 define it.

The leaves are `storage.ledger`'s, in log order (leaf i is the i-th event by
position; positions may have gaps). A node is SHA-256(0x01 || left || right);
the tree over n leaves splits at the largest power of two below n, which is
what pairing each level from the left and carrying an odd last node up
unchanged builds. `root` is a signed checkpoint's commitment; `inclusion`
gives the audit path that proves one leaf is in the tree of a given size, and
`verify_inclusion` (RFC 9162, 2.1.3.2) checks it with nothing but the path.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, the leaves first and the root last."""
    built = [list(leaves)]
    while len(built[-1]) > 1:
        below = built[-1]
        above = [node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])  # carried up unchanged
        built.append(above)
    return built


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree's root hash (of no leaves: SHA-256 of nothing)."""
    if not leaves:
        return EMPTY_ROOT
    return levels(leaves)[-1][0]


def inclusion(tree: list[list[bytes]], index: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree whose `levels` are `tree`,
    from the leaf's sibling up (a level where the node is carried has none)."""
    path = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], expected: bytes
) -> bool:
    """Whether `path` proves `leaf` is leaf `index` of the tree of `size` leaves
    whose root is `expected` (RFC 9162, section 2.1.3.2)."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected
