"""The `campaign_recipients` table: its DDL, and batch reads and upserts of its rows."""

from collections.abc import Collection, Iterable
from functools import cache
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row

from projections.campaign_recipients.evolve import evolve, key
from projections.projection import Projection, Row

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


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing (its primary key serves per-campaign queries)."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the index of a customer's rows (their email engagement), if missing."""
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (customer_id)").format(
            sql.Identifier(f"{table}_customer_idx"), sql.Identifier(table)
        )
    )


def load(conn: Connection[Any], keys: Collection[str], table: str = TABLE) -> dict[str, Row]:
    """The current rows of the given `campaign/customer` keys, by key."""
    pairs = [k.split("/") for k in keys]
    query = sql.SQL(
        "SELECT * FROM {} WHERE (campaign_id, customer_id) IN"
        " (SELECT * FROM unnest(%s::uuid[], %s::uuid[]))"
    ).format(sql.Identifier(table))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, ([p[0] for p in pairs], [p[1] for p in pairs])).fetchall()
    return {f"{row['campaign_id']}/{row['customer_id']}": row for row in rows}


def save(conn: Connection[Any], rows: Iterable[Row], table: str = TABLE) -> None:
    """Inserts or replaces rows."""
    with conn.cursor() as cur:
        cur.executemany(_upsert(table), [{c: row[c] for c in COLUMNS} for row in rows])


@cache
def _upsert(table: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {table} ({columns}) VALUES ({values})"
        " ON CONFLICT (campaign_id, customer_id) DO UPDATE SET {updates}"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        values=sql.SQL(", ").join(map(sql.Placeholder, COLUMNS)),
        updates=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in COLUMNS[2:]
        ),
    )


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=load, save=save
)
