"""The `campaign_recipients` table: its DDL, and batch reads and upserts of its rows."""

from projections.campaign_recipients.evolve import evolve, key
from projections.keyed_table import KeyedTable
from projections.table_schema import REWRITTEN, TableSchema

TABLE = "campaign_recipients"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    campaign_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    last_position bigint NOT NULL,
    sent boolean NOT NULL,
    sent_at timestamptz,
    suppressed boolean NOT NULL,
    suppression_reason text,
    opened boolean NOT NULL,
    first_opened_at timestamptz,
    opens int NOT NULL,
    machine_opened boolean NOT NULL,
    first_machine_opened_at timestamptz,
    machine_opens int NOT NULL,
    clicked boolean NOT NULL,
    first_clicked_at timestamptz,
    clicks int NOT NULL,
    bounced boolean NOT NULL,
    bounced_at timestamptz,
    PRIMARY KEY (campaign_id, customer_id)
);
"""
"""`opened`/`opens` count people's opens only; machine opens (image proxies, prefetch within
seconds of sending) are in `machine_opened`/`machine_opens`. Times are business times."""

COLUMNS = (
    "campaign_id", "customer_id", "last_position", "sent", "sent_at", "suppressed",
    "suppression_reason", "opened", "first_opened_at", "opens", "machine_opened",
    "first_machine_opened_at", "machine_opens", "clicked", "first_clicked_at", "clicks",
    "bounced", "bounced_at",
)  # fmt: skip


ROWS = KeyedTable(COLUMNS, key_types=("uuid", "uuid"))
SCHEMA = TableSchema(DDL, (("customer", "(customer_id)"),), fillfactor=REWRITTEN)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
