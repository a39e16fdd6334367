"""The `tickets` table: its DDL, indexes, and batch reads and upserts of its rows."""

from projections.keyed_table import KeyedTable
from projections.table_schema import REWRITTEN, TableSchema
from projections.tickets.evolve import blank, evolve, key

TABLE = "tickets"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    ticket_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    version int NOT NULL,
    last_position bigint NOT NULL,
    kind text NOT NULL,
    subject text NOT NULL,
    description text,
    priority text NOT NULL,
    channel text NOT NULL,
    order_ref text,
    status text NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    first_response_at timestamptz,
    solved_at timestamptz,
    closed_at timestamptz,
    reopened int NOT NULL,
    replies jsonb NOT NULL,
    satisfaction jsonb,
    status_history jsonb NOT NULL
);
"""
"""Times are business times. `replies`: [{reply_id, author, at, body}]; `satisfaction`:
{rating, at, comment}; `status_history`: [{status, at}], oldest first. `description`, reply
bodies and the rating's comment are personal free text."""

ROWS = KeyedTable(
    (
        "ticket_id", "customer_id", "version", "last_position", "kind", "subject",
        "description", "priority", "channel", "order_ref", "status", "opened_at", "updated_at",
        "first_response_at", "solved_at", "closed_at", "reopened", "replies", "satisfaction",
        "status_history",
    )
)  # fmt: skip


SCHEMA = TableSchema(
    DDL,
    (
        ("status", "(status, priority, opened_at)"),
        ("customer", "(customer_id)"),
    ),
    fillfactor=REWRITTEN,
)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve, blank)
