"""Sealing the personal fields of a store written before they were sealed, in place.

Run once (`crm migrate encrypt-personal-data`) with the service stopped, before the audit
log is first built (the tree covers stored bytes: sealing afterwards would change leaves
already signed). Each batch of events is rewritten in one transaction with the data keys it
makes, so a run cut off resumes where it stopped: sealed fields are left as they are, and a
second run changes nothing. The email blind index is filled from the same pass.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from psycopg import Connection

from domain.events.catalogue import BY_NAME
from domain.events.payloads import customer
from infra.append_only import allow_rewrite
from infra.data_keys import KeyRing
from infra.email_index import DDL as EMAIL_INDEX_DDL
from infra.event_store import EVENTS_TABLE
from infra.sealing import is_sealed, seal, subject_of, unsealed_datum

BATCH = 2000
_NAMES = {entry.payload: entry.name for entry in BY_NAME.values()}
_REGISTERED, _CHANGED, _ERASED = (
    _NAMES[customer.Registered],
    _NAMES[customer.ProfileChanged],
    _NAMES[customer.Erased],
)


MARKER_DDL = """
CREATE TABLE IF NOT EXISTS crm_store_changes (
    name text PRIMARY KEY,
    done_at timestamptz NOT NULL DEFAULT now()
);
"""
SEALED = "personal-data-sealed"
"""The change this module makes; a new store is born with it."""


class StoreNotSealed(RuntimeError):
    """The store holds events written before personal fields were sealed."""


def require_sealed(conn: Connection[Any]) -> None:
    """Marks a new store as sealed from its start; refuses an older store not migrated yet
    (its processes would otherwise mix plaintext and sealed fields)."""
    conn.execute(MARKER_DDL)
    if conn.execute("SELECT 1 FROM crm_store_changes WHERE name = %s", (SEALED,)).fetchone():
        return
    if conn.execute(f"SELECT 1 FROM {EVENTS_TABLE} LIMIT 1").fetchone():  # noqa: S608
        raise StoreNotSealed(
            "this event store was written before personal data was encrypted:"
            " run `crm migrate encrypt-personal-data` once, with the service stopped"
        )
    _mark_sealed(conn)


def _mark_sealed(conn: Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO crm_store_changes (name) VALUES (%s) ON CONFLICT DO NOTHING", (SEALED,)
    )


class AuditLogAlreadyBuilt(RuntimeError):
    """The audit tree covers the plaintext events already: sealing them would break it."""


@dataclass
class Migrated:
    """What a run did."""

    events_read: int = 0
    events_sealed: int = 0
    keys_made: int = 0


@dataclass
class _Email:
    registered_at: str
    email: str | None = None


def encrypt_personal_data(
    conn: Connection[Any], keys: KeyRing, progress: Callable[[int, int], None] = lambda *_: None
) -> Migrated:
    """Seals every unsealed personal field of the store on `conn` (autocommit), and fills
    the email index; `progress(position, head)` after each batch."""
    if _audited(conn):
        raise AuditLogAlreadyBuilt(
            "the audit log covers these events already; sealing them would change signed leaves"
        )
    conn.execute(EMAIL_INDEX_DDL)
    head = conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}").fetchone()[
        0
    ]  # type: ignore[index]  # noqa: S608
    done, after, emails = Migrated(), 0, dict[UUID, _Email]()
    while rows := conn.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state"  # noqa: S608
        f" FROM {EVENTS_TABLE} WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
        (after, BATCH),
    ).fetchall():
        with conn.transaction():
            allow_rewrite(conn)  # stored events are append-only but for a migration
            _seal_batch(conn, keys, rows, done, emails)
        done.events_read += len(rows)
        after = rows[-1][0]
        progress(after, head)
    _index_emails(conn, keys, emails)
    conn.execute(MARKER_DDL)
    _mark_sealed(conn)
    return done


def _seal_batch(
    conn: Connection[Any],
    keys: KeyRing,
    rows: list[Any],
    done: Migrated,
    emails: dict[UUID, "_Email"],
) -> None:
    decoded = []
    for position, stream, version, topic, state in rows:
        name, data = topic.rpartition(":")[2], orjson.loads(state)
        _note_email(emails, name, stream, data)
        entry = BY_NAME.get(name)
        if entry is None:
            continue
        if any(unsealed_datum(data.get(f)) for f in entry.personal_fields):
            decoded.append((position, str(stream), version, entry, data))
    if not decoded:
        return
    subjects = {subject_of(d, s) for _, s, _, _, d in decoded}
    sealing = keys.for_writing(keys.database(conn), subjects, set(), lambda read: read(conn))
    for statement, params in sealing.writes:
        conn.execute(statement, params)
    updates = []
    for position, stream, version, entry, data in decoded:
        subject = subject_of(data, stream)
        sealed = seal(entry, data, stream, version, sealing.keys[subject], subject)
        updates.append((orjson.dumps(sealed), position))
    conn.cursor().executemany(
        f"UPDATE {EVENTS_TABLE} SET state = %s WHERE notification_id = %s",  # noqa: S608
        updates,
    )
    done.events_sealed += len(updates)
    done.keys_made += len(sealing.writes)
    sealing.remember()


def _note_email(emails: dict[UUID, _Email], name: str, stream: UUID, data: dict[str, Any]) -> None:
    """Follows each customer's email through the plaintext events (sealed ones were written
    by a writer that indexed them)."""
    personal = data.get("personal")
    if name == _REGISTERED and isinstance(personal, dict) and not is_sealed(personal):
        emails[stream] = _Email(data["timestamp"], personal.get("email"))
    elif name == _CHANGED and stream in emails and "email" in (personal or {}):
        emails[stream].email = personal["email"]  # type: ignore[index]
    elif name == _ERASED and stream in emails:
        emails[stream].email = None


def _index_emails(conn: Connection[Any], keys: KeyRing, emails: dict[UUID, _Email]) -> None:
    rows = [
        (
            customer_id,
            keys.master.blind_index(each.email) if each.email else None,
            datetime.fromisoformat(each.registered_at),
        )
        for customer_id, each in emails.items()
    ]
    conn.cursor().executemany(
        "INSERT INTO crm_email_index (customer_id, digest, registered_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (customer_id) DO UPDATE SET digest = excluded.digest",
        rows,
    )


def _audited(conn: Connection[Any]) -> bool:
    """Whether the audit log has leaves already."""
    exists = conn.execute("SELECT to_regclass('crm_audit_leaves') IS NOT NULL").fetchone()
    return bool(exists and exists[0]) and bool(
        conn.execute("SELECT 1 FROM crm_audit_leaves LIMIT 1").fetchone()
    )
