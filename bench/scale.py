"""The goals of "Scale: 100,000 customers", measured on the code of the tree this runs from.

It generates a seeded data set of a candle shop (`bench.shop_data`: customers with names,
emails, tags; purchases over two years with seasonal peaks, BG/NBD-like repeat buying, a long
tail of SKUs, several currencies), then, on a fresh database and a `crm serve` of this tree
(CRM_CHURN_REFIT_SECONDS small, `--refit`):
  1. seeding: the customers registered over HTTP (8 clients), a few saved segments, a share
     of them with a complaint; the single-line orders written as a CSV and imported with
     `crm import purchases FILE` as a process, its rows/s read from its progress bar, overall
     and per tenth of the file (the last tenth against the first: the import should not slow
     down as the store grows); the baskets (orders of several lines) over HTTP;
  2. reads, each timed warm (what it keeps is current) and with a new `as_of` (a day not
     asked for before, so a new fit or a cold read), as p50/p99 in ms:
     `GET /v1/customers/{id}` with 8 concurrent readers: steady, right after a burst of
     purchases once the refit window has passed, and while another client asks for 10 other
     `as_of` dates (of /v1/churn/model, then of the 360 view); `GET /v1/customers?q=` (a rare
     and a common piece of text); every report of /v1/reports; `GET /v1/churn` (first page
     cold, then 20 pages walked warm: per page); `GET /v1/churn/model`;
  3. memory: the API process's RSS at start, after the import, after fits for 10 more dates;
  4. replay: `crm replay customer_360` (serve stopped), events/s from its progress bar.
The Kafka path's goals are measured by `bench.projector_catchup`. It prints the goals next to
the figures; it asserts nothing.

Run:  python -m bench.scale --customers 10000 [--purchases N (5 x customers)] [--seed 1]
      [--only customer search reports churn memory replay] [--refit 2]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
An old commit: `git worktree add /tmp/old COMMIT`, copy bench/scale.py, bench/shop_data.py
and bench/serving.py into it if it lacks them, and run there with PYTHONPATH=/tmp/old.
"""

import argparse
import re
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench.commands import bench_database
from bench.serving import Progressed, rss_megabytes, run_with_progress, serve
from bench.shop_data import Shop, basket_body, generate, sku_name, write_csv
from tests.e2e.conftest import Service

TREE = str(Path(__file__).resolve().parents[1])
PARTS = ("customer", "search", "reports", "churn", "memory", "replay", "kafka")
READERS = 8
BASKET_SHARE = 0.02
COMPLAINT_SHARE = 0.03
GOALS = {
    "customer": "p99 <= 20 ms",
    "memory": "<= 400 MB",
    "replay": ">= 50,000 events/s",
    "import": "last tenth ≈ first tenth",
    "answer": "warm p50 <= 200 ms, new as_of <= 500 ms",
}
console = Console(width=160)


@dataclass
class Timed:
    """One route's latencies in seconds: warm, and with an `as_of` not asked for before."""

    route: str
    warm: list[float] = field(default_factory=list)
    new: list[float] = field(default_factory=list)
    errors: int = 0
    goal: str = ""


class Reader:
    """Requests with the admin key: GETs timed, from this thread or 8 at a time from a pool
    of threads, each with its HTTP client; answers of another status are counted as errors."""

    def __init__(self, service: Service, key: str) -> None:
        self._service, self._key, self._local = service, key, threading.local()
        self._lock, self.errors = threading.Lock(), Counter[str]()
        self._pool = ThreadPoolExecutor(READERS)

    def get(self, path: str, params: dict[str, str] | None = None) -> tuple[float, Any]:
        """Seconds the GET took, and its JSON body (None if not 200)."""
        start = time.perf_counter()
        answer = self.send("GET", path, params=params)
        seconds = time.perf_counter() - start
        return seconds, answer.json() if self.expect(answer, 200) else None

    def expect(self, answer: httpx.Response, status: int) -> bool:
        """Whether the answer has this status; counted as an error if not."""
        if answer.status_code == status:
            return True
        route = re.sub(r"[0-9a-f-]{36}", "{id}", answer.request.url.path)
        with self._lock:
            self.errors[f"{answer.request.method} {route}: {answer.status_code}"] += 1
        return False

    def times(self, path: str, params: dict[str, str] | None = None) -> float:
        return self.get(path, params)[0]

    def send(self, method: str, path: str, **request: Any) -> httpx.Response:
        """The answer; sent again once if the connection broke (a keep-alive connection the
        server closed as it was reused)."""
        if not hasattr(self._local, "client"):
            self._local.client = self._service.client(self._key)
        client: httpx.Client = self._local.client
        try:
            return client.request(method, path, **request)
        except httpx.TransportError:
            return client.request(method, path, **request)

    def many(self, calls: Sequence[Callable[[], float]]) -> list[float]:
        """Each call's seconds, 8 at a time."""
        return list(self._pool.map(lambda call: call(), calls))


