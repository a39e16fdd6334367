"""Which streams (tickets, deals, converted leads) belong to which customer, as the command
writer records them in `crm_customer_streams` with each stream's first event (a lead's: with
its conversion)."""

from collections.abc import Collection
from typing import Any
from uuid import UUID

from psycopg import Connection


def owned_streams(conn: Connection[Any], customers: Collection[UUID | str]) -> list[UUID]:
    """The ids of the streams the given customers own."""
    rows = conn.execute(
        "SELECT stream_id FROM crm_customer_streams WHERE customer_id = ANY(%s::uuid[])",
        ([str(customer) for customer in customers],),
    ).fetchall()
    return [stream_id for (stream_id,) in rows]
