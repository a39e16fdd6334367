"""The blind index of customers' emails: which customer has an email, looked up by a keyed
digest (`MasterKey.blind_index`), never by the address itself. Written by the writer in the
transaction of the events that set, change or erase an email, so a lookup (lead matching)
sees every committed change at once."""

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.events.payloads import customer
from infra.event_store import entry_of
from infra.postgres import SqlWrite

DDL = """
CREATE TABLE IF NOT EXISTS crm_email_index (
    customer_id uuid PRIMARY KEY,
    digest text,
    registered_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS crm_email_index_digest ON crm_email_index (digest, registered_at);
"""

_EMAIL_EVENTS = (customer.Registered, customer.ProfileChanged, customer.Erased)
"""The events that set, change or erase an email (payload models)."""

_UPSERT = (
    "INSERT INTO crm_email_index (customer_id, digest, registered_at) VALUES (%s, %s, %s)"
    " ON CONFLICT (customer_id) DO UPDATE SET digest = excluded.digest"
)


def writes(aggregates: Iterable[Aggregate], digest: Callable[[str], str]) -> list[SqlWrite]:
    """The index rows of the customers whose email the pending events set, changed or
    erased (null digest: no email)."""
    return [
        (_UPSERT, (c.id, digest(c.personal.email) if c.personal.email else None, c.created_on))
        for c in aggregates
        if isinstance(c, Customer) and any(_payload(e) in _EMAIL_EVENTS for e in c.pending_events)
    ]


def _payload(event: object) -> type | None:
    entry = entry_of(type(event))
    return entry.payload if entry else None


def customer_with_digest(conn: Connection[Any], digest: str) -> UUID | None:
    """The first registered customer whose email has this digest, or None."""
    row = conn.execute(
        "SELECT customer_id FROM crm_email_index WHERE digest = %s"
        " ORDER BY registered_at, customer_id LIMIT 1",
        (digest,),
    ).fetchone()
    return row[0] if row else None
