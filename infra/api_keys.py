"""API keys: only a SHA-256 hash of each key is stored, with its id, unique name (the principal,
recorded as the actor of events), role, expiry, revocation and when it was last used."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any
from uuid import UUID

from psycopg import Connection

DDL = """
CREATE TABLE IF NOT EXISTS crm_api_keys (
    key_hash text PRIMARY KEY,
    role text NOT NULL,
    principal text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
ALTER TABLE crm_api_keys
    ADD COLUMN IF NOT EXISTS id uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS crm_api_keys_id ON crm_api_keys (id);
-- a store from before names were unique: later keys sharing a name become NAME-2, NAME-3...
UPDATE crm_api_keys AS k SET principal = k.principal || '-' || d.n
FROM (
    SELECT key_hash, row_number() OVER (PARTITION BY principal ORDER BY created_at, key_hash) AS n
    FROM crm_api_keys
) AS d
WHERE k.key_hash = d.key_hash AND d.n > 1;
CREATE UNIQUE INDEX IF NOT EXISTS crm_api_keys_principal ON crm_api_keys (principal);
CREATE SEQUENCE IF NOT EXISTS crm_api_key_numbers;
"""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
"""A key's name: 1 to 64 letters, digits, `.`, `_`, `@` or `-`, starting with a letter or digit."""
MAX_EXPIRY_DAYS = 3650
LAST_USED_EVERY = "1 minute"
"""`last_used_at` is written at most this often per key (a key check inside it leaves it)."""
COLUMNS = "id, principal, role, created_at, expires_at, last_used_at, revoked_at"


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


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: UUID
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @cached_property
    def principal(self) -> Principal:
        return Principal(self.name, self.role)

    def refusal(self, now: datetime) -> str | None:
        """Why the key is refused at `now` (`revoked`, `expired`), or None if it is valid."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return None


class DuplicateKeyName(Exception):
    """Another key (revoked ones included) already has this name."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    conn: Connection[Any], role: Role, name: str | None = None, expires_in_days: int | None = None
) -> tuple[str, ApiKey]:
    """Creates a key named `name` (default: `ROLE-N`, N the next free number); the key itself
    is returned once and never stored. DuplicateKeyName if `name` is taken."""
    key = f"crm_{secrets.token_urlsafe(32)}"
    while True:
        row = conn.execute(
            "INSERT INTO crm_api_keys (key_hash, role, principal, expires_at)"
            " VALUES (%(hash)s, %(role)s,"
            "  coalesce(%(name)s, %(role)s || '-' || nextval('crm_api_key_numbers')),"
            "  now() + make_interval(days => %(days)s::int))"
            f" ON CONFLICT (principal) DO NOTHING RETURNING {COLUMNS}",
            {"hash": hash_key(key), "role": role.value, "name": name, "days": expires_in_days},
        ).fetchone()
        if row:
            return key, _api_key(row)
        if name is not None:
            raise DuplicateKeyName(name)


def find_key(conn: Connection[Any], key: str) -> ApiKey | None:
    """The stored key (revoked and expired ones too), or None for an unknown one. A valid key's
    `last_used_at` is brought up to now if it is older than LAST_USED_EVERY."""
    row = conn.execute(
        f"WITH found AS (SELECT {COLUMNS} FROM crm_api_keys WHERE key_hash = %(hash)s),"
        " touched AS (UPDATE crm_api_keys SET last_used_at = now() WHERE key_hash = %(hash)s"
        "  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
        f"  AND (last_used_at IS NULL OR last_used_at < now() - interval '{LAST_USED_EVERY}'))"
        f" SELECT {COLUMNS} FROM found",
        {"hash": hash_key(key)},
    ).fetchone()
    return _api_key(row) if row else None


def list_keys(conn: Connection[Any]) -> list[ApiKey]:
    """Every key, revoked and expired ones too, oldest first."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM crm_api_keys ORDER BY created_at, id").fetchall()
    return [_api_key(row) for row in rows]


def revoke_key(conn: Connection[Any], key_id: UUID) -> ApiKey | None:
    """Revokes a key (a revoked one keeps its first revocation time); None if there is none."""
    row = conn.execute(
        "UPDATE crm_api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
        f" RETURNING {COLUMNS}",
        (key_id,),
    ).fetchone()
    return _api_key(row) if row else None


def create_first_admin_key(conn: Connection[Any]) -> str | None:
    """An admin key if the store has no key at all yet (first start), else None."""
    with conn.transaction():
        conn.execute("LOCK TABLE crm_api_keys IN EXCLUSIVE MODE")
        if conn.execute("SELECT 1 FROM crm_api_keys LIMIT 1").fetchone():
            return None
        key, _ = create_key(conn, Role.ADMIN, "admin")
        return key


def _api_key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, role, created_at, expires_at, last_used_at, revoked_at = row
    return ApiKey(key_id, name, Role(role), created_at, expires_at, last_used_at, revoked_at)
