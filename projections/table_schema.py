"""How a read-model table is made: its DDL and its indexes, for any name it is built under
(the live table, a rebuild beside it, a build as of a past time)."""

from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg import Connection, sql

log = structlog.get_logger()
TRIGRAM_EXTENSION = "pg_trgm"


@dataclass(frozen=True)
class TableSchema:
    """`ddl` creates the table (`{table}` stands for its name) if missing; `indexes` are made
    once the rows are in, each a name suffix and what it indexes (e.g. `("customer",
    "(customer_id)")`, `("tags", "USING gin (tags)")`), named `{table}_{suffix}_idx`.
    `trigram` are indexes of the same form that need the pg_trgm extension (substring
    searches): they are made only where it can be installed, else those searches scan."""

    ddl: str
    indexes: tuple[tuple[str, str], ...] = ()
    trigram: tuple[tuple[str, str], ...] = ()

    def create(self, conn: Connection[Any], table: str) -> None:
        """Creates the named table, without its indexes, if missing."""
        conn.execute(sql.SQL(self.ddl).format(table=sql.Identifier(table)))

    def index(self, conn: Connection[Any], table: str) -> None:
        """Creates the named table's indexes, if missing."""
        trigram = self.trigram if self.trigram and has_trigram(conn) else ()
        for suffix, indexed in self.indexes + trigram:
            statement = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} {}").format(
                sql.Identifier(f"{table}_{suffix}_idx"),
                sql.Identifier(table),
                sql.SQL(indexed),
            )
            conn.execute(statement)


def has_trigram(conn: Connection[Any]) -> bool:
    """Whether pg_trgm is installed in the database, installing it if it can be: it is one of
    PostgreSQL's contrib modules, which a server may lack (the embedded one does)."""
    available = conn.execute(
        "SELECT installed_version IS NOT NULL FROM pg_available_extensions WHERE name = %s",
        (TRIGRAM_EXTENSION,),
    ).fetchone()
    if available is None:
        log.warning("trigram_indexes_skipped", reason="pg_trgm is not available")
        return False
    if available[0]:
        return True
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(TRIGRAM_EXTENSION)
                )
            )
    except psycopg.errors.InsufficientPrivilege:
        log.warning("trigram_indexes_skipped", reason="not allowed to create pg_trgm")
        return False
    return True
