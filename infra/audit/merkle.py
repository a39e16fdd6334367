"""Merkle tree hashing, proofs and their verification as RFC 9162 section 2.1 defines them,
with SHA-256. Pure: no I/O.

A tree is addressed by its complete subtrees: node `(level, index)` covers the leaves
`[index * 2**level, (index + 1) * 2**level)`; level 0 holds the leaf hashes. Every hash that a
proof or a root needs is the hash of one such node, or the right fold of a few of them (the
hash of a range whose length is not a power of two), so a stored tree answers a proof with
O(log n) lookups: `inclusion_plan` and `consistency_plan` say which nodes, `resolve` builds
the proof from their hashes.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the hash of an empty string."""

Node = tuple[int, int]
"""A complete subtree: (level, index)."""

Plan = list[list[Node]]
"""A proof as nodes: each element of the proof is the right fold of these nodes' hashes."""


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of adjacent complete subtrees, largest first: H(a, H(b, H(c, ...)))."""
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for each in reversed(hashes[:-1]):
        folded = node_hash(each, folded)
    return folded


def subtrees(start: int, end: int) -> list[Node]:
    """The complete subtrees, largest first, that make up leaves `[start, end)`: their right
    fold is MTH(D[start:end]) for every range that RFC 9162's recursion splits off (`start`
    a multiple of the largest power of two not above `end - start`), the whole tree too."""
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _split(size: int) -> int:
    """k: the largest power of two smaller than `size` (at least 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_plan(index: int, size: int) -> Plan:
    """The audit path PATH(index, D[size]) of RFC 9162 section 2.1.3.1, as nodes."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: Plan = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtrees(start + k, end))
            end = start + k
        else:
            path.append(subtrees(start, start + k))
            start += k
    path.reverse()  # the path runs from the leaf up to the root
    return path


def consistency_plan(first: int, second: int) -> Plan:
    """The consistency proof PROOF(first, D[second]) of RFC 9162 section 2.1.4.1, as nodes."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    outer: Plan = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            outer.append(subtrees(start + k, end))
            end = start + k
        else:
            outer.append(subtrees(start, start + k))
            start, m, whole = start + k, m - k, False
    inner = [] if whole else [subtrees(start, end)]
    return inner + outer[::-1]


def plan_nodes(plans: Iterable[Plan]) -> set[Node]:
    """Every node that these plans use."""
    return {node for plan in plans for element in plan for node in element}


def resolve(plan: Plan, hashes: Mapping[Node, bytes]) -> list[bytes]:
    """A proof from its plan and the hashes of its nodes."""
    return [fold([hashes[node] for node in element]) for element in plan]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that the audit path `path` of leaf hash `leaf` at `index` leads to in a tree of
    `size` leaves (RFC 9162 section 2.1.3.2), or None if the path cannot be one."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in path):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether `path` proves leaf hash `leaf` at `index` in the tree of `size` leaves whose
    root is `root`."""
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows that the tree of `first` leaves with root `first_root` is a prefix
    of the tree of `second` leaves with root `second_root` (RFC 9162 section 2.1.4.2)."""
    if not 0 <= first <= second or any(len(c) != HASH_SIZE for c in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The right border of a tree: the hashes of the complete subtrees that make up its
    `size` leaves (`subtrees(0, size)`, at most one per level). Enough to append leaves and
    to compute the root; `append` says which nodes each new leaf completes."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != len(subtrees(0, size)):
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} border subtrees")
        self.size = size
        self._hashes = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Appends a leaf hash; returns the nodes above level 0 that it completes, lowest
        first."""
        index, level, value = self.size, 0, leaf
        made = []
        while index & 1:
            value = node_hash(self._hashes.pop(), value)
            index, level = index >> 1, level + 1
            made.append(((level, index), value))
        self._hashes.append(value)
        self.size += 1
        return made

    def root(self) -> bytes:
        """MTH of the tree's leaves."""
        return fold(self._hashes)
