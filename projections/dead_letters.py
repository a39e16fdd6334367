"""Dead letters: events a projection could not decode or apply, parked with the reason.

A projection parks such an event and goes on; anything else that fails stops it. The same
event parked twice (a redelivery, a rebuild) is kept once. Once a customer is erased, the
letters of their events keep where the event was and the error's type, nothing more.
"""

from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from infra.event_store import EVENTS_TABLE

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


def forget_customer(
    conn: Connection[Any], projection: str, customer_id: str, streams: list[str]
) -> None:
    """Drops the payload (and the Kafka key) of a projection's dead letters of an erased
    customer's events, and of their streams' (`streams`: tickets, deals, converted leads),
    and cuts each one's error down to its type: a value in a message may be personal."""
    subjects = [customer_id, *streams]
    conn.execute(
        "UPDATE crm_dead_letters SET value = NULL, key = NULL,"  # noqa: S608
        " error = split_part(error, '(', 1) || '(erased)'"
        " WHERE projection = %s AND (value IS NOT NULL OR key IS NOT NULL) AND ("
        f" position IN (SELECT notification_id FROM {EVENTS_TABLE}"
        " WHERE originator_id = ANY(%s::uuid[]))"
        " OR (position IS NULL AND key = ANY(%s::bytea[])))",
        (projection, subjects, [s.encode() for s in subjects]),
    )
