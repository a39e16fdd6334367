"""The `leads` table: its DDL and index; rows are read and upserted by id (`KeyedTable`)."""

from projections.keyed_table import KeyedTable
from projections.leads.evolve import blank, evolve, key
from projections.table_schema import REWRITTEN, TableSchema

TABLE = "leads"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    lead_id uuid PRIMARY KEY,
    version int NOT NULL,
    last_position bigint NOT NULL,
    status text NOT NULL,
    name text NOT NULL,
    email text,
    company text,
    source text,
    attributes jsonb NOT NULL,
    owner_id text,
    duplicate_of uuid,
    score int NOT NULL,
    score_rules_version int NOT NULL,
    score_explanation jsonb NOT NULL,
    engagement jsonb NOT NULL,
    disqualified_reason text,
    customer_id uuid,
    deal_id uuid,
    captured_at timestamptz NOT NULL
);
"""
"""`name` and `email` are personal data. `score_explanation` is `[{rule, points}]`, the rules
(of version `score_rules_version`) that gave points; `engagement` counts by kind
(`email_opened`, `email_clicked`); `customer_id` is the customer it was converted into."""

ROWS = KeyedTable((
    "lead_id", "version", "last_position", "status", "name", "email", "company", "source",
    "attributes", "owner_id", "duplicate_of", "score", "score_rules_version",
    "score_explanation", "engagement", "disqualified_reason", "customer_id", "deal_id",
    "captured_at",
))  # fmt: skip


SCHEMA = TableSchema(DDL, (("email", "(lower(email))"),), fillfactor=REWRITTEN)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve, blank)
