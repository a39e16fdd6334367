"""The audit tree in PostgreSQL: its leaves, the hashes of its complete subtrees, and its
signed heads.

`crm_audit_leaves` maps each leaf index to the position of the event it covers (positions
may skip numbers: a rolled-back transaction used them); `crm_audit_nodes` keeps the hash of
every complete subtree above the leaves, so that a proof costs one query of O(log n) rows;
`crm_audit_tree_heads` keeps every signed tree head. The auditor writes all three in one
transaction (`consumers.auditor`); nothing else writes them.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from infra.audit.merkle import (
    Frontier,
    Node,
    consistency_plan,
    inclusion_plan,
    plan_nodes,
    resolve,
    subtrees,
)
from infra.audit.signing import TreeHead

DDL = """
CREATE TABLE IF NOT EXISTS crm_audit_leaves (
    leaf_index bigint PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    leaf_hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_audit_nodes (
    level smallint NOT NULL,
    node_index bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (level, node_index)
);
CREATE TABLE IF NOT EXISTS crm_audit_tree_heads (
    tree_size bigint PRIMARY KEY,
    root_hash bytea NOT NULL,
    timestamp_ms bigint NOT NULL,
    key_id text NOT NULL,
    signature bytea NOT NULL
);
"""

_HEAD_COLUMNS = "tree_size, root_hash, timestamp_ms, key_id, signature"


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """The audit path of leaf `leaf_index` (hash `leaf_hash`) in the tree of `tree_size`
    leaves."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]

    def as_json(self) -> dict[str, Any]:
        """Hex hashes."""
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "audit_path": [h.hex() for h in self.audit_path],
        }


def extent(conn: Connection[Any]) -> tuple[int, int]:
    """The tree's size and the position of its last leaf (0, 0 for an empty tree)."""
    row = conn.execute(
        "SELECT leaf_index + 1, position FROM crm_audit_leaves ORDER BY leaf_index DESC LIMIT 1"
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def frontier(conn: Connection[Any], size: int) -> Frontier:
    """The right border of the tree of `size` leaves, read from its stored subtrees."""
    border = subtrees(0, size)
    found = node_hashes(conn, border)
    return Frontier(size, [found[node] for node in border])


def append(
    conn: Connection[Any],
    first_index: int,
    leaves: Sequence[tuple[int, bytes]],
    nodes: Iterable[tuple[Node, bytes]],
) -> None:
    """Stores leaves `(position, leaf hash)` from index `first_index` on, and the subtrees
    they complete."""
    with conn.cursor().copy(
        "COPY crm_audit_leaves (leaf_index, position, leaf_hash) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int8", "int8", "bytea"])
        for offset, (position, hashed) in enumerate(leaves):
            copy.write_row((first_index + offset, position, hashed))
    with conn.cursor().copy(
        "COPY crm_audit_nodes (level, node_index, hash) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int2", "int8", "bytea"])
        for (level, index), hashed in nodes:
            copy.write_row((level, index, hashed))


def record_head(conn: Connection[Any], head: TreeHead) -> None:
    """Stores a signed tree head (one per tree size)."""
    conn.execute(
        f"INSERT INTO crm_audit_tree_heads ({_HEAD_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
        (head.tree_size, head.root_hash, head.timestamp, head.key_id, head.signature),
    )


def latest_head(conn: Connection[Any]) -> TreeHead | None:
    """The signed head of the largest tree, if any."""
    row = conn.execute(
        f"SELECT {_HEAD_COLUMNS} FROM crm_audit_tree_heads"  # noqa: S608
        " ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    return _head(row) if row else None


def heads(conn: Connection[Any]) -> list[TreeHead]:
    """Every signed tree head, smallest tree first."""
    rows = conn.execute(
        f"SELECT {_HEAD_COLUMNS} FROM crm_audit_tree_heads ORDER BY tree_size"  # noqa: S608
    ).fetchall()
    return [_head(row) for row in rows]


def _head(row: Sequence[Any]) -> TreeHead:
    size, root, timestamp, key, signature = row
    return TreeHead(size, bytes(root), timestamp, key, bytes(signature))


def node_hashes(conn: Connection[Any], nodes: Collection[Node]) -> dict[Node, bytes]:
    """The stored hashes of these complete subtrees (level 0: the leaves); absent ones are
    left out."""
    leaves = [index for level, index in nodes if level == 0]
    inner = [(level, index) for level, index in nodes if level > 0]
    rows = conn.execute(
        "SELECT 0, leaf_index, leaf_hash FROM crm_audit_leaves WHERE leaf_index = ANY(%s)"
        " UNION ALL SELECT n.level, n.node_index, n.hash FROM crm_audit_nodes AS n"
        " JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, node_index)"
        " USING (level, node_index)",
        (leaves, [level for level, _ in inner], [index for _, index in inner]),
        binary=True,
    ).fetchall()
    return {(level, index): bytes(hashed) for level, index, hashed in rows}


def inclusion_proofs(
    conn: Connection[Any], positions: Collection[int], tree_size: int
) -> dict[int, InclusionProof]:
    """The inclusion proofs of the events at these positions in the tree of `tree_size`
    leaves, by position; positions not among its leaves are left out. Two queries."""
    rows = conn.execute(
        "SELECT position, leaf_index, leaf_hash FROM crm_audit_leaves"
        " WHERE position = ANY(%s) AND leaf_index < %s",
        (list(positions), tree_size),
        binary=True,
    ).fetchall()
    plans = {position: inclusion_plan(index, tree_size) for position, index, _ in rows}
    hashes = node_hashes(conn, plan_nodes(plans.values()))
    return {
        position: InclusionProof(index, tree_size, bytes(leaf), resolve(plans[position], hashes))
        for position, index, leaf in rows
    }


def latest_inclusion_proofs(
    conn: Connection[Any], positions: Collection[int]
) -> dict[int, InclusionProof]:
    """The inclusion proofs of these positions against the latest signed tree head, by
    position; positions not in that tree yet are left out."""
    head = latest_head(conn)
    return inclusion_proofs(conn, positions, head.tree_size) if head else {}


def consistency_proof(conn: Connection[Any], first: int, second: int) -> list[bytes]:
    """The consistency proof between the trees of `first` and `second` leaves (both at most
    the tree's size)."""
    plan = consistency_plan(first, second)
    return resolve(plan, node_hashes(conn, plan_nodes([plan])))
