"""Email tracking tokens: unguessable, tamper-evident names of (campaign, customer, link) that
reveal nothing of what they name.

A token is base64url (no padding) of a version byte (2) and the AES-SIV encryption (RFC 5297,
AES-256) of the campaign id (16 bytes), the customer id (16 bytes) and the link index (2 bytes,
big-endian; OPEN for the open pixel), the version byte bound as associated data: 1 + 16 + 34 =
51 bytes, 68 characters, no spare bits. AES-SIV is deterministic (the same recipient and link
always get the same token, so a resent email carries the same links) and authenticated (its
16-byte synthetic IV is a MAC over the claims: changing any character fails verification).
Someone holding a forwarded email learns neither the customer's nor the campaign's id.

Tokens of the first format (version 1, sent before tokens were encrypted: the ids in clear
and the first 20 bytes of HMAC-SHA256 over them, 54 bytes, 72 characters) are still verified,
so that emails already in inboxes keep working; only the new format is issued.

The secret is `CRM_SECRET_KEY`, or else a random key made once and kept in PostgreSQL
(`crm_secrets`), so that the API and the sender share it. The encryption key is derived from
it with HKDF-SHA256 (its own `info`), so it is never the secret itself. Links are
`{CRM_PUBLIC_URL}/v1/t/o/{token}` (pixel) and `{CRM_PUBLIC_URL}/v1/t/c/{token}` (click).
"""

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import Connection

from infra.settings import Settings

DDL = """
CREATE TABLE IF NOT EXISTS crm_secrets (
    name text PRIMARY KEY,
    value bytea NOT NULL
);
"""

OPEN = 0xFFFF
"""The link index that stands for the open pixel."""
MAX_LINKS = OPEN
"""Links of one email that can be tracked (indexes 0 to MAX_LINKS - 1)."""
_CLAIMS = struct.Struct(">16s16sH")
VERSION = b"\x02"
"""The first byte of every token issued."""
_SIV_BYTES = 16
_TOKEN_BYTES = len(VERSION) + _SIV_BYTES + _CLAIMS.size
_KEY_INFO = b"crm tracking tokens: AES-SIV key, version 2"
LEGACY_MAC_BYTES = 20
_LEGACY_TOKEN_BYTES = _CLAIMS.size + LEGACY_MAC_BYTES
KEY_ROW = "tracking"
"""The row of `crm_secrets` that holds the tracking key."""


@dataclass(frozen=True)
class Claims:
    """What a valid token names; `link_index` is None for the open pixel."""

    campaign_id: UUID
    customer_id: UUID
    link_index: int | None


def sign_open(secret: bytes, campaign_id: UUID, customer_id: UUID) -> str:
    """The token of a customer's open pixel for a campaign."""
    return _seal(secret, campaign_id, customer_id, OPEN)


def sign_click(secret: bytes, campaign_id: UUID, customer_id: UUID, link_index: int) -> str:
    """The token of the link at `link_index` (0-based, as in EmailSent's `links`)."""
    if not 0 <= link_index < MAX_LINKS:
        raise ValueError(f"link_index must be 0 to {MAX_LINKS - 1}")
    return _seal(secret, campaign_id, customer_id, link_index)


def verify(secret: bytes, token: str) -> Claims | None:
    """The claims of a token made with `secret` (either format); None if it is not one, or
    was changed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if _encode(raw) != token:  # one spelling per token: no padding, no stray bits
        return None
    if len(raw) == _TOKEN_BYTES and raw[:1] == VERSION:
        claims = _open(secret, raw)
    elif len(raw) == _LEGACY_TOKEN_BYTES:
        claims = _legacy_claims(secret, raw)
    else:
        return None
    if claims is None:
        return None
    campaign, customer, link = _CLAIMS.unpack(claims)
    return Claims(UUID(bytes=campaign), UUID(bytes=customer), None if link == OPEN else link)


def open_url(public_url: str, token: str) -> str:
    """The open pixel's URL for an open token."""
    return f"{public_url.rstrip('/')}/v1/t/o/{token}"


def click_url(public_url: str, token: str) -> str:
    """The tracked URL that stands for a link, for a click token."""
    return f"{public_url.rstrip('/')}/v1/t/c/{token}"


def tracking_secret(conn: Connection[Any], settings: Settings) -> bytes:
    """The secret tokens are made with: CRM_SECRET_KEY, or the one kept in PostgreSQL (made
    on first use; concurrent first uses agree on one)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    conn.execute(
        "INSERT INTO crm_secrets (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (KEY_ROW, secrets.token_bytes(32)),
    )
    row = conn.execute("SELECT value FROM crm_secrets WHERE name = %s", (KEY_ROW,)).fetchone()
    conn.commit()
    return bytes(row[0])  # type: ignore[index]


def _seal(secret: bytes, campaign_id: UUID, customer_id: UUID, link: int) -> str:
    claims = _CLAIMS.pack(campaign_id.bytes, customer_id.bytes, link)
    return _encode(VERSION + _cipher(secret).encrypt(claims, [VERSION]))


def _open(secret: bytes, raw: bytes) -> bytes | None:
    try:
        return _cipher(secret).decrypt(raw[len(VERSION) :], [VERSION])
    except InvalidTag:
        return None


@lru_cache(maxsize=8)
def _cipher(secret: bytes) -> AESSIV:
    """AES-SIV under a key derived from the secret (HKDF-SHA256, 64 bytes: AES-256-SIV)."""
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_KEY_INFO).derive(secret)
    return AESSIV(key)


def _legacy_claims(secret: bytes, raw: bytes) -> bytes | None:
    """The claims of a version-1 token (ids in clear, truncated HMAC-SHA256 of the secret)."""
    claims, mac = raw[: _CLAIMS.size], raw[_CLAIMS.size :]
    expected = hmac.new(secret, claims, hashlib.sha256).digest()[:LEGACY_MAC_BYTES]
    return claims if hmac.compare_digest(mac, expected) else None


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
