"""API keys: only a SHA-256 hash of each key is stored, with its role and principal."""

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from psycopg import Connection

DDL = """
CREATE TABLE IF NOT EXISTS crm_api_keys (
    key_hash text PRIMARY KEY,
    role text NOT NULL,
    principal text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
"""


class Role(StrEnum):
    """What a key may do (docs/api.md, "Keys and roles")."""

    SERVICE = "service"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who calls: the name recorded as `actor` on events, and the role."""

    name: str
    role: Role


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(conn: Connection[Any], role: Role, name: str | None = None) -> tuple[str, Principal]:
    """Creates a key; the key itself is returned once and never stored."""
    key = f"crm_{secrets.token_urlsafe(32)}"
    principal = Principal(name or f"{role.value}-{key[4:12]}", role)
    conn.execute(
        "INSERT INTO crm_api_keys (key_hash, role, principal) VALUES (%s, %s, %s)",
        (hash_key(key), role.value, principal.name),
    )
    return key, principal


def find_principal(conn: Connection[Any], key: str) -> Principal | None:
    """The principal of a valid, unrevoked key."""
    row = conn.execute(
        "SELECT principal, role FROM crm_api_keys WHERE key_hash = %s AND revoked_at IS NULL",
        (hash_key(key),),
    ).fetchone()
    return Principal(row[0], Role(row[1])) if row else None


def create_first_admin_key(conn: Connection[Any]) -> str | None:
    """An admin key if the store has no key at all yet (first start), else None."""
    with conn.transaction():
        conn.execute("LOCK TABLE crm_api_keys IN EXCLUSIVE MODE")
        if conn.execute("SELECT 1 FROM crm_api_keys LIMIT 1").fetchone():
            return None
        key, _ = create_key(conn, Role.ADMIN, "admin")
        return key