class Days:
    """`as_of` days not asked for before in this run: yesterday, the day before, ..."""

    def __init__(self, end: datetime) -> None:
        self._end, self._used = end, 0

    def fresh(self) -> datetime:
        self._used += 1
        return self._end - timedelta(days=self._used, seconds=1)


def main() -> None:
    args = arguments()
    if args.only == ["kafka"]:
        console.print("The Kafka path's goals: python -m bench.projector_catchup")
        return
    started = time.perf_counter()
    shop = generate(args.customers, args.purchases, args.seed, baskets(args.purchases))
    console.print(f"generated in {time.perf_counter() - started:.1f} s ({TREE})")
    with bench_database(args.database_url) as url:
        service = serve(TREE, url, churn_refit_seconds=str(args.refit))
        try:
            reader = Reader(service, service.create_key("admin"))
            memory = {"at start": rss_megabytes(service.process.pid)}
            seeded = seed(shop, service, reader, url)
            memory["after the import"] = rss_megabytes(service.process.pid)
            timed = measure_reads(args.only, shop, reader, url, args.refit)
            if "memory" in args.only:
                ten_fits(reader, Days(shop.end - timedelta(days=200)))
                memory["after 10 more as_of fits"] = rss_megabytes(service.process.pid)
            memory["peak (VmHWM)"] = rss_megabytes(service.process.pid, "VmHWM")
        finally:
            service.stop()
        replayed = (
            run_with_progress(["replay", "customer_360"], TREE, url)
            if "replay" in args.only
            else None
        )
    report(args, seeded, timed, memory, replayed)
    console.print(f"answers of another status than expected: {dict(reader.errors) or 'none'}")
    console.print(f"whole run: {time.perf_counter() - started:.0f} s")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, help="default: 5 x customers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS[:-1]))
    parser.add_argument("--refit", type=float, default=2.0, help="CRM_CHURN_REFIT_SECONDS")
    parser.add_argument("--repeat", type=int, default=30, help="GETs per warm figure")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    args.purchases = args.purchases or 5 * args.customers
    return args


def baskets(purchases: int) -> int:
    return int(purchases * BASKET_SHARE)


# Seeding


@dataclass
class Seeded:
    """What seeding took: per step, (count, seconds); the import's run."""

    steps: dict[str, tuple[int, float]]
    imported: Progressed
    rows: int


