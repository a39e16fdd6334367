"""RFC 9162 Merkle trees: the published Certificate Transparency vectors (transparency-dev/merkle,
`testonly/constants.go` and `proof/verify_test.go`) and properties over random trees."""

from hypothesis import given
from hypothesis import strategies as st

from infra.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    Node,
    consistency_plan,
    fold,
    inclusion_plan,
    leaf_hash,
    resolve,
    subtrees,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
"""RootHashes(): the root of the first n leaves, n = 0..8."""


def h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (0, 8, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]  # fmt: skip

CONSISTENCY = [  # (first size, second size, proof)
    (1, 1, []),
    (1, 8, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]  # fmt: skip


class MemoryTree:
    """Every complete subtree's hash, kept as a stored tree keeps them."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.frontier = Frontier()
        self.nodes: dict[Node, bytes] = {}
        self.roots = [EMPTY_ROOT]
        for index, leaf in enumerate(leaves):
            hashed = leaf_hash(leaf)
            self.nodes[(0, index)] = hashed
            self.nodes.update(self.frontier.append(hashed))
            self.roots.append(self.frontier.root())

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return resolve(inclusion_plan(index, size), self.nodes)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return resolve(consistency_plan(first, second), self.nodes)


VECTORS = MemoryTree(LEAVES)


def test_the_roots_of_the_published_trees() -> None:
    assert VECTORS.roots == ROOTS
    assert fold([VECTORS.nodes[n] for n in subtrees(0, 7)]) == ROOTS[7]


def test_the_published_inclusion_proofs_are_made_and_verify() -> None:
    for index, size, path in INCLUSION:
        assert VECTORS.inclusion(index, size) == path
        assert verify_inclusion(index, size, leaf_hash(LEAVES[index]), path, ROOTS[size])


def test_the_published_consistency_proofs_are_made_and_verify() -> None:
    for first, second, proof in CONSISTENCY:
        assert VECTORS.consistency(first, second) == proof
        assert verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


def test_corrupted_inclusion_proofs_fail() -> None:
    """The corruptions of verify_test.go's corruptInclusionProof."""
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    for index, size, path in INCLUSION[1:]:
        leaf, root = leaf_hash(LEAVES[index]), ROOTS[size]
        wrong = [
            (index - 1, size, leaf, path, root),
            (index + 1, size, leaf, path, root),
            (index ^ 2, size, leaf, path, root),
            (index, size * 2, leaf, path, root),
            (index, size // 2, leaf, path, root),
            (index, size, b"WrongLeaf", path, root),
            (index, size, leaf, path, EMPTY_ROOT),
            (index, size, leaf, path, some),
            (index, size, leaf, [*path, b""], root),
            (index, size, leaf, [*path, root], root),
            (index, size, leaf, [b"", *path], root),
            (index, size, leaf, [root, *path], root),
            (index, size, leaf, path[:-1], root),
            (index, size, leaf, [path[0], some, *path[1:]], root),
            *[(index, size, leaf, _flip(path, i), root) for i in range(len(path))],
        ]
        assert not any(verify_inclusion(*case) for case in wrong)


def test_corrupted_consistency_proofs_fail() -> None:
    """The corruptions of verify_test.go's corruptConsistencyProof, and its edge cases."""
    for first, second, proof in CONSISTENCY[1:]:
        r1, r2 = ROOTS[first], ROOTS[second]
        wrong = [
            (first - 1, second, r1, r2, proof),
            (first + 1, second, r1, r2, proof),
            (first ^ 2, second, r1, r2, proof),
            (first, second * 2, r1, r2, proof),
            (first, second // 2, r1, r2, proof),
            (first, second, b"WrongRoot", r2, proof),
            (first, second, r1, b"WrongRoot", proof),
            (first, second, r2, r1, proof),
            (first, second, r1, r2, []),
            (first, second, r1, r2, [*proof, b""]),
            (first, second, r1, r2, [*proof, r1]),
            (first, second, r1, r2, [*proof, r2]),
            (first, second, r1, r2, [b"", *proof]),
            (first, second, r1, r2, [r1, *proof]),
            (first, second, r1, r2, [r2, *proof]),
            (first, second, r1, r2, [proof[0], *proof]),
            (first, second, r1, r2, proof[:-1]),
            *[(first, second, r1, r2, _flip(proof, i)) for i in range(len(proof))],
        ]
        assert not any(verify_consistency(*case) for case in wrong)
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, ROOTS[1], [])
    assert not verify_consistency(1, 1, ROOTS[1], ROOTS[2], [])
    assert not verify_consistency(1, 0, ROOTS[1], ROOTS[0], [])
    assert not verify_consistency(1, 1, ROOTS[1], ROOTS[1], [EMPTY_ROOT])


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    flipped = list(proof)
    flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
    return flipped


trees = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(MemoryTree)


@given(trees, st.data())
def test_every_inclusion_proof_verifies_and_a_changed_leaf_fails(
    tree: MemoryTree, data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, tree.frontier.size))
    index = data.draw(st.integers(0, size - 1))
    path = tree.inclusion(index, size)
    leaf = tree.nodes[(0, index)]
    assert verify_inclusion(index, size, leaf, path, tree.roots[size])
    changed = bytes([leaf[0] ^ 1]) + leaf[1:]
    assert not verify_inclusion(index, size, changed, path, tree.roots[size])
    assert len(path) <= size.bit_length()


@given(trees, st.data())
def test_every_consistency_proof_verifies_and_a_changed_leaf_fails(
    tree: MemoryTree, data: st.DataObject
) -> None:
    second = data.draw(st.integers(1, tree.frontier.size))
    first = data.draw(st.integers(1, second))
    proof = tree.consistency(first, second)
    assert verify_consistency(first, second, tree.roots[first], tree.roots[second], proof)
    changed_at = data.draw(st.integers(0, first - 1))
    leaves = [tree.nodes[(0, i)] for i in range(second)]
    leaves[changed_at] = leaf_hash(b"changed" + leaves[changed_at])
    other = Frontier()
    for leaf in leaves[:first]:
        other.append(leaf)
    assert not verify_consistency(first, second, other.root(), tree.roots[second], proof)
