"""Answers of the audit log's routes."""

from pydantic import BaseModel, Field


class PublicKey(BaseModel):
    """The key that signs tree heads: its id (SHA-256 of its DER SubjectPublicKeyInfo, hex)
    and its 32 raw bytes, base64."""

    key_id: str
    algorithm: str = Field(examples=["Ed25519"])
    public_key: str


class TreeHead(BaseModel):
    """A signed tree head: the tree of `tree_size` leaves had root `root_hash` (hex) at
    `timestamp` (milliseconds since 1970-01-01 UTC); `signature` (base64) is the Ed25519
    signature of the encoding docs/audit.md gives, by key `key_id`."""

    tree_size: int
    root_hash: str
    timestamp: int
    key_id: str
    signature: str


class InclusionProof(BaseModel):
    """The audit path (hex hashes, from the leaf up) of leaf `leaf_index` in the tree of
    `tree_size` leaves (RFC 9162 section 2.1.3)."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class TimelineProof(BaseModel):
    """An event's inclusion proof against the latest signed tree head."""

    leaf_index: int
    tree_size: int
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    """The proof (hex hashes) that the tree of `first` leaves is a prefix of the tree of
    `second` leaves (RFC 9162 section 2.1.4)."""

    first: int
    second: int
    proof: list[str]


class Verification(BaseModel):
    """Whether the store verifies against the audit tree and its signed heads; if not, the
    first position whose event differs, or the size of the first tree head that does not
    hold, and why."""

    verified: bool
    tree_size: int
    first_bad_position: int | None
    first_bad_tree_head: int | None
    reason: str | None
