"""Read-model tables of one row per key (a customer, a ticket, a customer's order): batch
reads and upserts."""

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from psycopg import Connection, sql
from psycopg.rows import dict_row

from domain.events.envelope import Envelope
from projections.projection import Projection, Row
from projections.table_schema import TableSchema


@dataclass(frozen=True)
class KeyedTable:
    """A table's columns, the first `len(key_types)` of them its primary key (of those SQL
    types). A row's key is their values joined by `/` (the last may hold `/` itself)."""

    columns: tuple[str, ...]
    key_types: tuple[str, ...] = ("uuid",)

    def load(self, conn: Connection[Any], keys: Collection[str], table: str) -> dict[str, Row]:
        """The current rows of the given keys in `table`, by key."""
        size = len(self.key_types)
        parts = [key.split("/", size - 1) for key in keys]
        values = [[part[i] for part in parts] for i in range(size)]
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_select(table, self.columns[:size], self.key_types), values)
            return {"/".join(str(row[c]) for c in self.columns[:size]): row for row in rows}

    def projection(
        self,
        name: str,
        schema: TableSchema,
        key: Callable[[Envelope], str | None],
        evolve: Callable[[Row | None, Envelope], Row | None],
        blank: Callable[[Row], Row] | None = None,
    ) -> Projection:
        """The projection of `name` kept in a table of these columns made by `schema`
        (`blank`: see `Projection.blank`)."""
        return Projection(
            name, schema.create, schema.index, key, evolve, self.load, self.save, blank
        )

    def save(self, conn: Connection[Any], rows: Iterable[Row], table: str) -> None:
        """Inserts or replaces rows in one statement: they travel as one JSON array, read as
        records of the table's own row type: one statement per batch, not per row
        (docs/decisions/0002-read-model-feed-process.md)."""
        document = self.document(rows)
        if document != "[]":
            conn.execute(_upsert(table, self.columns, len(self.key_types)), (document,))

    def document(self, rows: Iterable[Row]) -> str:
        """The rows' columns as one JSON array (decimals as exact strings)."""
        return orjson.dumps(
            [{c: row[c] for c in self.columns} for row in rows], default=_exact
        ).decode()


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # numeric columns read JSON strings exactly
    raise TypeError(f"{type(value).__name__} is not a read-model value")


@cache
def _select(table: str, key: tuple[str, ...], types: tuple[str, ...]) -> sql.Composed:
    if len(key) == 1:
        return sql.SQL("SELECT * FROM {} WHERE {} = ANY({}::{}[])").format(
            sql.Identifier(table),
            sql.Identifier(key[0]),
            sql.Placeholder(),
            sql.SQL(types[0]),
        )
    return sql.SQL("SELECT * FROM {} WHERE ({}) IN (SELECT * FROM unnest({}))").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, key)),
        sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(t)) for t in types
        ),
    )


@cache
def _upsert(table: str, columns: tuple[str, ...], key_size: int) -> sql.Composed:
    """The upsert of rows given as a JSON array. A row equal to the stored one is not written
    again (an event applied twice, a fold that changed nothing), and a column whose value is
    unchanged keeps its stored value, so that a large one kept out of line (TOAST) is not
    copied into new chunks at each update (docs/decisions/0018-read-model-storage.md)."""
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    values = columns[key_size:]
    return sql.SQL(
        "INSERT INTO {table} AS t ({names}) SELECT {names}"
        " FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        " ON CONFLICT ({key}) DO UPDATE SET {updates}"
        " WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        table=sql.Identifier(table),
        names=names,
        key=sql.SQL(", ").join(map(sql.Identifier, columns[:key_size])),
        updates=sql.SQL(", ").join(
            sql.SQL(
                "{0} = CASE WHEN t.{0} IS DISTINCT FROM EXCLUDED.{0} THEN EXCLUDED.{0} ELSE t.{0} END"
            ).format(sql.Identifier(c))
            for c in values
        ),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in values),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in values),
    )