def seed(shop: Shop, service: Service, reader: Reader, url: str) -> Seeded:
    """Registers the customers, imports the CSV, sends the baskets; waits for the read models."""
    steps: dict[str, tuple[int, float]] = {}
    with timed_step(steps, "registrations over HTTP", len(shop.customers)):
        ids = register(shop, service, reader)
    start = time.perf_counter()
    steps["segments and complaints over HTTP"] = (
        complaints(ids, reader),
        time.perf_counter() - start,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "purchases.csv"
        rows = write_csv(shop, path)
        imported = run_with_progress(["import", "purchases", str(path)], TREE, url)
    if imported.returncode:
        raise SystemExit(f"crm import failed:\n{imported.output[-3000:]}")
    sent = [n for n, order in enumerate(shop.orders) if len(order.lines) > 1]
    with timed_step(steps, "baskets over HTTP (several lines)", len(sent)):
        post_all(
            reader,
            "purchases",
            [(ids[shop.orders[n].customer], basket_body(shop, n)) for n in sent],
        )
    with timed_step(steps, "read models caught up after that", 1):
        caught_up(reader)
    return Seeded(steps, imported, rows)


@contextmanager
def timed_step(steps: dict[str, tuple[int, float]], name: str, count: int) -> Iterator[None]:
    start = time.perf_counter()
    yield
    steps[name] = (count, time.perf_counter() - start)
    console.print(f"{name}: {count:,} in {steps[name][1]:.1f} s")


def register(shop: Shop, service: Service, reader: Reader) -> list[str]:
    """Each customer registered (8 at a time); their ids in order."""
    ids: list[str] = [""] * len(shop.customers)

    def one(n: int) -> float:
        answer = reader.send("POST", "/v1/customers", json=shop.customers[n].registration())
        if not reader.expect(answer, 201):
            raise SystemExit(f"registration refused: {answer.status_code} {answer.text}")
        ids[n] = answer.json()["id"]
        return 0.0

    reader.many([partial(one, n) for n in range(len(shop.customers))])
    return ids


def complaints(ids: list[str], reader: Reader) -> int:
    """Three saved segments, and a complaint from every so many customers; how many requests."""
    segments = [
        {"name": "VIP", "criteria": {"tag": "vip"}},
        {"name": "Frequent buyers", "criteria": {"min_purchases": 5}},
        {"name": "Newsletter", "criteria": {"tag": "newsletter"}},
    ]
    for body in segments:
        reader.expect(reader.send("POST", "/v1/segments", json=body), 201)
    complaint = {
        "subject": "Broken candle",
        "description": "The glass cracked.",
        "channel": "email",
    }
    every = round(1 / COMPLAINT_SHARE)
    post_all(reader, "complaints", [(c, complaint) for c in ids[::every]])
    return len(segments) + len(ids[::every])


def post_all(reader: Reader, what: str, posts: list[tuple[str, dict[str, Any]]]) -> None:
    """POST /v1/customers/{id}/{what} for each (id, body), 8 at a time."""

    def one(customer: str, body: dict[str, Any]) -> float:
        reader.expect(reader.send("POST", f"/v1/customers/{customer}/{what}", json=body), 201)
        return 0.0

    reader.many([partial(one, *post) for post in posts])


def caught_up(reader: Reader) -> None:
    """Waits until every read model holds every stored event."""
    while True:
        _, status = reader.get("/v1/projections")
        if status and all(item["lag_events"] == 0 for item in status["items"]):
            return
        time.sleep(0.5)


# Reads


def measure_reads(
    only: list[str], shop: Shop, reader: Reader, url: str, refit: float
) -> list[Timed]:
    """Every read route the issue names, as chosen by --only."""
    days, customers = Days(shop.end), sample_customers(url)
    timed: list[Timed] = []
    if "customer" in only:
        timed += customer_view(reader, customers, days, refit)
    if "search" in only:
        timed += search(reader, shop)
    if "reports" in only:
        timed += reports(reader, shop, days)
    if "churn" in only:
        timed += churn(reader, days)
    return timed


def sample_customers(url: str, count: int = 400) -> list[str]:
    """A fixed sample of the ids of customers registered 90 days or more ago (so that they
    are there as of the days these reads ask about)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT customer_id::text FROM customer_360"
            " WHERE registered_at < now() - interval '90 days'"
            " ORDER BY md5(customer_id::text) LIMIT %s",
            (count,),
        ).fetchall()
    return [row[0] for row in rows]


def customer_view(reader: Reader, customers: list[str], days: Days, refit: float) -> list[Timed]:
    """The 360 view with 8 readers: steady, after a burst of purchases, beside other as_of."""
    path = "/v1/customers/{}".format
    reads = [partial(reader.times, path(c)) for c in customers]
    reader.times(path(customers[0]))  # today's fit, once
    alone = Timed("GET /v1/customers/{id}, 1 reader", [read() for read in reads[:100]])
    steady = Timed("GET /v1/customers/{id}, 8 readers", reader.many(reads), goal=GOALS["customer"])
    steady.new = [
        reader.times(path(customers[n]), {"as_of": days.fresh().isoformat()}) for n in range(10)
    ]
    burst = Timed("  the same, right after 20 purchases, refit due", goal=GOALS["customer"])
    for round_ in range(3):
        purchases_burst(reader, customers, round_)
        time.sleep(refit + 0.2)
        burst.warm += reader.many(reads[:100])
    beside = [
        Timed(f"  the same, while 10 as_of {what} are asked", goal=GOALS["customer"])
        for what in ("/v1/churn/model", "360 views")
    ]
    others = (
        lambda day: reader.times("/v1/churn/model", {"as_of": day.date().isoformat()}),
        lambda day: reader.times(path(customers[1]), {"as_of": day.isoformat()}),
    )
    for timed, other in zip(beside, others, strict=True):
        timed.warm = alongside(reader, reads, other, [days.fresh() for _ in range(10)])
    return [alone, steady, burst, *beside]


def purchases_burst(reader: Reader, customers: list[str], round_: int) -> None:
    """20 purchases of today, one request each, 8 at a time."""
    body = {"total": "19.90", "currency": "EUR", "items": [{"sku": sku_name(0), "quantity": 1}]}
    posts = [(c, body | {"order_id": f"burst-{round_}-{n}"}) for n, c in enumerate(customers[:20])]
    post_all(reader, "purchases", posts)


def alongside(
    reader: Reader,
    reads: Sequence[Callable[[], float]],
    other: Callable[[datetime], float],
    days: list[datetime],
) -> list[float]:
    """The readers' latencies while another client calls `other` for each day in turn."""
    background = threading.Thread(target=lambda: [other(day) for day in days])
    background.start()
    latencies = []
    while background.is_alive():
        latencies += reader.many(reads[:80])
    background.join()
    return latencies


def search(reader: Reader, shop: Shop) -> list[Timed]:
    """`q` a piece of one customer's reference, then a piece of many names."""
    rare = shop.customers[len(shop.customers) // 2].ref[-6:]
    found = []
    for label, q in ((f"rare: {rare!r}", rare), ("common: 'an'", "an")):
        found.append(
            Timed(f"GET /v1/customers?q= ({label})", repeated(reader, "/v1/customers", {"q": q}))
        )
    return found


def repeated(reader: Reader, path: str, params: dict[str, str], times: int = 30) -> list[float]:
    return [reader.times(path, params) for _ in range(times)]


def reports(reader: Reader, shop: Shop, days: Days) -> list[Timed]:
    """Every report of /v1/reports, warm and with 5 new `as_of`."""
    end = shop.end.date()
    asked = {
        "sales by day, 31 days": (
            "/v1/reports/sales",
            {"period": "day", "from": str(end - timedelta(days=31)), "to": str(end)},
        ),
        "sales by week, 1 year": (
            "/v1/reports/sales",
            {"period": "week", "from": str(end - timedelta(days=365)), "to": str(end)},
        ),
        "sales by month, 2 years": (
            "/v1/reports/sales",
            {"period": "month", "from": str(end - timedelta(days=730)), "to": str(end)},
        ),
        "products": ("/v1/reports/products", {}),
        "bought together": ("/v1/reports/products/bought-together", {"sku": sku_name(0)}),
    }
    found = []
    for label, (path, params) in asked.items():
        timed = Timed(
            f"GET {path} ({label})", repeated(reader, path, params, 10), goal=GOALS["answer"]
        )
        timed.new = [
            reader.times(path, params | {"as_of": days.fresh().isoformat()}) for _ in range(5)
        ]
        found.append(timed)
    return found


def churn(reader: Reader, days: Days) -> list[Timed]:
    """The churn list (a cold first page, then 20 pages walked: per page) and the model."""
    listing = Timed(
        "GET /v1/churn (first page cold; then per page of 20 walked)", goal=GOALS["answer"]
    )
    for _ in range(3):
        day = days.fresh().date().isoformat()
        seconds, page = reader.get("/v1/churn", {"as_of": day})
        listing.new.append(seconds)
        for _ in range(20):
            if not page or not page["next_cursor"]:
                break
            seconds, page = reader.get("/v1/churn", {"as_of": day, "cursor": page["next_cursor"]})
            listing.warm.append(seconds)
    model = Timed(
        "GET /v1/churn/model", repeated(reader, "/v1/churn/model", {}), goal=GOALS["answer"]
    )
    model.new = [
        reader.times("/v1/churn/model", {"as_of": days.fresh().date().isoformat()})
        for _ in range(5)
    ]
    return [listing, model]


def ten_fits(reader: Reader, days: Days) -> None:
    for _ in range(10):
        reader.times("/v1/churn/model", {"as_of": days.fresh().date().isoformat()})


# Report


def report(
    args: argparse.Namespace,
    seeded: Seeded,
    timed: list[Timed],
    memory: dict[str, float],
    replayed: Progressed | None,
) -> None:
    title = f"{args.customers:,} customers, {args.purchases:,} purchases (seed {args.seed}), tree {TREE}"
    console.print(seeding_table(seeded, title))
    console.print(import_table(seeded))
    if timed:
        console.print(reads_table(timed, title))
    if "memory" in args.only:
        console.print(memory_table(memory))
    if replayed:
        console.print(replay_table(replayed))


def seeding_table(seeded: Seeded, title: str) -> Table:
    table = Table(title=f"Seeding: {title}")
    for column in ("step", "count", "seconds", "per second"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for name, (count, seconds) in seeded.steps.items():
        table.add_row(name, f"{count:,}", f"{seconds:.1f}", f"{count / seconds:,.0f}")
    return table


def import_table(seeded: Seeded) -> Table:
    """The import's rows/s: the whole command, the import alone, and per tenth of the file."""
    readings = seeded.imported.readings
    table = Table(title=f"crm import purchases: {seeded.rows:,} rows ({GOALS['import']})")
    for column in ("part", "rows/s"):
        table.add_column(column, justify="left" if column == "part" else "right")
    table.add_row(
        "whole command (start-up and check included)",
        f"{seeded.rows / seeded.imported.seconds:,.0f}",
    )
    tenths = tenth_rates(readings, seeded.rows)
    if tenths:
        span = readings[-1][0] - readings[0][0]
        table.add_row(
            "importing (from its progress bar)", f"{(readings[-1][1] - readings[0][1]) / span:,.0f}"
        )
        for n, rate in enumerate(tenths):
            table.add_row(f"  tenth {n + 1}", f"{rate:,.0f}")
        table.add_row("last tenth ÷ first tenth", f"{tenths[-1] / tenths[0]:.2f}")
    return table


def tenth_rates(readings: list[tuple[float, int, int]], rows: int) -> list[float]:
    """Rows/s over each tenth of the rows, between the progress bar's last reading before the
    tenth began and its first reading once it was done."""
    if len(readings) < 3:
        return []
    rates = []
    for k in range(10):
        before = [r for r in readings if r[1] <= rows * k / 10][-1]
        after = next(r for r in readings if r[1] >= rows * (k + 1) / 10)
        rates.append((after[1] - before[1]) / max(after[0] - before[0], 1e-3))
    return rates


def reads_table(timed: list[Timed], title: str) -> Table:
    table = Table(title=f"Reads (ms): {title}")
    for column in ("route", "warm p50", "warm p99", "new as_of p50", "new as_of p99", "n", "goal"):
        table.add_column(column, justify="left" if column == "route" else "right")
    for t in timed:
        table.add_row(
            t.route,
            *percentiles(t.warm),
            *percentiles(t.new),
            f"{len(t.warm)}/{len(t.new)}",
            t.goal,
        )
    return table


def percentiles(seconds: list[float]) -> tuple[str, str]:
    if not seconds:
        return "-", "-"
    if len(seconds) == 1:
        return f"{seconds[0] * 1000:.1f}", f"{seconds[0] * 1000:.1f}"
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return f"{statistics.median(seconds) * 1000:.1f}", f"{cuts[98] * 1000:.1f}"


def memory_table(memory: dict[str, float]) -> Table:
    table = Table(title=f"API process RSS ({GOALS['memory']})")
    table.add_column("when")
    table.add_column("MB", justify="right")
    for when, megabytes in memory.items():
        table.add_row(when, f"{megabytes:,.0f}")
    return table


def replay_table(replayed: Progressed) -> Table:
    table = Table(title=f"crm replay customer_360 ({GOALS['replay']})")
    for column in ("events", "command s", "events/s (command)", "events/s (replaying)"):
        table.add_column(column, justify="right")
    readings = replayed.readings
    events = readings[-1][2] if readings else 0
    span = readings[-1][0] - readings[0][0] if len(readings) > 1 else float("nan")
    moved = readings[-1][1] - readings[0][1] if readings else 0
    table.add_row(
        f"{events:,}",
        f"{replayed.seconds:.1f}",
        f"{events / replayed.seconds:,.0f}",
        f"{moved / span:,.0f}",
    )
    return table


if __name__ == "__main__":
    main()
