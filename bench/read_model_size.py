"""Sizes of the read-model tables after live load and after a replay, against the data they hold.

Seeds a fresh database through the `CommandBus` as `bench.replay` does (registrations, then
turns of purchases, interactions, profile changes and feedback: every customer one command a
turn), feeding the read models after each turn (`StoreFollower.catch_up`, the in-process feed
of `crm serve`), so that each row is rewritten once per event, as it is live. Then prints, per
read-model table: rows, the bytes of the rows themselves (`pg_column_size`), the heap, its TOAST
and its indexes, the whole against the rows' bytes, dead rows, and the updates that were HOT
(no index entry written). Then rebuilds every projection (`crm replay`'s `rebuild`) and prints
the same. It prints; it asserts nothing.

Run:  python -m bench.read_model_size [--customers 10000] [--turns 10]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import time
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from api.bootstrap import bootstrap
from bench.commands import bench_database
from bench.replay import MIX, later, registration, run_all
from commands.context import Target
from consumers.store_follower import StoreFollower
from infra.settings import Settings
from projections.catalog import PROJECTIONS
from projections.rebuild import rebuild

console = Console(width=140)
STATS = """
SELECT relname, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd,
    pg_relation_size(relid), pg_total_relation_size(relid) - pg_relation_size(relid)
        - pg_indexes_size(relid), pg_indexes_size(relid), pg_total_relation_size(relid)
FROM pg_stat_user_tables
WHERE relname NOT LIKE 'crm%%' AND relname NOT LIKE '%%rebuild'
ORDER BY pg_total_relation_size(relid) DESC
"""
COLUMNS = ("table", "rows", "row data", "heap", "TOAST", "indexes", "total", "total ÷ data")
COLUMNS += ("dead rows", "updates", "HOT %")


def seed_live(url: str, customers: int, turns: int) -> None:
    """Registers the customers, then gives each `turns` commands (cycling bench.replay's MIX),
    the read models fed after each turn."""
    container = bootstrap(Settings(database_url=url, _env_file=None))
    container.start()
    follower = StoreFollower(container.store, container.pool, url, list(PROJECTIONS.values()))
    try:
        ids = [uuid4() for _ in range(customers)]
        bus = container.bus
        run_all(bus, [(Target(c, creates=True), registration(n)) for n, c in enumerate(ids)])
        follower.catch_up()
        for turn in range(turns):
            kind, start = MIX[turn % len(MIX)], turn * customers
            run_all(bus, [(Target(c), later(kind, start + n)) for n, c in enumerate(ids)])
            follower.catch_up()
    finally:
        container.close()


def sizes(conn: psycopg.Connection[Any], title: str) -> Table:
    """The table of sizes and update counts of every read-model table."""
    time.sleep(1.5)  # other sessions' statistics reach the shared counters within a second
    conn.execute("SELECT pg_stat_clear_snapshot()")
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, live, dead, updates, hot, heap, toast, indexes, total in conn.execute(STATS):
        data = conn.execute(
            sql.SQL("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {} AS t").format(
                sql.Identifier(name)
            )
        ).fetchone()[0]  # type: ignore[index]
        table.add_row(
            name,
            f"{live:,}",
            _mb(data),
            _mb(heap),
            _mb(toast),
            _mb(indexes),
            _mb(total),
            f"{total / data:.1f}" if data else "-",
            f"{dead:,}",
            f"{updates:,}",
            f"{100 * hot / updates:.0f}" if updates else "-",
        )
    return table


def _mb(size: int) -> str:
    return f"{size / 1e6:,.2f} MB"


def main() -> None:
    """Seeds with live feeding, prints sizes, rebuilds every projection, prints sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=10, help="commands per customer")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with bench_database(args.database_url) as url:
        start = time.perf_counter()
        seed_live(url, args.customers, args.turns)
        console.print(f"seeded and fed in {time.perf_counter() - start:.0f} s")
        with psycopg.connect(url, autocommit=True) as conn:
            events = conn.execute("SELECT count(*) FROM crm_events").fetchone()[0]  # type: ignore[index]
            about = f"{args.customers:,} customers, {events:,} events"
            console.print(sizes(conn, f"After live load ({about})"))
            with psycopg.connect(url) as rebuilding:
                for each in PROJECTIONS.values():
                    rebuild(rebuilding, each)
            console.print(sizes(conn, f"After a replay of every projection ({about})"))


if __name__ == "__main__":
    main()
