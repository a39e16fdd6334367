"""Read-model tables of one row per aggregate id (a ticket, a deal): batch reads and upserts."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from psycopg import Connection, sql
from psycopg.rows import dict_row

from projections.projection import Row


@dataclass(frozen=True)
class KeyedTable:
    """A table's columns, the first being its uuid primary key."""

    columns: tuple[str, ...]

    def load(self, conn: Connection[Any], keys: Collection[str], table: str) -> dict[str, Row]:
        """The current rows of the given ids in `table`, by id."""
        key = self.columns[0]
        query = sql.SQL("SELECT * FROM {} WHERE {} = ANY(%s::uuid[])").format(
            sql.Identifier(table), sql.Identifier(key)
        )
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, (list(keys),)).fetchall()
        return {str(row[key]): row for row in rows}

    def save(self, conn: Connection[Any], rows: Iterable[Row], table: str) -> None:
        """Inserts or replaces rows in one statement: they travel as one JSON array, read as
        records of the table's own row type (as customer_360's are)."""
        document = orjson.dumps([{c: row[c] for c in self.columns} for row in rows], default=_exact)
        if document != b"[]":
            conn.execute(_upsert(table, self.columns), (document.decode(),))


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # numeric columns read JSON strings exactly
    raise TypeError(f"{type(value).__name__} is not a read-model value")


@cache
def _upsert(table: str, columns: tuple[str, ...]) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL(
        "INSERT INTO {table} ({names}) SELECT {names}"
        " FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        " ON CONFLICT ({key}) DO UPDATE SET {updates}"
    ).format(
        table=sql.Identifier(table),
        names=names,
        key=sql.Identifier(columns[0]),
        updates=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[1:]
        ),
    )
