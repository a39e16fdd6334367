"""The auditor: extends the audit tree with the events committed since its last leaf and signs
each new tree head.

Each extension (the new leaves, the subtrees they complete and the signed head of the new
size) is one transaction, so a process killed at any moment leaves the tree at a signed size:
the next extension starts from there, with no gap and no second head for a size. One process
extends at a time: the active one holds an advisory lock (`infra.leadership`), and each
extension also takes a transaction lock, so that even two that believe they are active never
interleave.

Events become visible in position order: the event store's inserts hold a table lock until
they commit, so no event that commits later can take a smaller position than one already
seen. Reading `position > last leaf's position`, as the store follower does, skips nothing.
"""

import os
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import Connection

from consumers.notifications import follow
from infra.audit import tree_store
from infra.audit.leaf import EVENTS_AFTER, leaf_bytes
from infra.audit.merkle import leaf_hash
from infra.audit.signing import TreeHead, key_id, load_signing_key, sign_head
from infra.event_store import EVENTS_TABLE
from infra.leadership import StillLeading, lead
from infra.logging import configure_logging
from infra.postgres import UNREACHABLE

log = structlog.get_logger()

AUDITOR_LOCK = 7_401_315  # advisory lock id: the active auditor holds it
EXTENSION_LOCK = 7_401_316  # transaction advisory lock: one extension at a time
BATCH = 20_000
"""Most leaves one extension appends (and so the largest gap between two signed heads)."""
SIGN_EVERY_SECONDS = 1.0
"""Once caught up, the auditor gathers new events this long before it signs the next head."""
RETRY_SECONDS = 1.0
FOREIGN_KEY_SECONDS = 30.0
"""How long an auditor whose key did not sign the latest head waits before it looks again."""


class ForeignKey(Exception):  # noqa: N818 - a state of the configuration
    """The latest tree head was signed by another key than this process's."""


def extend(conn: Connection[Any], key: Ed25519PrivateKey, batch: int = BATCH) -> TreeHead | None:
    """Appends up to `batch` events committed after the tree's last leaf, and signs the new
    tree head, in one transaction; None if there was nothing to append. `conn` is in
    autocommit mode."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (EXTENSION_LOCK,))
        size, last_position = tree_store.extent(conn)
        rows = conn.execute(EVENTS_AFTER, (last_position, batch), binary=True).fetchall()
        if not rows:
            return None
        _check_key(conn, key)
        border = tree_store.frontier(conn, size)
        leaves, nodes = [], []
        for position, stream_id, version, topic, state in rows:
            hashed = leaf_hash(leaf_bytes(position, stream_id, version, topic, state))
            leaves.append((position, hashed))
            nodes.extend(border.append(hashed))
        tree_store.append(conn, size, leaves, nodes)
        head = sign_head(key, border.size, border.root(), time.time_ns() // 1_000_000)
        tree_store.record_head(conn, head)
    return head


def _check_key(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    latest = tree_store.latest_head(conn)
    if latest is not None and latest.key_id != key_id(key.public_key()):
        raise ForeignKey(
            f"the audit log is signed by key {latest.key_id}, this process has key"
            f" {key_id(key.public_key())}: configure the same CRM_AUDIT_SIGNING_KEY_FILE"
        )


def run_auditor(url: str, key: Ed25519PrivateKey, keep_going: Callable[[], bool]) -> None:
    """Extends the tree while this process is the active auditor, until `keep_going()` is
    false; after a database outage it starts again from the last signed size."""
    lead(url, AUDITOR_LOCK, "auditor", keep_going, partial(_audit, url, key))


def _audit(url: str, key: Ed25519PrivateKey, still_leading: StillLeading) -> None:
    while still_leading():
        try:
            _follow(url, key, still_leading)
        except UNREACHABLE as error:
            log.warning("auditor starts again from the last signed head", error=error)
            threading.Event().wait(RETRY_SECONDS)
        except ForeignKey as error:  # signs nothing until the key is put right
            log.error("auditor signs nothing", reason=str(error))
            threading.Event().wait(FOREIGN_KEY_SECONDS)


def _follow(url: str, key: Ed25519PrivateKey, still_leading: StillLeading) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        size = tree_store.extent(conn)[0]

        def step() -> bool:
            """Extends once; True if a whole batch was appended (there may be more now)."""
            nonlocal size
            head = extend(conn, key)
            if head is None:
                return False
            appended, size = head.tree_size - size, head.tree_size
            log.debug("tree head signed", tree_size=size)
            return appended >= BATCH

        follow(
            url,
            EVENTS_TABLE,
            step,
            still_leading,
            poll_seconds=RETRY_SECONDS,
            gather_seconds=SIGN_EVERY_SECONDS,
        )


def audit_in_child(url: str, key_file: str, log_level: str, parent_pid: int) -> None:
    """The auditor as a child process of `crm serve`: runs until SIGTERM, or until its parent
    is gone."""
    configure_logging(log_level)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    key = load_signing_key(Path(key_file))
    run_auditor(url, key, lambda: not stopping.is_set() and os.getppid() == parent_pid)
