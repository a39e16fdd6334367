"""Replay of customer_360 over the whole event store, next to raw reads of the same events.

Seeds a fresh database through the `CommandBus` (registrations, then purchases with item
lines, interactions, profile changes and feedback: by default 20,000 customers and 240,000
events), then alternates, in each round:
  1. raw read through the library: `recorder.select_notifications` in batches of 5,000
     (what the replay reads with), nothing decoded;
  2. raw read with psycopg: the replay's own query (`infra.stored_events.scan`: the
     same columns, in binary, batches of 5,000 by position), nothing decoded;
  3. read + decode: the same read, into envelopes (`scan`), nothing folded;
  4. replay: `projections.rebuild.rebuild(conn, customer_360)`.
Prints events/s and CPU seconds (this client process, PostgreSQL) of each, and the ratios of
replay to raw (goal: >= 0.3). It prints; it asserts nothing.

Run:  python -m bench.replay [--customers 20000] [--rounds 3]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--reuse-database URL]
A database crm_bench_<random> is created at --database-url and dropped at the end. Or, with
--reuse-database, an existing database (`createdb crm_replay` first) is seeded unless it
holds events already, and kept: reruns skip the seeding.
"""

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import wait
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import psutil
import psycopg
from eventsourcing.persistence import ApplicationRecorder
from rich.console import Console
from rich.table import Table

from api.bootstrap import Container, bootstrap
from bench.commands import chosen_database
from bench.writer import context
from commands.base import Command
from commands.bus import CommandBus
from commands.context import Target
from commands.customers import (
    ChangeCustomer,
    GiveFeedback,
    ItemLine,
    LogInteraction,
    RecordPurchase,
    RegisterCustomer,
)
from domain.values import Channel, Direction, FeedbackSource
from infra.settings import Settings
from infra.stored_events import STORED_COLUMNS, head, scan
from projections.catalog import PROJECTIONS
from projections.rebuild import rebuild

BATCH = 5000
RAW_RECORDER, RAW_PSYCOPG, DECODED = "raw recorder", "raw psycopg", "read + decode"
REPLAY = "replay"
GOAL = 0.3
MIX = ("purchase", "purchase", "interaction", "purchase", "change", "purchase", "feedback")
"""What each customer does after registering, in turn (purchases are 4 in 7)."""
CHANNELS = (Channel.EMAIL, Channel.CALL, Channel.CHAT, Channel.MEETING)
console = Console()


def purchase(n: int) -> RecordPurchase:
    """A purchase of one to three item lines, its total their sum."""
    items = [
        ItemLine(
            sku=f"SKU-{(n * 7 + line) % 500:04d}",
            name=f"Product {(n * 7 + line) % 500}",
            quantity=1 + (n + line) % 3,
            unit_price=Decimal(f"{3 + (n * 13 + line) % 90}.{n % 100:02d}"),
        )
        for line in range(1 + n % 3)
    ]
    total = sum(item.quantity * (item.unit_price or 0) for item in items)
    method = ("card", "paypal", "invoice")[n % 3]
    return RecordPurchase(
        order_id=f"order-{n}", items=items, total=total, currency="EUR", payment_method=method
    )


def later(kind: str, n: int) -> Command:
    """The `n`th command after the registrations, of `kind` (see MIX)."""
    if kind == "purchase":
        return purchase(n)
    if kind == "interaction":
        channel = CHANNELS[n % len(CHANNELS)]
        return LogInteraction(channel=channel, direction=Direction.INBOUND, subject=f"Question {n}")
    if kind == "change":
        return ChangeCustomer(phone=f"+49 30 {n:08d}", tags=["newsletter", f"segment-{n % 7}"])
    return GiveFeedback(rating=1 + n % 5, comment="Fast delivery", source=FeedbackSource.SURVEY)


def registration(n: int) -> RegisterCustomer:
    """A customer with contact details, tags and consent."""
    return RegisterCustomer(
        external_ref=f"shop-{n}",
        name=f"Customer {n}",
        email=f"customer{n}@example.com",
        phone=f"+44 20 {n:08d}",
        preferred_channel=Channel.EMAIL,
        source="webshop",
        tags=["vip"] if n % 10 == 0 else [],
        consent={"email_marketing": n % 2 == 0},
    )


