"""How a read-model table is made: its DDL and its indexes, for any name it is built under
(the live table, a rebuild beside it, a build as of a past time)."""

from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql


@dataclass(frozen=True)
class TableSchema:
    """`ddl` creates the table (`{table}` stands for its name) if missing; `indexes` are made
    once the rows are in, each a name suffix and what it indexes (e.g. `("customer",
    "(customer_id)")`, `("tags", "USING gin (tags)")`), named `{table}_{suffix}_idx`."""

    ddl: str
    indexes: tuple[tuple[str, str], ...] = ()

    def create(self, conn: Connection[Any], table: str) -> None:
        """Creates the named table, without its indexes, if missing."""
        conn.execute(sql.SQL(self.ddl).format(table=sql.Identifier(table)))

    def index(self, conn: Connection[Any], table: str) -> None:
        """Creates the named table's indexes, if missing."""
        for suffix, indexed in self.indexes:
            statement = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} {}").format(
                sql.Identifier(f"{table}_{suffix}_idx"),
                sql.Identifier(table),
                sql.SQL(indexed),
            )
            conn.execute(statement)
