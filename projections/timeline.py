"""A customer's timeline, read straight from the event store (not a read model).

The auditor's view must show exactly what was recorded, so it reads stored events, with
their positions, causes and times; pages are keyed by position.
"""

from dataclasses import asdict
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from psycopg import Connection

from infra.event_store import EVENTS_TABLE
from projections.envelope import Envelope, from_notification


def customer_events(
    conn: Connection[Any], customer_id: UUID, after: int = 0, limit: int | None = None
) -> list[Envelope]:
    """The customer's events after position `after`, oldest first."""
    rows = conn.execute(
        f"SELECT notification_id, originator_id, originator_version, topic, state"  # noqa: S608
        f" FROM {EVENTS_TABLE} WHERE originator_id = %s AND notification_id > %s"
        " ORDER BY notification_id LIMIT %s",
        (customer_id, after, limit),
    ).fetchall()
    return [
        from_notification(
            Notification(
                id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=bytes(r[4])
            )
        )
        for r in rows
    ]


def timeline_item(event: Envelope) -> dict[str, Any]:
    """One timeline entry: what happened, when, who did it and why."""
    return asdict(event)