def seed(settings: Settings, customers: int, each: int, kinds: tuple[str, ...] = MIX) -> None:
    """Registers `customers`, then gives each `each` more commands, cycling `kinds`: all
    customers' nth commands are submitted at once, and the bus group-commits them.

    Runs on a container of its own, collected afterwards: with the seeding's aggregates
    still cached in the process, the raw read was a third slower and the replay used 30 %
    more CPU per event (garbage collection walks every live object)."""
    container = bootstrap(settings)
    container.start()
    try:
        ids = [uuid4() for _ in range(customers)]
        run_all(
            container.bus, [(Target(c, creates=True), registration(n)) for n, c in enumerate(ids)]
        )
        for turn in range(each):
            kind, start = kinds[turn % len(kinds)], turn * customers
            run_all(container.bus, [(Target(c), later(kind, start + n)) for n, c in enumerate(ids)])
    finally:
        container.close()
    del container
    gc.collect()


def run_all(bus: CommandBus, commands: list[tuple[Target, Command]]) -> None:
    """Submits every command at once and waits for all; raises the first refusal."""
    futures = [bus.submit(target, command, context()) for target, command in commands]
    wait(futures)
    for future in futures:
        future.result()


class PostgresCpu:
    """CPU seconds used so far by the PostgreSQL processes serving one database (backends,
    autovacuum workers: others may be using the server). A process keeps its last reading
    once it has exited, so the figure never goes back."""

    def __init__(self, url: str) -> None:
        self._database = f" {urlsplit(url).path.lstrip('/')} "
        self._seen: dict[int, float] = {}

    def __call__(self) -> float:
        for process in psutil.process_iter(["name", "cmdline"]):
            title = " ".join(process.info["cmdline"] or ()) + " "
            if process.info["name"] == "postgres" and self._database in title:
                with suppress(psutil.Error):
                    self._seen[process.pid] = sum(process.cpu_times()[:2])
        return sum(self._seen.values())


@dataclass
class Measured:
    """One phase of one round: events handled, wall seconds, CPU seconds by process."""

    phase: str
    round: int
    events: int
    seconds: float
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def measure(
    phase: str, round_: int, run: Callable[[], int], meters: dict[str, Callable[[], float]]
) -> Measured:
    """Times `run()` (which returns how many events it handled) and the CPU of each meter."""
    before = {name: meter() for name, meter in meters.items()}
    start = time.perf_counter()
    events = run()
    seconds = time.perf_counter() - start
    cpu = {name: meter() - before[name] for name, meter in meters.items()}
    result = Measured(phase, round_, events, seconds, cpu)
    load = os.getloadavg()[0]  # others' work on the machine shows here
    console.print(f"round {round_} {phase:<14} {result.rate:>9,.0f} events/s  load {load:.1f}")
    return result


def report(results: list[Measured], ratios: list[tuple[str, str, float]], title: str) -> None:
    """Prints every round, the median of each phase, and the ratios `(phase, baseline, goal)`."""
    meters = list(results[0].cpu)
    rounds = Table(title=title)
    for column in ("round", "phase", "seconds", "events/s", *(f"{m} CPU s" for m in meters)):
        rounds.add_column(column, justify="left" if column == "phase" else "right")
    for r in results:
        cpu = [f"{r.cpu[m]:.2f}" for m in meters]
        rounds.add_row(str(r.round), r.phase, f"{r.seconds:.2f}", f"{r.rate:,.0f}", *cpu)
    console.print(rounds)

    phases: dict[str, list[Measured]] = {}
    for r in results:
        phases.setdefault(r.phase, []).append(r)
    medians = Table(title=f"Medians over {results[-1].round} round(s)")
    for column in ("phase", "events/s", *(f"{m} CPU µs/event" for m in meters)):
        medians.add_column(column, justify="left" if column == "phase" else "right")
    for phase, runs in phases.items():
        cpu = [f"{statistics.median(r.cpu[m] / r.events for r in runs) * 1e6:,.1f}" for m in meters]
        medians.add_row(phase, f"{statistics.median(r.rate for r in runs):,.0f}", *cpu)
    console.print(medians)

    goals = Table(title="Ratios of events/s (same round)")
    for column in ("ratio", "per round", "median", "goal", "met"):
        goals.add_column(column)
    for phase, baseline, goal in ratios:
        each = [a.rate / b.rate for a, b in zip(phases[phase], phases[baseline], strict=True)]
        median = statistics.median(each)
        met = "yes" if median >= goal else "no"
        per_round = ", ".join(f"{x:.2f}" for x in each)
        goals.add_row(f"{phase} ÷ {baseline}", per_round, f"{median:.2f}", f"≥ {goal}", met)
    console.print(goals)


