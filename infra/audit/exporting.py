"""`crm audit export`: a customer's audit bundle, read from the store and the audit tree."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import Connection

from domain.events.envelope import Envelope
from infra import timeline
from infra.audit import bundle, tree_store
from infra.audit.leaf import LEAF_COLUMNS
from infra.audit.tree_store import InclusionProof
from infra.event_store import EVENTS_TABLE


class NothingToExport(Exception):  # noqa: N818 - an outcome, said to the user
    """No signed tree head yet, or no event of the customer in the signed tree."""


def export_bundle(conn: Connection[Any], customer_id: UUID, key: Ed25519PrivateKey) -> bytes:
    """The customer's events in the latest signed tree, with their proofs, as a bundle file."""
    head = tree_store.latest_head(conn)
    if head is None:
        raise NothingToExport("no tree head is signed yet: is the auditor running?")
    envelopes = timeline.customer_events(conn, customer_id)
    proofs = tree_store.inclusion_proofs(conn, [e.position for e in envelopes], head.tree_size)
    rows = conn.execute(
        f"SELECT {LEAF_COLUMNS} FROM {EVENTS_TABLE} WHERE notification_id = ANY(%s)",  # noqa: S608
        (list(proofs),),
        binary=True,
    ).fetchall()
    stored = {row[0]: row for row in rows}
    events = [
        _event(stored[e.position], proofs[e.position], e) for e in envelopes if e.position in proofs
    ]
    if not events:
        raise NothingToExport(f"no event of customer {customer_id} is in the signed tree")
    return bundle.dumps(key, customer_id, head, events)


def _event(row: Sequence[Any], proof: InclusionProof, envelope: Envelope) -> bundle.StoredEvent:
    position, stream_id, version, topic, state = row
    return bundle.StoredEvent(
        position=position,
        stream_id=UUID(bytes=bytes(stream_id)),
        version=version,
        topic=topic,
        state=bytes(state),
        leaf_index=proof.leaf_index,
        audit_path=proof.audit_path,
        item=orjson.loads(orjson.dumps(timeline.item(envelope))),
    )
