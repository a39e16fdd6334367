"""Dead letters: events a projection could not decode or apply, parked with the reason.

A projection parks such an event and goes on; anything else that fails stops it. The same
event parked twice (a redelivery, a rebuild) is kept once.
"""

from dataclasses import dataclass
from typing import Any

from psycopg import Connection

DDL = """
CREATE TABLE IF NOT EXISTS crm_dead_letters (
    id bigserial PRIMARY KEY,
    projection text NOT NULL,
    position bigint,
    topic text,
    partition int,
    "offset" bigint,
    key bytea,
    value bytea,
    error text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS crm_dead_letters_event
    ON crm_dead_letters (projection, position) WHERE position IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS crm_dead_letters_message
    ON crm_dead_letters (projection, topic, partition, "offset") WHERE position IS NULL;
"""


@dataclass(frozen=True)
class DeadLetter:
    """One parked event: its position if it could be read, else where it was on Kafka."""

    projection: str
    error: str
    value: bytes | None
    position: int | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None


def park(conn: Connection[Any], letters: list[DeadLetter]) -> None:
    """Records dead letters in the caller's transaction (a letter already there is kept once)."""
    if letters:
        conn.cursor().executemany(
            "INSERT INTO crm_dead_letters"
            ' (projection, position, topic, partition, "offset", key, value, error)'
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [
                (d.projection, d.position, d.topic, d.partition, d.offset, d.key, d.value, d.error)
                for d in letters
            ],
        )


def counts(conn: Connection[Any]) -> dict[str, int]:
    """How many dead letters each projection has."""
    rows = conn.execute("SELECT projection, count(*) FROM crm_dead_letters GROUP BY projection")
    return dict(rows.fetchall())
