"""`GET /v1/customers/{id}` (the 360 view with churn risk and lifetime value) over HTTP, with
25,000 buyers and about 100,000 purchases (the simulation of `bench.churn`) and the other
churn signals of `bench.churn_list`, on `crm serve` with CRM_CHURN_REFIT_SECONDS=0.

Each source tree given (`--trees`, e.g. a `git worktree` of an older commit, and `.`) is
served in turn, alternately, `--rounds` times, on the same database; each time it times:
  1. warm: one GET, the buyers of the day kept (median of --warm GETs);
  2. after a purchase: a purchase row added to the read model, then one GET, which computes
     the buyers again (purchases read, model fitted, every buyer scored) (median of 3);
  3. four at once after a purchase: the wall time until four concurrent GETs are answered
     (median of 3), and the API process's CPU seconds for them.
It prints medians over the rounds; it asserts nothing.

Run:  python -m bench.customer_view [--trees OLD_TREE .] [--customers 25000] [--rounds 3]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import UUID

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench.churn import purchase_dates
from bench.churn_list import AT, OTHER_SIGNALS
from bench.commands import bench_database
from bench.serving import cpu_seconds, serve
from tests.e2e.conftest import Service

console = Console()


def seed(url: str, customers: int, service: Service, key: str) -> UUID:
    """One customer registered through the API, then the simulated buyers' purchases (the
    customer's among them) and other signals put straight into the read models."""
    with service.client(key) as api:
        body = {"name": "Ada", "occurred_at": "2023-06-01T00:00:00Z"}
        customer = UUID(api.post("/v1/customers", json=body).json()["id"])
        while api.get(f"/v1/customers/{customer}").status_code != 200:
            time.sleep(0.1)
    dates = purchase_dates(customers, seed=2005)
    ids = {n: UUID(int=n + 1) for n in dates} | {0: customer}
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY purchases (customer_id, order_id, occurred_at, recorded_at, total, currency,"
            " items, last_position) FROM STDIN"
        ) as copy:
            for i, (n, day) in enumerate((n, d) for n, days in dates.items() for d in days):
                moment = datetime.combine(day, datetime.min.time(), UTC).replace(hour=12)
                copy.write_row((ids[n], f"o{i}", moment, moment, "25.00", "EUR", "[]", i + 1))
        params = {"ids": list(ids.values()), "at": AT, "customers": len(ids)}
        for statement in OTHER_SIGNALS.split(";")[:-1]:
            conn.execute(statement, params)
        conn.execute("ANALYZE")
    return customer


def purchase(url: str) -> None:
    """A purchase more in the read model: the buyers kept are no longer current."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO purchases (customer_id, order_id, occurred_at, recorded_at, total,"
            " currency, items, last_position) SELECT %s, gen_random_uuid()::text, %s, %s,"
            " '9.00', 'EUR', '[]', 1 + max(last_position) FROM purchases",
            (UUID(int=1), AT, AT),
        )


def timed_get(api: httpx.Client, path: str) -> float:
    start = time.perf_counter()
    answer = api.get(path)
    assert answer.status_code == 200 and answer.json()["churn_risk"], answer.text
    return time.perf_counter() - start


def measure(service: Service, key: str, url: str, path: str, warm: int) -> dict[str, float]:
    """One tree's figures: warm, after a purchase, four at once after a purchase."""
    with service.client(key) as api, ThreadPoolExecutor(4) as pool:
        timed_get(api, path)  # the first fit of this process
        figures = {"warm": statistics.median(timed_get(api, path) for _ in range(warm))}
        after, four, cpu = [], [], []
        for _ in range(3):
            purchase(url)
            after.append(timed_get(api, path))
            purchase(url)
            start, start_cpu = time.perf_counter(), cpu_seconds(service.process.pid)
            list(pool.map(lambda _: timed_get(api, path), range(4)))
            four.append(time.perf_counter() - start)
            cpu.append(cpu_seconds(service.process.pid) - start_cpu)
    return figures | {
        "after a purchase": statistics.median(after),
        "4 at once after a purchase": statistics.median(four),
        "CPU s of those 4": statistics.median(cpu),
    }


def main() -> None:
    """Seeds a database, serves each tree in turn, prints the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", default=["."])
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {tree: [] for tree in args.trees}
    with bench_database(args.database_url) as url:
        first = serve(args.trees[0], url, churn_refit_seconds="0")
        try:
            assert first.first_admin_key
            customer = seed(url, args.customers, first, first.first_admin_key)
        finally:
            first.stop()
        path = f"/v1/customers/{customer}"
        for _ in range(args.rounds):
            for tree in args.trees:
                service = serve(tree, url, churn_refit_seconds="0")
                try:
                    key = service.create_key("service")
                    results[tree].append(measure(service, key, url, path, args.warm))
                    console.print(tree, results[tree][-1])
                finally:
                    service.stop()
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    table = Table(title=f"{args.customers:,} buyers; medians of {args.rounds} rounds (seconds)")
    table.add_column("tree")
    for column in results[args.trees[0]][0]:
        table.add_column(column, justify="right")
    for tree, rounds in results.items():
        medians = [statistics.median(r[c] for r in rounds) for c in rounds[0]]
        table.add_row(tree, *(f"{m:.3f}" for m in medians))
    console.print(table)


if __name__ == "__main__":
    main()
