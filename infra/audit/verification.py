"""Checking the whole store against the audit tree and its signed heads (`crm audit verify`).

Every leaf is computed again from the stored event at its position and compared with the
stored leaf; the roots of the recomputed leaves are compared with every signed head, whose
signature is checked with the given public key; every stored subtree hash is checked against
its children. The first difference is named: the position whose event differs (changed,
deleted, moved or added), or the size of the head that does not hold.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import Connection
from psycopg.pq import TransactionStatus

from infra.audit import tree_store
from infra.audit.leaf import EVENTS_AFTER, leaf_bytes
from infra.audit.merkle import Frontier, leaf_hash
from infra.audit.signing import TreeHead, head_signed_by

BATCH = 10_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome: `verified`, or the first bad position and/or tree head, and why."""

    verified: bool
    tree_size: int
    first_bad_position: int | None = None
    first_bad_tree_head: int | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def verify_store(conn: Connection[Any], public_key: Ed25519PublicKey) -> Verdict:
    """Checks the event store against the audit tree and its signed heads, all read in one
    snapshot (the auditor may append meanwhile), unless `conn` is in a transaction already."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        return _verify(conn, public_key)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _verify(conn, public_key)


def _verify(conn: Connection[Any], public_key: Ed25519PublicKey) -> Verdict:
    heads = tree_store.heads(conn)
    size = tree_store.extent(conn)[0]
    signed = heads[-1].tree_size if heads else 0
    for head in heads:
        if not head_signed_by(public_key, head):
            return _bad_head(size, head, "its signature is not the audit key's")
    if signed != size:
        reason = f"the tree has {size} leaves, its latest signed head {signed}"
        return Verdict(False, size, first_bad_tree_head=signed or None, reason=reason)
    return _compare_leaves(conn, size, heads) or _check_subtrees(conn, size) or Verdict(True, size)


def _bad_head(size: int, head: TreeHead, why: str) -> Verdict:
    reason = f"the tree head of size {head.tree_size}: {why}"
    return Verdict(False, size, first_bad_tree_head=head.tree_size, reason=reason)


def _compare_leaves(conn: Connection[Any], size: int, heads: list[TreeHead]) -> Verdict | None:
    events = _events(conn)
    pending = iter(heads)
    head = next(pending, None)
    border = Frontier()
    for index, position, stored in _leaves(conn):
        event = next(events, None)
        bad, why = _mismatch(index, border.size, position, event)
        if bad is None and event is not None:
            recomputed = leaf_hash(leaf_bytes(*event))
            if recomputed != stored:
                bad, why = position, "the stored event differs from its leaf"
            border.append(recomputed)
        if bad is not None:
            return Verdict(False, size, first_bad_position=bad, reason=f"position {bad}: {why}")
        while head is not None and head.tree_size == border.size:
            if head.root_hash != border.root():
                return _bad_head(size, head, "its root is not the root of the stored events")
            head = next(pending, None)
    return None


def _mismatch(
    index: int, expected: int, position: int, event: tuple[Any, ...] | None
) -> tuple[int | None, str]:
    if index != expected:
        return position, f"leaf {expected} is missing from the tree"
    if event is None or event[0] > position:
        return position, "the event of this leaf is missing from the store"
    if event[0] < position:
        return event[0], "this event is not in the tree, yet later ones are"
    return None, ""


def _events(conn: Connection[Any]) -> Iterator[tuple[Any, ...]]:
    yield from _batches(conn, EVENTS_AFTER, lambda row: row[0])


def _leaves(conn: Connection[Any]) -> Iterator[tuple[Any, ...]]:
    query = (
        "SELECT leaf_index, position, leaf_hash FROM crm_audit_leaves"
        " WHERE leaf_index > %s ORDER BY leaf_index LIMIT %s"
    )
    yield from _batches(conn, query, lambda row: row[0])


def _batches(conn: Connection[Any], query: str, key: Any) -> Iterator[tuple[Any, ...]]:
    after = -1
    with conn.cursor(binary=True) as cursor:
        while rows := cursor.execute(query, (after, BATCH)).fetchall():
            yield from rows
            after = key(rows[-1])


_BAD_SUBTREE = """
WITH tree AS (
    SELECT 0::smallint AS level, leaf_index AS node_index, leaf_hash AS hash
    FROM crm_audit_leaves
    UNION ALL SELECT level, node_index, hash FROM crm_audit_nodes
)
SELECT min(p.node_index << p.level) FROM crm_audit_nodes AS p
LEFT JOIN tree AS l ON l.level = p.level - 1 AND l.node_index = 2 * p.node_index
LEFT JOIN tree AS r ON r.level = p.level - 1 AND r.node_index = 2 * p.node_index + 1
WHERE r.hash IS NULL OR p.hash IS DISTINCT FROM sha256('\\x01'::bytea || l.hash || r.hash)
    OR (p.node_index + 1) << p.level > %(size)s
"""


def _check_subtrees(conn: Connection[Any], size: int) -> Verdict | None:
    """Every stored subtree hash is its children's node hash, and none is missing."""
    first = conn.execute(_BAD_SUBTREE, {"size": size}).fetchone()[0]  # type: ignore[index]
    expected = sum(size >> level for level in range(1, size.bit_length()))
    count = conn.execute("SELECT count(*) FROM crm_audit_nodes").fetchone()[0]  # type: ignore[index]
    if first is None and count == expected:
        return None
    why = "a stored subtree hash is wrong" if first is not None else "subtree hashes are missing"
    leaf = first or 0
    found = conn.execute(
        "SELECT position FROM crm_audit_leaves WHERE leaf_index >= %s ORDER BY leaf_index LIMIT 1",
        (leaf,),
    ).fetchone()
    position = found[0] if found else None
    return Verdict(False, size, first_bad_position=position, reason=f"position {position}: {why}")
