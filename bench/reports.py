"""Sales and product reports on a generated purchases table: milliseconds per report,
warm (asked again) and with a new `as_of` each time, for the code on PYTHONPATH.

Fills a fresh database's purchases table with SQL (seeded: `--purchases` orders of
`--customers` customers over 2024-2025, one in three with a line of one of 500 SKUs, one in
ten in USD, three in ten recorded in a late import on 2026-01-05), fills the aggregates
beside it, then, per round, runs the reports in a child process of each `--code` tree in
turn (so that old and new alternate) and prints the medians. It prints; it asserts nothing.

Run:  python -m bench.reports [--customers 10000] [--purchases 50000] [--rounds 3]
      [--code /path/to/old/tree --code .] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
The database crm_bench_<random> is dropped at the end.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

GENERATE = """
INSERT INTO purchases (customer_id, order_id, occurred_at, recorded_at, total, currency,
                       payment_method, items, last_position)
SELECT md5('customer-' || floor(random() * %(customers)s)::int)::uuid, 'ord-' || n, t,
       CASE WHEN random() < 0.3 THEN timestamptz '2026-01-05 10:00Z' + n * interval '1 ms'
            ELSE t + interval '1 minute' END,
       round((1 + random() * 499)::numeric, 2),
       CASE WHEN random() < 0.1 THEN 'USD' ELSE 'EUR' END, NULL,
       CASE WHEN n %% 3 = 0 THEN jsonb_build_array(jsonb_build_object(
           'sku', 'SKU-' || lpad(floor(random() * 500)::int::text, 4, '0'),
           'name', 'Product', 'quantity', 1 + floor(random() * 3)::int, 'unit_price', '9.99'))
            ELSE '[]'::jsonb END,
       n
FROM (SELECT n, timestamptz '2024-01-01Z' + random() * interval '730 days' AS t
      FROM generate_series(1, %(purchases)s) AS n) AS generated
"""
LAST = date(2025, 12, 31)


def fill(url: str, customers: int, purchases: int) -> None:
    """Creates the tables, generates the orders, fills the aggregates."""
    from projections import projection
    from projections.catalog import PURCHASES
    from projections.purchases import tallies

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(projection.POSITIONS_DDL)
        projection.register(conn, PURCHASES)
        started = time.perf_counter()
        conn.execute("SELECT setseed(0.42)")
        conn.execute(GENERATE, {"customers": customers, "purchases": purchases})
        print(f"generated {purchases:,} orders in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with conn.transaction():
            tallies.backfill(conn, "purchases")
        conn.execute("VACUUM ANALYZE")
        print(f"aggregates filled in {time.perf_counter() - started:.1f} s")


def reports() -> dict[str, Callable[[Any, datetime | None], object]]:
    """Each report, as a function of a connection and an `as_of`."""
    from projections.purchases import products, sales
    from projections.purchases.periods import Period, start_of
    from projections.purchases.scope import Scope

    def sold(period: Period, first: date) -> Callable[[Any, datetime | None], object]:
        return lambda conn, as_of: sales.sales(
            conn, period, Scope(start_of(first, period), LAST, as_of)
        )

    two_years = date(2024, 1, 1)
    return {
        "sales day, 31 days": sold(Period.DAY, LAST - timedelta(days=30)),
        "sales week, 2 years": sold(Period.WEEK, two_years),
        "sales month, 2 years": sold(Period.MONTH, two_years),
        "products": lambda conn, as_of: products.best_sellers(
            conn, Scope(as_of=as_of), products.Ranking.QUANTITY, 20
        ),
        "bought together": lambda conn, as_of: products.bought_together(
            conn, Scope(as_of=as_of), "SKU-0001", 20
        ),
    }


def measure(url: str, repeats: int) -> dict[str, dict[str, float]]:
    """Median milliseconds of each report: warm (no as_of, asked again) and with a new
    as_of (a random instant of 2025) each time."""
    rng = random.Random(1)
    found: dict[str, dict[str, float]] = {}
    with psycopg.connect(url) as conn:
        for name, report in reports().items():
            times: dict[str, list[float]] = {"warm": [], "new as_of": []}
            report(conn, None)
            conn.commit()
            for _ in range(repeats):
                for kind, as_of in (
                    ("warm", None),
                    ("new as_of", datetime(2025, 1, 1, tzinfo=UTC)
                     + timedelta(seconds=rng.randrange(365 * 86_400))),
                ):  # fmt: skip
                    started = time.perf_counter()
                    report(conn, as_of)
                    conn.commit()
                    times[kind].append((time.perf_counter() - started) * 1000)
            found[name] = {kind: statistics.median(t) for kind, t in times.items()}
    return found


def main() -> None:
    """Fills a database, alternates the code trees, prints the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--code", action="append", default=[])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # a child: the database URL
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeats)))
        return
    from bench.commands import bench_database

    trees = args.code or ["."]
    with bench_database(args.database_url) as url:
        fill(url, args.customers, args.purchases)
        runs: dict[str, list[dict[str, dict[str, float]]]] = {tree: [] for tree in trees}
        for _ in range(args.rounds):
            for tree in trees:
                runs[tree].append(_child(tree, url, args.repeats))
    for tree, done in runs.items():
        print(f"\n{tree} ({args.customers:,} customers, {args.purchases:,} orders), median ms:")
        for name in done[0]:
            warm = statistics.median(run[name]["warm"] for run in done)
            new = statistics.median(run[name]["new as_of"] for run in done)
            print(f"  {name:<22} warm {warm:8.1f}   new as_of {new:8.1f}")


def _child(tree: str, url: str, repeats: int) -> dict[str, dict[str, float]]:
    env = os.environ | {"PYTHONPATH": os.path.abspath(tree)}
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--measure", url, "--repeats", str(repeats)],
        env=env, capture_output=True, text=True, check=True, cwd=os.path.abspath(tree),
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    main()
