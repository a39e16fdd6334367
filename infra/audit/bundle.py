"""Audit bundles: a customer's events as stored, each with its inclusion proof, and the signed
tree head they lead to, in one file that can be checked offline with the public key alone.

The file is JSON, exactly as `dumps` writes it: `{"body": ..., "signature": ...}` with keys
sorted, indented by two spaces, ending in a newline. `signature` (base64) is the audit key's
signature of the body as `orjson` writes it with sorted keys and no spaces
(`infra.audit.signing.sign_bundle`). The body:

    format       "crm-audit-bundle/1"
    customer_id  the customer
    key_id       the audit key's id
    tree_head    the signed tree head every proof leads to
    events       oldest first: position, stream_id, version, topic, state (base64 of the
                 stored bytes), leaf_index, audit_path (hex), and item: the event as the
                 timeline shows it
"""

import base64
import struct
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.audit.leaf import leaf_bytes
from infra.audit.merkle import leaf_hash, verify_inclusion
from infra.audit.signing import (
    TreeHead,
    bundle_signed_by,
    head_signed_by,
    key_id,
    sign_bundle,
)

FORMAT = "crm-audit-bundle/1"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event as a leaf covers it, with its leaf's place and audit path, and its
    timeline item."""

    position: int
    stream_id: UUID
    version: int
    topic: str
    state: bytes
    leaf_index: int
    audit_path: list[bytes]
    item: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stream_id": str(self.stream_id),
            "version": self.version,
            "topic": self.topic,
            "state": base64.b64encode(self.state).decode(),
            "leaf_index": self.leaf_index,
            "audit_path": [h.hex() for h in self.audit_path],
            "item": self.item,
        }


def dumps(
    key: Ed25519PrivateKey, customer_id: UUID, head: TreeHead, events: list[StoredEvent]
) -> bytes:
    """The bundle file's bytes, signed with the audit key."""
    body = {
        "format": FORMAT,
        "customer_id": str(customer_id),
        "key_id": key_id(key.public_key()),
        "tree_head": head.as_json(),
        "events": [e.as_json() for e in events],
    }
    signature = sign_bundle(key, _signed_bytes(body))
    return _file_bytes({"body": body, "signature": base64.b64encode(signature).decode()})


def _signed_bytes(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _file_bytes(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


@dataclass(frozen=True, slots=True)
class BundleVerdict:
    """Whether a bundle holds; if not, why (and the position of the first bad event)."""

    verified: bool
    events: int = 0
    tree_size: int = 0
    reason: str | None = None
    bad_position: int | None = None


def verify(data: bytes, public_key: Ed25519PublicKey) -> BundleVerdict:
    """Checks a bundle file offline: its form, its signature, its tree head's signature, and
    every event's inclusion proof against that head."""
    try:
        document = orjson.loads(data)
        body, signature = document["body"], base64.b64decode(document["signature"], validate=True)
        head = TreeHead.from_json(body["tree_head"])
        if _file_bytes(document) != data or body["format"] != FORMAT:
            return BundleVerdict(False, reason="the file is not a bundle as it was exported")
        events = [_event(e) for e in body["events"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return BundleVerdict(False, reason="the file is not an audit bundle")
    if body["key_id"] != key_id(public_key) or not bundle_signed_by(
        public_key, _signed_bytes(body), signature
    ):
        return BundleVerdict(False, reason="the bundle is not signed by this key")
    if not head_signed_by(public_key, head):
        return BundleVerdict(False, reason="its tree head is not signed by this key")
    for event in events:
        if not _included(event, head):
            reason = f"the event at position {event.position} is not in the signed tree"
            return BundleVerdict(False, reason=reason, bad_position=event.position)
    return BundleVerdict(True, events=len(events), tree_size=head.tree_size)


def _included(event: StoredEvent, head: TreeHead) -> bool:
    try:
        stream = event.stream_id.bytes
        leaf = leaf_bytes(event.position, stream, event.version, event.topic, event.state)
    except (struct.error, OverflowError):  # a position or version out of range
        return False
    hashed = leaf_hash(leaf)
    return verify_inclusion(
        event.leaf_index, head.tree_size, hashed, event.audit_path, head.root_hash
    )


def _event(found: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        position=int(found["position"]),
        stream_id=UUID(found["stream_id"]),
        version=int(found["version"]),
        topic=str(found["topic"]),
        state=base64.b64decode(found["state"], validate=True),
        leaf_index=int(found["leaf_index"]),
        audit_path=[bytes.fromhex(h) for h in found["audit_path"]],
        item=dict(found["item"]),
    )
