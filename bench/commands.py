"""How fast the CRM records commands, next to the ceilings around it.

Measures on one fresh PostgreSQL database, at concurrency 1 and 32:
  1. HTTP purchases through the real `crm serve` (POST /v1/customers/{id}/purchases);
  2. a trivial FastAPI POST on the same uvicorn, as a `def` and as an `async def` route;
  3. raw single-row INSERT + COMMIT transactions with psycopg;
  4. the eventsourcing library used the plain way: one `save()` per command, no cache.
Then prints a summary with the ratios the command path aims for. It prints; it asserts nothing.

Run:  python bench/commands.py [--seconds 10] [--database-url postgresql://postgres@host/postgres]
The URL is an admin connection: a database crm_bench_<random> is created there and dropped at
the end. HTTP load comes from `wrk` when it is installed, else from a built-in asyncio client.
"""

import argparse
import asyncio
import http.client
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from string import Template
from urllib.parse import urlsplit
from uuid import uuid4

import psutil
import psycopg
from eventsourcing.persistence import IntegrityError
from psycopg import sql
from rich.console import Console
from rich.table import Table

from domain.customer import Customer
from domain.values import Meta, Personal, Profile
from infra.event_store import EventStore
from infra.postgres import eventsourcing_env

CUSTOMERS = 1_000
CONCURRENCY = (1, 32)
META = Meta(actor="bench", correlation_id="bench", occurred_at=datetime.now(UTC))
ORDER_IDS = itertools.count()  # next() is atomic under the GIL: unique across threads
JSON = {"Content-Type": "application/json"}
console = Console()

TRIVIAL_APP = """
import sys
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

class Purchase(BaseModel):
    order_id: str
    total: str
    currency: str

app = FastAPI()

@app.post("/def", status_code=201)
def plain(body: Purchase) -> dict:
    return {"id": "x", "version": 1}

@app.post("/async", status_code=201)
async def coroutine(body: Purchase) -> dict:
    return {"id": "x", "version": 1}

print("Serving", flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

WRK_SCRIPT = Template("""
local paths = {$paths}
local headers = {$headers}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  sent, statuses = 0, {}
  math.randomseed(id * 7919 + os.time())
end

