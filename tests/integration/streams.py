"""One aggregate's stored events, as consumers see them: what tests fold read-model rows from,
or read what was recorded in (aggregates keep only the state their decisions need)."""

from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.events.envelope import Envelope, from_stored
from infra.data_keys import keyring
from infra.event_store import EVENTS_TABLE
from infra.stored_events import STORED_COLUMNS


def stream(conn: Connection[Any], stream_id: UUID) -> list[Envelope]:
    """The events of one aggregate, oldest first, personal fields opened."""
    rows = conn.execute(
        f"SELECT {STORED_COLUMNS} FROM {EVENTS_TABLE}"  # noqa: S608
        " WHERE originator_id = %s ORDER BY originator_version",
        (stream_id,),
    ).fetchall()
    return keyring().reveal(
        conn,
        [
            from_stored(position, originator, version, topic, bytes(state))
            for position, originator, version, topic, state in rows
        ],
    )
