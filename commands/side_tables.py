"""Tables written in the same transaction as a command's events: idempotency, unique claims,
which streams (tickets, deals) belong to which customer, and an erasure's writes (their
SQL)."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from commands.context import Outcome
from commands.unit_of_work import Changes, Claim, Key, StoredOutcome
from infra.data_keys import destroy_keys
from infra.postgres import SqlWrite

DDL = """
CREATE TABLE IF NOT EXISTS crm_idempotency (
    actor text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status int NOT NULL,
    body jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
CREATE TABLE IF NOT EXISTS crm_unique_claims (
    kind text NOT NULL,
    value text NOT NULL,
    aggregate_id uuid NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS crm_customer_streams (
    customer_id uuid NOT NULL,
    stream_id uuid NOT NULL,
    PRIMARY KEY (customer_id, stream_id)
);
"""

IDEMPOTENCY_CONSTRAINT = "crm_idempotency_pkey"
CLAIMS_CONSTRAINT = "crm_unique_claims_pkey"


def record_outcome(actor: str, key: str, stored: StoredOutcome) -> SqlWrite:
    """The write that stores a command's first answer under its Idempotency-Key."""
    outcome = stored.outcome
    return (
        "INSERT INTO crm_idempotency (actor, key, request_hash, status, body)"
        " VALUES (%s, %s, %s, %s, %s)",
        (actor, key, stored.request_hash, outcome.status, Jsonb(outcome.body)),
    )


def writes(changes: Changes) -> list[SqlWrite]:
    """The side tables' writes of a save: links, claims, erasures, then idempotency
    records."""
    return [
        *(link(customer_id, stream_id) for customer_id, stream_id in changes.links),
        *(claim(kind, value, owner) for (kind, value), owner in changes.claims),
        *(write for customer_id in changes.erased for write in erasure(customer_id)),
        *(record_outcome(actor, key, stored) for (actor, key), stored in changes.outcomes),
    ]


def stored_outcomes(conn: Connection[Any], keys: Iterable[Key]) -> dict[Key, StoredOutcome]:
    """(actor, key) -> the first outcome and its request's hash, for the keys already used."""
    keys = list(keys)
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT actor, key, request_hash, status, body FROM crm_idempotency"
        " WHERE (actor, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([a for a, _ in keys], [k for _, k in keys]),
    ).fetchall()
    return {(r[0], r[1]): StoredOutcome(r[2], Outcome(r[3], r[4], replayed=True)) for r in rows}


def claim(kind: str, value: str, aggregate_id: UUID) -> SqlWrite:
    """The write that reserves a unique value for an aggregate."""
    return (
        "INSERT INTO crm_unique_claims (kind, value, aggregate_id) VALUES (%s, %s, %s)",
        (kind, value, aggregate_id),
    )


def link(customer_id: UUID, stream_id: UUID) -> SqlWrite:
    """The write that records a stream (a ticket, a deal) as the customer's: its events are
    then in the customer's timeline."""
    return (
        "INSERT INTO crm_customer_streams (customer_id, stream_id) VALUES (%s, %s)",
        (customer_id, stream_id),
    )


def erasure(customer_id: UUID) -> list[SqlWrite]:
    """The writes of a customer's erasure: the unique values they hold (their external
    reference) are released, and their data keys destroyed."""
    release = ("DELETE FROM crm_unique_claims WHERE aggregate_id = %s", (customer_id,))
    return [release, *destroy_keys(customer_id)]


def held_claims(conn: Connection[Any], claims: list[Claim]) -> set[Claim]:
    """The given (kind, value) claims that some aggregate already holds (one query)."""
    if not claims:
        return set()
    rows = conn.execute(
        "SELECT kind, value FROM crm_unique_claims"
        " WHERE (kind, value) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([kind for kind, _ in claims], [value for _, value in claims]),
    ).fetchall()
    return {(kind, value) for kind, value in rows}