function request()
  sent = sent + 1
  local body = string.format('{"order_id":"$run-%d-%d","total":"9.90","currency":"EUR"}', id, sent)
  return wrk.format("POST", paths[math.random(#paths)], headers, body)
end

function response(status, headers, body)
  if status ~= 201 then statuses[status] = (statuses[status] or 0) + 1 end
end

function done(summary, latency, requests)
  local other = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do table.insert(other, status .. "=" .. n) end
  end
  local e = summary.errors
  io.write(string.format("BENCH %.0f %.0f %.0f %.0f %.0f %s\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    table.concat(other, ",")))
end
""")


@dataclass
class Result:
    """One measurement: successes over `seconds`, latency percentiles, and what else happened."""

    name: str
    concurrency: int
    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    other: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Successes per second."""
        return self.ok / self.seconds

    def cells(self) -> list[str]:
        """p50, p99, successes and the rest, as text."""
        other = ", ".join(f"{k}: {v}" for k, v in self.other.items())
        return [f"{self.p50_ms:.1f}", f"{self.p99_ms:.1f}", f"{self.ok:,}", other]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, nearest rank; 0 when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def bench_database(admin_url: str, template: str | None = None) -> Iterator[str]:
    """Creates a fresh database (a copy of database `template`, if given), yields its URL, and
    drops it afterwards."""
    name = f"crm_bench_{secrets.token_hex(4)}"
    copied = sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if template else sql.SQL("")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), copied))
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def chosen_database(args: argparse.Namespace) -> AbstractContextManager[str]:
    """`--reuse-database` as it is, or a fresh database at `--database-url` dropped afterwards."""
    if args.reuse_database:
        return nullcontext(args.reuse_database)
    return bench_database(args.database_url)


@contextmanager
def running(
    args: list[str], env: dict[str, str], ready: str
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Runs a process until its stdout line starting with `ready`, yields it and those lines."""
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines = []
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith(ready):
                break
        else:
            raise RuntimeError(f"{args[0]} did not start:\n{''.join(lines)}")
        threading.Thread(target=deque, args=(process.stdout, 0), daemon=True).start()  # drains
        yield process, lines
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(
    method: str, url: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """One HTTP request to a local server: its status and body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(method, parts.path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until(url: str, expected: int, body: bytes | None = None) -> None:
    """Polls `url` (GET, or POST of `body`) until it answers `expected`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request("POST" if body else "GET", url, body, JSON)[0] == expected:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer {expected} within 30 s")


def register_customers(base: str, headers: dict[str, str]) -> list[str]:
    """Registers CUSTOMERS customers over HTTP; their ids."""

    def one(n: int) -> str:
        body = json.dumps({"name": f"Bench {n}"}).encode()
        status, answer = request("POST", f"{base}/v1/customers", body, headers)
        if status != 201:
            raise RuntimeError(f"registering a customer answered {status}: {answer!r}")
        return json.loads(answer)["id"]

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, range(CUSTOMERS)))


def wrk_load(
    name: str, base: str, paths: list[str], headers: dict[str, str], c: int, seconds: int
) -> Result:
    """POSTs purchase bodies to random `paths` with wrk over `c` connections."""
    script = WRK_SCRIPT.substitute(
        paths=",".join(json.dumps(p) for p in paths),
        headers=",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items()),
        run=secrets.token_hex(4),
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        args = ["wrk", f"-d{seconds}s", f"-c{c}", f"-t{min(c, 2)}", "--timeout", "30s", "--latency"]
        out = subprocess.run(
            [*args, "-s", lua.name, base], capture_output=True, text=True, check=True
        )
    fields = next(line for line in out.stdout.splitlines() if line.startswith("BENCH ")).split()
    requests, duration_us, p50_us, p99_us, errors = (int(f) for f in fields[1:6])
    other: Counter[str] = Counter()
    for item in filter(None, fields[6].split(",") if len(fields) > 6 else []):
        status, count = item.split("=")
        other[status] += int(count)
    ok = requests - sum(other.values())
    if errors:
        other["socket errors"] = errors
    return Result(name, c, ok, duration_us / 1e6, p50_us / 1e3, p99_us / 1e3, dict(other))


def python_load(
    name: str, base: str, paths: list[str], headers: dict[str, str], c: int, seconds: int
) -> Result:
    """POSTs purchase bodies to random `paths` from an asyncio client over `c` connections."""
    port = urlsplit(base).port
    head = "".join(f"{k}: {v}\r\n" for k, v in ({"Host": f"127.0.0.1:{port}"} | headers).items())
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def connection(deadline: float) -> None:
        """One keep-alive HTTP/1.1 connection POSTing until `deadline`."""
        prefix = secrets.token_hex(4)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in itertools.count():
                if time.perf_counter() >= deadline:
                    break
                body = json.dumps({"order_id": f"{prefix}-{n}", "total": "9.90", "currency": "EUR"})
                start_line = f"POST {random.choice(paths)} HTTP/1.1\r\n"
                start = time.perf_counter()
                writer.write(
                    f"{start_line}{head}Content-Length: {len(body)}\r\n\r\n{body}".encode()
                )
                status, length = int((await reader.readline()).split()[1]), 0
                while (line := await reader.readline()) != b"\r\n":
                    key, _, value = line.partition(b":")
                    length = int(value) if key.strip().lower() == b"content-length" else length
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - start) * 1e3)
                statuses[status] += 1
        finally:
            writer.close()

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(connection(deadline) for _ in range(c)))

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    other = {str(s): n for s, n in statuses.items() if s != 201}
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return Result(name, c, statuses[201], elapsed, p50, p99, other)


LOAD, GENERATOR = (
    (wrk_load, "wrk") if shutil.which("wrk") else (python_load, "python asyncio client")
)


def load_all(
    name: str, base: str, paths: list[str], headers: dict[str, str], seconds: int
) -> list[Result]:
    """A discarded 1 s warm-up at the highest concurrency, then one load run per concurrency."""
    LOAD(name, base, paths, headers, max(CONCURRENCY), 1)
    return [LOAD(name, base, paths, headers, c, seconds) for c in CONCURRENCY]


def threaded(
    name: str, c: int, seconds: int, make_op: Callable[[], AbstractContextManager]
) -> Result:
    """Runs `c` threads, each looping its own `make_op()` operation (returns conflicts) for `seconds`."""
    latencies: list[float] = []
    conflicts: list[int] = []
    barrier = threading.Barrier(c + 1)

    def work() -> None:
        mine, clashes = [], 0
        with make_op() as op:
            barrier.wait()
            deadline = time.perf_counter() + seconds
            while (start := time.perf_counter()) < deadline:
                clashes += op()
                mine.append((time.perf_counter() - start) * 1e3)
        latencies.extend(mine)
        conflicts.append(clashes)

    threads = [threading.Thread(target=work) for _ in range(c)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    other = {"conflicts": sum(conflicts)} if sum(conflicts) else {}
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return Result(name, c, len(latencies), elapsed, p50, p99, other)


def cpu_seconds(service: psutil.Process) -> dict[str, float]:
    """CPU seconds used so far by each part of the service, and by all of PostgreSQL."""
    workers = sorted(
        (c for c in service.children() if "spawn_main" in " ".join(c.cmdline())),
        key=lambda c: c.create_time(),
    )  # `crm serve` starts the store follower, the auditor, then (in its API process) the writer
    roles = ("store follower", "auditor", "command writer")
    parts = {"API process": service, **dict(zip(roles, workers, strict=True))}
    used = {name: sum(p.cpu_times()[:2]) for name, p in parts.items()}
    postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    used["PostgreSQL"] = sum(sum(p.cpu_times()[:2]) for p in postgres if p.is_running())
    return used


def cpu_per_request(service: psutil.Process, load: Callable[[], Result]) -> None:
    """Runs `load` and prints the CPU each part of the service used per answered request."""
    before = cpu_seconds(service)
    result = load()
    after = cpu_seconds(service)
    console.print(f"CPU per request at c={result.concurrency} ({result.rate:,.0f}/s):")
    for part, seconds in after.items():
        ms = (seconds - before.get(part, 0.0)) / max(result.ok, 1) * 1000
        console.print(f"  {part:<15} {ms:5.2f} ms")


def bench_http(url: str, seconds: int, cpu: bool = False) -> list[Result]:
    """HTTP purchases through `crm serve`."""
    port = free_port()
    keep = {"CRM_WORKERS"}  # the service's own tuning may be set from outside
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_") or k in keep} | {
        "CRM_DATABASE_URL": url,
        "CRM_PORT": str(port),
        "CRM_HOST": "127.0.0.1",
        "CRM_LOG_LEVEL": "WARNING",
    }
    crm = str(Path(sys.executable).parent / "crm")
    base = f"http://127.0.0.1:{port}"
    with running([crm, "serve"], env, "Serving on") as (process, lines):
        key = next(line.split()[-1] for line in lines if line.startswith("Admin API key:"))
        headers = JSON | {"Authorization": f"Bearer {key}"}
        wait_until(f"{base}/healthz", 200)
        paths = [f"/v1/customers/{cid}/purchases" for cid in register_customers(base, headers)]
        results = load_all("HTTP purchases", base, paths, headers, seconds)
        if cpu:
            c = max(CONCURRENCY)
            load = lambda: LOAD("HTTP purchases", base, paths, headers, c, seconds)  # noqa: E731
            cpu_per_request(psutil.Process(process.pid), load)
        return results


def bench_trivial(seconds: int) -> list[Result]:
    """The trivial FastAPI POST routes on one uvicorn worker."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    body = b'{"order_id": "warm-up", "total": "9.90", "currency": "EUR"}'
    with running([sys.executable, "-c", TRIVIAL_APP, str(port)], dict(os.environ), "Serving"):
        wait_until(f"{base}/async", 201, body)
        return [
            result
            for route in ("def", "async")
            for result in load_all(f"trivial {route} route", base, [f"/{route}"], JSON, seconds)
        ]


def bench_raw(url: str, seconds: int) -> list[Result]:
    """Single-row INSERT + COMMIT transactions, one connection per thread."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_raw (id bigserial PRIMARY KEY, customer_id uuid, order_id text,"
            " total numeric, currency text)"
        )

    @contextmanager
    def insert() -> Iterator[Callable[[], int]]:
        with psycopg.connect(url, autocommit=False) as conn:

            def op() -> int:
                conn.execute(
                    "INSERT INTO bench_raw (customer_id, order_id, total, currency) VALUES (%s, %s, %s, %s)",
                    (uuid4(), f"o-{next(ORDER_IDS)}", Decimal("9.90"), "EUR"),
                )
                conn.commit()
                return 0

            yield op

    return [threaded("raw INSERT+COMMIT", c, seconds, insert) for c in CONCURRENCY]


def bench_plain_library(url: str, seconds: int) -> list[Result]:
    """The eventsourcing library the documented way: get, command, save() per command; no cache."""
    env = eventsourcing_env(url, 40) | {"PERSISTENCE_MODULE": "eventsourcing.postgres"}
    store = EventStore(env=env)
    try:
        if store.repository.cache is not None:
            raise RuntimeError("AGGREGATE_CACHE_* is set in the environment: unset it")
        customers = [
            Customer.register(
                uuid4(),
                external_ref=None,
                personal=Personal(name=f"Bench {n}"),
                profile=Profile(),
                tags=(),
                custom_fields={},
                consent={},
                meta=META,
            )
            for n in range(CUSTOMERS)
        ]
        store.save(*customers)
        ids = [customer.id for customer in customers]

        def purchase() -> int:
            customer_id, conflicts = random.choice(ids), 0
            while True:
                customer: Customer = store.repository.get(customer_id)
                customer.record_purchase(
                    order_id=f"o-{next(ORDER_IDS)}",
                    items=(),
                    total=Decimal("9.90"),
                    currency="EUR",
                    payment_method=None,
                    meta=META,
                )
                try:
                    store.save(customer)
                    return conflicts
                except IntegrityError:
                    conflicts += 1

        return [
            threaded("plain library save()", c, seconds, lambda: nullcontext(purchase))
            for c in CONCURRENCY
        ]
    finally:
        store.close()


def report(results: list[Result], machine: str) -> None:
    """Prints every figure, then the ratios at concurrency 32 against their goals."""
    table = Table(title=f"Commands benchmark — {machine}")
    for column in ("measurement", "c", "ok/s", "p50 ms", "p99 ms", "ok", "other"):
        table.add_column(column, justify="left" if column in ("measurement", "other") else "right")
    for r in results:
        table.add_row(r.name, str(r.concurrency), f"{r.rate:,.0f}", *r.cells())
    console.print(table)
    at32 = {r.name: r for r in results if r.concurrency == 32}
    purchases = at32.get("HTTP purchases")
    if purchases is None:
        return
    ratios = Table(title="At concurrency 32")
    for column in ("figure", "value", "goal", "met"):
        ratios.add_column(column)
    for label, ceiling, goal in (
        ("HTTP purchases/s ÷ raw commits/s", "raw INSERT+COMMIT", 1.5),
        ("HTTP purchases/s ÷ trivial async req/s", "trivial async route", 0.5),
        ("HTTP purchases/s ÷ trivial def req/s", "trivial def route", 0.5),
    ):
        if ceiling in at32:  # parts left out with --only have no ratio
            value = purchases.rate / at32[ceiling].rate
            ratios.add_row(label, f"{value:.2f}", f"≥ {goal}", "yes" if value >= goal else "no")
    met = "yes" if purchases.p99_ms <= 100 else "no"
    ratios.add_row("HTTP purchases p99 ms", f"{purchases.p99_ms:.1f}", "≤ 100", met)
    if plain := at32.get("plain library save()"):
        ratios.add_row("plain library save()/s", f"{plain.rate:,.0f}", "for comparison", "")
    console.print(ratios)


STEPS = ("http", "trivial", "raw", "plain")


def main() -> None:
    """Parses the arguments, runs every measurement on a fresh database, prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load run")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--only", nargs="*", choices=STEPS, default=list(STEPS), help="run only these parts"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="also print CPU per request of each service process"
    )
    args = parser.parse_args()
    with bench_database(args.database_url) as url:
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        machine = f"{os.cpu_count()} CPUs, PostgreSQL {version}, load from {GENERATOR}"
        console.print(f"Machine: {machine}; {args.seconds} s per run", soft_wrap=True)
        results: list[Result] = []
        steps = {
            "http": lambda: bench_http(url, args.seconds, args.cpu),
            "trivial": lambda: bench_trivial(args.seconds),
            "raw": lambda: bench_raw(url, args.seconds),
            "plain": lambda: bench_plain_library(url, args.seconds),
        }
        for name in args.only:
            for result in steps[name]():
                p50, p99, ok, other = result.cells()
                line = f"{result.name:<21} c={result.concurrency:<2} {result.rate:>7,.0f}/s"
                console.print(
                    f"{line}  p50 {p50} ms  p99 {p99} ms  {ok} ok  {other}", soft_wrap=True
                )
                results.append(result)
        report(results, machine)


if __name__ == "__main__":
    main()
