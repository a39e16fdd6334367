"""How a read-model table is made: its DDL and its indexes, for any name it is built under
(the live table, a rebuild beside it, a build as of a past time)."""

from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg import Connection, sql

log = structlog.get_logger()
TRIGRAM_EXTENSION = "pg_trgm"
REWRITTEN = 80
"""The fill factor of tables whose rows change at some events (a ticket, a deal, a campaign's
recipient): a fifth of each page is left free for the rows' new versions, which then need no
new index entry (a HOT update) while no indexed column changes."""
REWRITTEN_AT_EVERY_EVENT = 50
"""The fill factor of a table whose rows change at every event of their customer
(customer_360): a batch rewrites most rows of a page at once, and each needs room for its new
version beside the old one (docs/decisions/0018-read-model-storage.md)."""


@dataclass(frozen=True)
class TableSchema:
    """`ddl` creates the table (`{table}` stands for its name) if missing; `indexes` are made
    once the rows are in, each a name suffix and what it indexes (e.g. `("customer",
    "(customer_id)")`, `("tags", "USING gin (tags)")`), named `{table}_{suffix}_idx`.
    `trigram` are indexes of the same form that need the pg_trgm extension (substring
    searches): they are made only where it can be installed, else those searches scan.
    `fillfactor`: how full inserts leave a page, in percent (100, REWRITTEN or
    REWRITTEN_AT_EVERY_EVENT)."""

    ddl: str
    indexes: tuple[tuple[str, str], ...] = ()
    trigram: tuple[tuple[str, str], ...] = ()
    fillfactor: int = 100

    def create(self, conn: Connection[Any], table: str) -> None:
        """Creates the named table, without its indexes, if missing; sets its fill factor
        where it is not that yet (for the pages written from now on, in a table made before),
        so that a process starting takes no lock for it."""
        conn.execute(sql.SQL(self.ddl).format(table=sql.Identifier(table)))
        (options,) = conn.execute(
            "SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = to_regclass(%s)",
            (sql.Identifier(table).as_string(conn),),
        ).fetchone()  # type: ignore[misc]
        set_to = [int(o.partition("=")[2]) for o in options if o.startswith("fillfactor=")]
        if (set_to or [100])[0] == self.fillfactor:  # 100: PostgreSQL's default
            return
        conn.execute(
            sql.SQL("ALTER TABLE {} SET (fillfactor = {})").format(
                sql.Identifier(table), sql.Literal(self.fillfactor)
            )
        )

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
