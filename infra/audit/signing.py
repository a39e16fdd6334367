"""The audit log's Ed25519 key and what it signs: tree heads, and exported bundles.

A signed tree head is the signature of these 56 bytes after a context string:

    "crm-audit-tree-head-v1" 0x00 || tree_size (uint64 BE) || timestamp (uint64 BE,
    milliseconds since 1970-01-01 UTC) || root_hash (32 bytes)

A bundle's signature covers "crm-audit-bundle-v1" 0x00 followed by its `body` as written. The
two context strings keep a signature of one kind from passing for the other. The key id is
the SHA-256 (hex) of the public key's DER SubjectPublicKeyInfo, as RFC 6962 names a log.
"""

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.settings import Settings

ALGORITHM = "Ed25519"
KEY_FILE_NAME = "audit-signing-key.pem"
HEAD_CONTEXT = b"crm-audit-tree-head-v1\x00"
BUNDLE_CONTEXT = b"crm-audit-bundle-v1\x00"
_HEAD = struct.Struct(">QQ32s")


class SigningKeyMissing(Exception):  # noqa: N818 - a state of the configuration
    """No signing key is configured, or the configured file cannot be read."""


def signing_key_path(settings: Settings) -> Path:
    """CRM_AUDIT_SIGNING_KEY_FILE; unset, the key kept under CRM_DATA_DIR."""
    return settings.audit_signing_key_file or settings.data_dir / KEY_FILE_NAME


def ensure_signing_key(settings: Settings) -> Path:
    """The signing key's file. Unconfigured, a key is made under CRM_DATA_DIR (mode 0600) on
    first use, atomically: processes starting together all get the same one. A configured
    file must exist."""
    path = signing_key_path(settings)
    if path.exists():
        return path
    if settings.audit_signing_key_file:
        raise SigningKeyMissing(f"CRM_AUDIT_SIGNING_KEY_FILE {path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        file.write(pem)
    try:
        os.link(draft, path)  # fails if another process made it first: theirs is kept
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The private key in a PEM (PKCS #8) file, as `openssl genpkey -algorithm ed25519` writes."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise SigningKeyMissing(f"cannot read the audit signing key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing(f"{path} does not hold an Ed25519 private key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The 32 raw bytes of the public key, base64."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_key_document(public_key: Ed25519PublicKey) -> dict[str, str]:
    """`{key_id, algorithm, public_key}`, as served and printed."""
    return {
        "key_id": key_id(public_key),
        "algorithm": ALGORITHM,
        "public_key": public_key_text(public_key),
    }


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key given as base64 of its 32 raw bytes, or as PEM; ValueError otherwise."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed tree head: the tree of `tree_size` leaves had `root_hash` at `timestamp`
    (milliseconds since the epoch), signed by the key `key_id`."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    key_id: str
    signature: bytes

    def as_json(self) -> dict[str, Any]:
        """Hex root hash, base64 signature."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, found: dict[str, Any]) -> "TreeHead":
        """The inverse of `as_json`; ValueError (or KeyError, TypeError) if it is not one."""
        return cls(
            tree_size=int(found["tree_size"]),
            root_hash=bytes.fromhex(found["root_hash"]),
            timestamp=int(found["timestamp"]),
            key_id=str(found["key_id"]),
            signature=base64.b64decode(found["signature"], validate=True),
        )


def head_message(tree_size: int, timestamp: int, root_hash: bytes) -> bytes:
    """The bytes a tree head's signature covers."""
    return HEAD_CONTEXT + _HEAD.pack(tree_size, timestamp, root_hash)


def sign_head(key: Ed25519PrivateKey, tree_size: int, root_hash: bytes, timestamp: int) -> TreeHead:
    """Signs the tree of `tree_size` leaves with root `root_hash` at `timestamp`."""
    signature = key.sign(head_message(tree_size, timestamp, root_hash))
    return TreeHead(tree_size, root_hash, timestamp, key_id(key.public_key()), signature)


def head_signed_by(public_key: Ed25519PublicKey, head: TreeHead) -> bool:
    """Whether `head` names this key and carries its valid signature."""
    if head.key_id != key_id(public_key) or len(head.root_hash) != 32:
        return False
    message = head_message(head.tree_size, head.timestamp, head.root_hash)
    return _valid(public_key, head.signature, message)


def sign_bundle(key: Ed25519PrivateKey, body: bytes) -> bytes:
    """The signature of a bundle's body."""
    return key.sign(BUNDLE_CONTEXT + body)


def bundle_signed_by(public_key: Ed25519PublicKey, body: bytes, signature: bytes) -> bool:
    """Whether `signature` is this key's signature of a bundle's body."""
    return _valid(public_key, signature, BUNDLE_CONTEXT + body)


def _valid(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
