"""Everything the CRM holds about one customer, for their rights of access and portability
(GDPR art. 15 and 20): their profile and consent, every event of theirs and of their
tickets, deals and converted leads (campaign emails are the customer's own events), their
personal fields decrypted, in position order, and each read model's rows about them.

The profile and consent are folded from the events exported (the 360 view's own fold), so
they are exactly what those events say, whatever the read models' lag. Once a customer is
erased there is nothing of them to export: `erasure` says when and why they were erased.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from domain.events.catalogue import BY_PAYLOAD
from domain.events.envelope import from_stored
from domain.events.payloads.customer import Erased
from infra import timeline
from infra.event_store import EVENTS_TABLE
from infra.stored_events import STORED_COLUMNS
from projections.catalog import PROJECTIONS
from projections.customer_360.evolve import evolve

PROFILE = ("external_ref", "name", "email", "phone", "personal", "profile", "custom_fields",
           "tags", "registered_at")  # fmt: skip
"""The 360 view's columns that make a customer's profile."""
_ERASED_TOPIC = f"%:{BY_PAYLOAD[Erased].name}"
"""The stored topic of `Customer.Erased` ends with its type name."""


@dataclass(frozen=True)
class Erasure:
    """When a customer was erased (recorded), and the reason the administrator gave."""

    erased_at: datetime
    reason: str


def erasure(conn: Connection[Any], customer_id: UUID) -> Erasure | None:
    """The customer's erasure, if they were erased (one read by key)."""
    row = conn.execute(
        f"SELECT {STORED_COLUMNS} FROM {EVENTS_TABLE}"  # noqa: S608
        " WHERE originator_id = %s AND topic LIKE %s LIMIT 1",
        (customer_id, _ERASED_TOPIC),
    ).fetchone()
    if row is None:
        return None
    position, stream_id, version, topic, state = row
    erased = from_stored(position, stream_id, version, topic, bytes(state))
    return Erasure(erased.recorded_at, erased.data["reason"])


def export(conn: Connection[Any], customer_id: UUID) -> dict[str, Any] | Erasure | None:
    """The customer's export document; their `Erasure` if they were erased; None if there is
    no such customer."""
    erased = erasure(conn, customer_id)
    if erased is not None:
        return erased
    events = timeline.customer_events(conn, customer_id)
    row = reduce(evolve, events, None)
    if row is None:
        return None
    return {
        "customer_id": customer_id,
        "profile": {name: row[name] for name in PROFILE},
        "consent": row["consent"],
        "events": [timeline.item(event) for event in events],
        "read_models": read_models(conn, customer_id),
    }


def read_models(conn: Connection[Any], customer_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """Every read model's rows about the customer (those whose `customer_id` is theirs: the
    360 view, purchases, tickets, deals, ratings, campaign emails, converted leads...), by
    read model; binary columns in hex."""
    tables = conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND column_name = 'customer_id' AND table_name = ANY(%s) ORDER BY table_name",
        (list(PROJECTIONS),),
    ).fetchall()
    found = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for (table,) in tables:
            query = sql.SQL("SELECT * FROM {} WHERE customer_id = %s ORDER BY 1")
            rows = cur.execute(query.format(sql.Identifier(table)), (customer_id,)).fetchall()
            found[table] = [
                {k: v.hex() if isinstance(v, bytes) else v for k, v in row.items()} for row in rows
            ]
    return found