def count_events(url: str) -> int:
    """How many events are stored."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM crm_events").fetchone()[0]  # type: ignore[index]


def read_recorder(recorder: ApplicationRecorder) -> int:
    """Reads every stored event as the replay does at its lowest level; how many there were."""
    count, after = 0, 0
    while notifications := recorder.select_notifications(
        start=after, limit=BATCH, inclusive_of_start=False
    ):
        count += len(notifications)
        after = notifications[-1].id
    return count


def read_psycopg(conn: psycopg.Connection[Any]) -> int:
    """Reads every stored event as the replay does, rows only: nothing decoded."""
    count, after = 0, 0
    query = (
        f"SELECT {STORED_COLUMNS} FROM crm_events WHERE notification_id > %s"
        " ORDER BY notification_id LIMIT %s"
    )
    with conn.cursor(binary=True) as cursor:
        while rows := cursor.execute(query, (after, BATCH)).fetchall():
            count += len(rows)
            after = rows[-1][0]
    return count


def read_decoded(conn: psycopg.Connection[Any]) -> int:
    """Reads every stored event as the replay does, into envelopes, and folds nothing: the
    part of the replay's cost that any projection pays."""
    count = 0
    for events in scan(conn, 0, head(conn)):
        count += len(events)
    return count


def replay(container: Container, events: int) -> int:
    """Rebuilds customer_360 from position 0 and swaps it in, on a pool connection as
    `crm replay` does; returns `events`, the number of stored events (it reads them all)."""
    with container.pool.connection() as conn:
        rebuild(conn, PROJECTIONS["customer_360"])
    return events


def main() -> None:
    """Seeds (unless the database already holds events), runs the rounds, prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--commands-each", type=int, default=10, help="after registering")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reuse-database", metavar="URL", help="seeded unless it holds events")
    args = parser.parse_args()
    with chosen_database(args) as url:
        settings = Settings(database_url=url, _env_file=None)
        container = bootstrap(settings)  # its bus stays idle: no aggregates cached
        try:
            recorder = container.store.recorder
            if not recorder.max_notification_id():
                start = time.perf_counter()
                seed(settings, args.customers, args.commands_each)
                console.print(f"seeded in {time.perf_counter() - start:.0f} s")
            events = count_events(url)
            with psycopg.connect(url) as raw:
                phases = {
                    RAW_RECORDER: lambda: read_recorder(recorder),
                    RAW_PSYCOPG: lambda: read_psycopg(raw),
                    DECODED: lambda: read_decoded(raw),
                    REPLAY: lambda: replay(container, events),
                }
                meters = {"client": time.process_time, "PostgreSQL": PostgresCpu(url)}
                results = [
                    measure(phase, round_, run, meters)
                    for round_ in range(1, args.rounds + 1)
                    for phase, run in phases.items()
                ]
        finally:
            container.close()
    goals = [
        (REPLAY, RAW_RECORDER, GOAL),
        (REPLAY, RAW_PSYCOPG, GOAL),
        (DECODED, RAW_PSYCOPG, GOAL),
    ]
    report(results, goals, f"Replay of customer_360 vs raw reads of {events:,} events")


if __name__ == "__main__":
    main()
