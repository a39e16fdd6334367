"""Email tracking tokens: unguessable, tamper-evident names of (campaign, customer, link).

A token is base64url (no padding) of the campaign id (16 bytes), the customer id (16 bytes),
the link index (2 bytes, big-endian; OPEN for the open pixel) and the first 20 bytes (160
bits) of HMAC-SHA256 over those 34 bytes: 54 bytes, 72 characters, no spare bits, so changing
any character changes the token's bytes and fails verification. Tokens carry no personal data.

The key is `CRM_SECRET_KEY`, or else a random key made once and kept in PostgreSQL
(`crm_secrets`), so that the API and the sender share it. Links are
`{CRM_PUBLIC_URL}/v1/t/o/{token}` (pixel) and `{CRM_PUBLIC_URL}/v1/t/c/{token}` (click).
"""

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Any
from uuid import UUID

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
MAC_BYTES = 20
_CLAIMS = struct.Struct(">16s16sH")
_TOKEN_BYTES = _CLAIMS.size + MAC_BYTES
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
    return _sign(secret, campaign_id, customer_id, OPEN)


def sign_click(secret: bytes, campaign_id: UUID, customer_id: UUID, link_index: int) -> str:
    """The token of the link at `link_index` (0-based, as in EmailSent's `links`)."""
    if not 0 <= link_index < MAX_LINKS:
        raise ValueError(f"link_index must be 0 to {MAX_LINKS - 1}")
    return _sign(secret, campaign_id, customer_id, link_index)


def verify(secret: bytes, token: str) -> Claims | None:
    """The claims of a token signed with `secret`; None if it is not one, or was changed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if len(raw) != _TOKEN_BYTES or _encode(raw) != token:
        return None
    claims, mac = raw[: _CLAIMS.size], raw[_CLAIMS.size :]
    if not hmac.compare_digest(mac, _mac(secret, claims)):
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
    """The key tokens are signed with: CRM_SECRET_KEY, or the one kept in PostgreSQL (made on
    first use; concurrent first uses agree on one)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    conn.execute(
        "INSERT INTO crm_secrets (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (KEY_ROW, secrets.token_bytes(32)),
    )
    row = conn.execute("SELECT value FROM crm_secrets WHERE name = %s", (KEY_ROW,)).fetchone()
    conn.commit()
    return bytes(row[0])  # type: ignore[index]


def _sign(secret: bytes, campaign_id: UUID, customer_id: UUID, link: int) -> str:
    claims = _CLAIMS.pack(campaign_id.bytes, customer_id.bytes, link)
    return _encode(claims + _mac(secret, claims))


def _mac(secret: bytes, claims: bytes) -> bytes:
    return hmac.new(secret, claims, hashlib.sha256).digest()[:MAC_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
