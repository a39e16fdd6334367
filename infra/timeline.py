"""A customer's timeline, read straight from the event store (not a read model).

The auditor's view must show exactly what was recorded, so it reads stored events, with
their positions, causes and times; pages are keyed by position. A customer's streams
(tickets, deals) are found in `crm_customer_streams`, written with their first event.
"""

from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.events.envelope import Envelope, from_stored
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
    return keyring().reveal(conn, [from_stored(*row) for row in rows])
