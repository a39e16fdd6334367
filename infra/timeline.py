"""A customer's timeline, read straight from the event store (not a read model).

The auditor's view must show exactly what was recorded, so it reads stored events, with
their positions, causes and times; pages are keyed by position. A customer's streams
(tickets, deals) are found in `crm_customer_streams`, written with their first event.
"""

from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.events.catalogue import BY_NAME
from domain.events.envelope import Envelope, from_stored, message_fields
from infra.data_keys import keyring
from infra.event_store import EVENTS_TABLE
from infra.stored_events import STORED_COLUMNS


def customer_events(
    conn: Connection[Any], customer_id: UUID, after: int = 0, limit: int | None = None
) -> list[Envelope]:
    """The events of the customer and of its streams (tickets, deals) after position
    `after`, oldest first."""
    rows = conn.execute(
        f"SELECT {STORED_COLUMNS} FROM {EVENTS_TABLE}"  # noqa: S608
        " WHERE originator_id = ANY(ARRAY(SELECT stream_id FROM crm_customer_streams"
        " WHERE customer_id = %(customer)s) || %(customer)s::uuid)"
        " AND notification_id > %(after)s ORDER BY notification_id LIMIT %(limit)s",
        {"customer": customer_id, "after": after, "limit": limit},
    ).fetchall()
    return keyring().reveal(conn, [from_stored(*row) for row in rows], fresh=True)


def item(event: Envelope) -> dict[str, Any]:
    """One event as the timeline shows it (the Kafka message's fields), and whether its
    subject was erased: then its personal fields are left out, the rest stays."""
    fields = message_fields(event) | {"erased": event.erased}
    if event.erased:
        personal = BY_NAME[event.type].personal_fields
        fields["data"] = {k: v for k, v in event.data.items() if k not in personal}
    return fields
