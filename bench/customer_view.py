"""`GET /v1/customers/{id}` (the 360 view with churn risk and lifetime value) and the churn
list over HTTP, with --customers buyers and about 4 purchases each (the simulation of
`bench.churn`) and the other churn signals of `bench.churn_list`, on `crm serve` with
CRM_CHURN_REFIT_SECONDS=--refit.

Each source tree given (`--trees`, e.g. a `git worktree` of an older commit, and `.`) is
served in turn, alternately, `--rounds` times, on the same database; each time it measures:
  1. steady: the 360 view read by 8 concurrent readers (--reads each), the fit of the day kept;
  2. after a purchase: a purchase row added, the refit window let pass, then the same burst
     (three times);
  3. beside other days: the same readers while another client reads the 360 view as of 10
     dates not asked for before (a fit each), one after the other;
  4. the API process's resident memory after those 10 fits;
  5. the churn list as of the end of 2025: its first page, then each of 20 pages walked.
It prints p50 and p99 of the readers' latencies and medians over the rounds, in ms (memory in
MB); it asserts nothing.

Run:  python -m bench.customer_view [--trees OLD_TREE .] [--customers 25000] [--rounds 2]
      [--reads 40] [--refit 2] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import statistics
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import UUID

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench.churn import purchase_dates
from bench.churn_list import AT, OTHER_SIGNALS
from bench.commands import bench_database
from bench.serving import rss_megabytes, serve
from tests.e2e.conftest import Service

console = Console(width=160)
READERS = 8


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
    """Seconds to answer one GET of `path`, which must succeed."""
    start = time.perf_counter()
    answer = api.get(path)
    assert answer.status_code == 200, answer.text
    return time.perf_counter() - start


def burst(
    clients: list[httpx.Client], path: str, reads: int, until: Future | None = None
) -> list[float]:
    """The latencies of each client reading `path` `reads` times at once (or until `until`
    is done, at least `reads` times)."""

    def read(api: httpx.Client) -> list[float]:
        times = [timed_get(api, path) for _ in range(reads)]
        while until is not None and not until.done():
            times.append(timed_get(api, path))
        return times

    with ThreadPoolExecutor(len(clients)) as pool:
        return [t for times in pool.map(read, clients) for t in times]


def percentiles(name: str, times: list[float]) -> dict[str, float]:
    """p50 and p99 of `times`, in ms."""
    cuts = statistics.quantiles(times, n=100)
    return {f"{name} p50": cuts[49] * 1000, f"{name} p99": cuts[98] * 1000}


def other_days(service: Service, key: str, path: str) -> list[float]:
    """The latencies of the 360 view as of 10 days not asked for before, one after the other."""
    with service.client(key) as api:
        return [timed_get(api, f"{path}?as_of=2025-{m:02}-15T12:00:00Z") for m in range(1, 11)]


def measure(service: Service, url: str, path: str, args: argparse.Namespace) -> dict[str, float]:
    """One tree's figures."""
    key = service.create_key("service")
    clients = [service.client(key) for _ in range(READERS)]
    try:
        timed_get(clients[0], path)  # the day's first fit in this process
        figures = percentiles("steady", burst(clients, path, args.reads))
        after: list[float] = []
        for _ in range(3):
            purchase(url)
            time.sleep(args.refit + 0.2)  # the refit window passes
            after += burst(clients, path, args.reads)
        figures |= percentiles("after a purchase", after)
        with ThreadPoolExecutor(1) as analyst:
            days = analyst.submit(other_days, service, key, path)
            figures |= percentiles("beside fits", burst(clients, path, args.reads, until=days))
            figures["as_of 360 view (a fit)"] = statistics.median(days.result()) * 1000
        figures["RSS MB after 10 fits"] = rss_megabytes(service.process.pid)
        return figures | walk(clients[0])
    finally:
        for client in clients:
            client.close()


def walk(api: httpx.Client) -> dict[str, float]:
    """The churn list's first page, then the median of 20 pages walked, in ms."""
    params: dict[str, str | int] = {"as_of": "2025-12-31", "limit": 50}
    start = time.perf_counter()
    page = api.get("/v1/churn", params=params).json()
    first = time.perf_counter() - start
    pages = []
    for _ in range(20):
        start = time.perf_counter()
        page = api.get("/v1/churn", params=params | {"cursor": page["next_cursor"]}).json()
        pages.append(time.perf_counter() - start)
    return {
        "churn first page": first * 1000,
        "churn page walked": statistics.median(pages) * 1000,
    }


def main() -> None:
    """Seeds a database, serves each tree in turn, prints the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", default=["."])
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--refit", type=float, default=2)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {tree: [] for tree in args.trees}
    refit = str(args.refit)
    with bench_database(args.database_url) as url:
        first = serve(args.trees[0], url, churn_refit_seconds=refit)
        try:
            assert first.first_admin_key
            customer = seed(url, args.customers, first, first.first_admin_key)
        finally:
            first.stop()
        path = f"/v1/customers/{customer}"
        for _ in range(args.rounds):
            for tree in args.trees:
                service = serve(tree, url, churn_refit_seconds=refit)
                try:
                    results[tree].append(measure(service, url, path, args))
                    console.print(tree, results[tree][-1])
                finally:
                    service.stop()
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    table = Table(title=f"{args.customers:,} buyers; medians of {args.rounds} rounds (ms, MB)")
    table.add_column("figure")
    for tree in results:
        table.add_column(tree, justify="right")
    for column in results[args.trees[0]][0]:
        medians = [statistics.median(r[column] for r in rounds) for rounds in results.values()]
        table.add_row(column, *(f"{m:.1f}" for m in medians))
    console.print(table)


if __name__ == "__main__":
    main()
