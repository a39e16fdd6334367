"""The churn list (`GET /v1/churn`) and the 360 view's churn risk on a real PostgreSQL: 25,000
buyers and about 100,000 purchases (the simulation of `bench.churn`), 10,000 complaints,
20,000 ratings and 8 campaign emails per buyer (one every 22 days).

The read models are filled straight with SQL (this times the queries, not the projectors).
As of the end of 2025, it times, each the median of --rounds runs:
  1. the fit: every buyer's purchases summed up, the model fitted, every buyer scored
     (`read_buyers`, what the worker of `ChurnModels` runs for a day);
  2. the ranking: every buyer's other signals read and combined, and sorted (`rank`);
  3. a page: the first page of the list from the ranking, then each of the next 20 pages;
  4. one customer: the 360 view's churn risk and lifetime value (`assessment.outlook`).
It prints them and the memory the fit's and the ranking's arrays hold; it asserts nothing.

Run:  python -m bench.churn_list [--customers 25000] [--rounds 3]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
A database crm_bench_<random> is created at --database-url and dropped at the end.
"""

import argparse
from datetime import UTC, datetime, time
from uuid import UUID, uuid4

import psycopg
from rich.console import Console
from rich.table import Table

from bench.churn import AS_OF, purchase_dates, timed
from bench.commands import bench_database
from projections.catalog import PROJECTIONS
from projections.churn import assessment
from projections.churn.buyers import read_buyers
from projections.churn.ranking import Ranking, rank
from projections.sla.policies_table import TABLE as SLA_POLICIES

console = Console()
AT = datetime.combine(AS_OF, time.max, UTC)

OTHER_SIGNALS = """
INSERT INTO tickets (ticket_id, customer_id, version, last_position, kind, subject, priority,
    channel, status, opened_at, updated_at, reopened, replies, status_history)
SELECT gen_random_uuid(), ids[1 + n %% cardinality(ids)], 1, n, 'complaint', 'Late', 'normal',
    'email', CASE WHEN n %% 3 = 0 THEN 'open' ELSE 'solved' END, opened, opened, 0, '[]',
    jsonb_build_array(jsonb_build_object('status', 'open', 'at', opened))
    || CASE WHEN n %% 3 = 0 THEN '[]'::jsonb ELSE jsonb_build_array(
        jsonb_build_object('status', 'solved', 'at', opened + interval '2 days')) END
FROM generate_series(1, 10000) AS n, (SELECT %(ids)s::uuid[] AS ids) AS c,
    LATERAL (SELECT %(at)s::timestamptz - (n %% 300) * interval '1 day' AS opened) AS t;

INSERT INTO ratings (rating_id, customer_id, source, rating, rated_at, last_position)
SELECT gen_random_uuid(), ids[1 + (n * 7) %% cardinality(ids)], 'feedback', 1 + n %% 5,
    %(at)s::timestamptz - (n %% 365) * interval '1 day', n
FROM generate_series(1, 20000) AS n, (SELECT %(ids)s::uuid[] AS ids) AS c;

INSERT INTO campaign_recipients (campaign_id, customer_id, last_position, sent, sent_at,
    suppressed, opened, first_opened_at, opens, machine_opened, machine_opens, clicked,
    clicks, bounced)
SELECT md5(k::text)::uuid, ids[1 + n %% cardinality(ids)], n, true, sent, false, seen,
    CASE WHEN seen THEN sent + interval '1 hour' END, seen::int, false, 0, false, 0, false
FROM generate_series(0, 8 * %(customers)s - 1) AS n, (SELECT %(ids)s::uuid[] AS ids) AS c,
    LATERAL (SELECT n / cardinality(ids) AS k) AS campaign,
    LATERAL (SELECT %(at)s::timestamptz - k * interval '22 days' AS sent,
        (n * 7 + k) %% 4 < 2 AS seen) AS t;
"""


def seed(url: str, customers: int) -> int:
    """Fills the read models; returns how many purchases there are."""
    dates = purchase_dates(customers, seed=2005)
    ids = {n: uuid4() for n in dates}
    with psycopg.connect(url) as conn:
        for projection in PROJECTIONS.values():
            projection.create(conn, projection.name)
        rows = [(ids[n], day) for n, days in dates.items() for day in days]
        with conn.cursor().copy(
            "COPY purchases (customer_id, order_id, occurred_at, recorded_at, total, currency,"
            " items, last_position) FROM STDIN"
        ) as copy:
            for i, (customer, day) in enumerate(rows):
                moment = datetime.combine(day, time(12), UTC)
                copy.write_row((customer, f"o{i}", moment, moment, "25.00", "EUR", "[]", i + 1))
        params = {"ids": list(ids.values()), "at": AT, "customers": len(ids)}
        for statement in OTHER_SIGNALS.split(";")[:-1]:
            conn.execute(statement, params)
        for projection in PROJECTIONS.values():
            projection.index(conn, projection.name)
        conn.execute("ANALYZE")
        assert conn.execute(f"SELECT count(*) FROM {SLA_POLICIES}").fetchone() == (0,)
    return len(rows)


def main() -> None:
    """Seeds a database, times the fit, the ranking and the reads, prints them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with bench_database(args.database_url) as url, psycopg.connect(url) as conn:
        purchases = seed(url, args.customers)
        one: UUID = conn.execute(
            "SELECT customer_id FROM purchases ORDER BY customer_id LIMIT 1"
        ).fetchone()[0]  # type: ignore[index]

        figures: dict[str, tuple[float, float]] = {}
        figures["fit (read, fit, score, RFM)"], found = timed(
            lambda: read_buyers(conn, AS_OF), args.rounds
        )
        figures["ranking (other signals, sort)"], ranking = timed(
            lambda: rank(conn, found, AT), args.rounds
        )
        figures["first page"], page = timed(lambda: ranking.page(None, None, 50), args.rounds)
        figures["each of the next 20 pages"] = walk(ranking, args.rounds)
        figures["one customer (360 view)"], _ = timed(
            lambda: assessment.outlook(conn, found, AT, one), args.rounds
        )
    table = Table(title=f"{len(found):,} buyers, {purchases:,} purchases; medians of "
                  f"{args.rounds} runs")  # fmt: skip
    for column in ("read", "seconds", "CPU seconds"):
        table.add_column(column, justify="left" if column == "read" else "right")
    for read, (wall, cpu) in figures.items():
        table.add_row(read, f"{wall:.4f}", f"{cpu:.4f}")
    console.print(table)
    console.print(f"arrays kept: fit {found.nbytes / 1e6:.1f} MB, ranking "
                  f"{ranking.nbytes / 1e6:.1f} MB; first page's top risk "
                  f"{page.items[0].risk:.3f}")  # fmt: skip


def walk(ranking: Ranking, rounds: int) -> tuple[float, float]:
    """The median wall and CPU seconds per page of 20 pages after the first."""
    after = assessment.position(ranking.page(None, None, 50).next_cursor or "")

    def pages() -> None:
        nonlocal after
        for _ in range(20):
            cursor = ranking.page(None, after, 50).next_cursor
            after = assessment.position(cursor) if cursor else after

    (wall, cpu), _ = timed(pages, rounds)
    return wall / 20, cpu / 20


if __name__ == "__main__":
    main()
