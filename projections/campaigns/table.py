"""The `campaigns` table: its DDL; rows are read and upserted by id (`KeyedTable`)."""

from projections.campaigns.evolve import evolve, key
from projections.keyed_table import KeyedTable
from projections.table_schema import REWRITTEN, TableSchema

TABLE = "campaigns"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    campaign_id uuid PRIMARY KEY,
    version int NOT NULL,
    last_position bigint NOT NULL,
    name text NOT NULL,
    subject text NOT NULL,
    body_html text NOT NULL,
    audience jsonb NOT NULL,
    status text NOT NULL,
    sent int,
    suppressed int
);
"""
"""`audience` is as drafted: `{segment, segment_id, customer_ids}`, one of them set. `sent` and
`suppressed` are the counts of a completed send (null before)."""

ROWS = KeyedTable((
    "campaign_id", "version", "last_position", "name", "subject", "body_html", "audience",
    "status", "sent", "suppressed",
))  # fmt: skip


SCHEMA = TableSchema(DDL, fillfactor=REWRITTEN)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
