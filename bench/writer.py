"""CPU cost of the command writer alone, per command, by batch size (no HTTP, no pipe).

Submits purchases (or registrations, `--command register`) to an in-process `CommandBus` in bursts of a fixed size (each burst is
answered before the next is sent, so each burst is one group commit), and prints, per burst
size, commands/s and the CPU time per command used by this process (the writer) and by the
PostgreSQL backends. Deterministic load, so figures vary far less than the HTTP benchmark's:
use it to compare changes to the write path.

Run:  python -m bench.writer [--commands 6000] [--sizes 1 4 16 64] [--command register]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
A database crm_bench_<random> is created there and dropped at the end. It prints; it asserts
nothing.
"""

import argparse
import itertools
import random
import time
from collections.abc import Iterator
from concurrent.futures import wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psutil
from rich.console import Console
from rich.table import Table

from api.bootstrap import bootstrap
from bench.commands import bench_database
from commands.context import CommandContext, Target
from commands.customers import RecordPurchase, RegisterCustomer
from infra.runtime import tune_garbage_collector
from infra.settings import Settings

CUSTOMERS = 1_000
console = Console()


@dataclass
class Figures:
    """One burst size's results."""

    size: int
    commands: int
    seconds: float
    writer_cpu: float
    postgres_cpu: float

    def cells(self) -> list[str]:
        per = 1e6 / self.commands
        return [
            str(self.size),
            f"{self.commands / self.seconds:,.0f}",
            f"{self.writer_cpu * per:,.0f}",
            f"{self.postgres_cpu * per:,.0f}",
        ]


def context() -> CommandContext:
    """A context like the API's, without Idempotency-Key or If-Match."""
    return CommandContext(actor="bench", correlation_id=str(uuid4()), received_at=datetime.now(UTC))


def postgres_cpu() -> float:
    """CPU seconds used so far by all PostgreSQL processes on this machine."""
    return sum(
        sum(p.cpu_times()[:2])
        for p in psutil.process_iter(["name"])
        if p.info["name"] == "postgres" and p.is_running()
    )


@contextmanager
def measured(size: int, commands: int) -> Iterator[list[Figures]]:
    """Times the block: wall clock, this process's CPU and PostgreSQL's."""
    out: list[Figures] = []
    me = psutil.Process()
    wall, mine, pg = time.perf_counter(), sum(me.cpu_times()[:2]), postgres_cpu()
    yield out
    out.append(
        Figures(
            size,
            commands,
            time.perf_counter() - wall,
            sum(me.cpu_times()[:2]) - mine,
            postgres_cpu() - pg,
        )
    )


def one(kind: str, customers: list[UUID], n: int) -> tuple[Target, Any, CommandContext]:
    """One command of the load: a purchase by a known customer, or a new customer with
    personal data."""
    if kind == "register":
        command = RegisterCustomer(
            name=f"Customer {n}", email=f"c{n}@example.com", phone="+33 1 23 45 67 89"
        )
        return Target(uuid4(), creates=True), command, context()
    purchase = RecordPurchase(order_id=f"o-{n}", total=Decimal("9.90"), currency="EUR")
    return Target(random.choice(customers)), purchase, context()  # noqa: S311 - load, not crypto


def main() -> None:
    """Runs the bursts and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=6000, help="commands per burst size")
    parser.add_argument(
        "--command",
        choices=["purchase", "register"],
        default="purchase",
        help="purchases (no personal data) or registrations (personal data: a new key each)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    orders = itertools.count()
    with bench_database(args.database_url) as url:
        container = bootstrap(Settings(database_url=url, _env_file=None))
        container.start()
        tune_garbage_collector()  # as the writer process does after its start
        try:
            bus = container.bus
            customers: list[UUID] = []
            for n in range(CUSTOMERS):
                customers.append(uuid4())
                bus.submit(
                    Target(customers[-1], creates=True), RegisterCustomer(name=f"B {n}"), context()
                )
            bus.execute(Target(uuid4(), creates=True), RegisterCustomer(name="last"), context())
            results = []
            for size in args.sizes:
                bursts = [
                    [one(args.command, customers, next(orders)) for _ in range(size)]
                    for _ in range(args.commands // size)
                ]
                with measured(size, len(bursts) * size) as figures:
                    for burst in bursts:
                        wait([bus.submit(*submission) for submission in burst])
                results.extend(figures)
        finally:
            container.close()
    table = Table(title=f"Command writer alone: {args.command} in bursts (one group commit each)")
    for column in (
        "burst size",
        "commands/s",
        "writer CPU µs/command",
        "PostgreSQL CPU µs/command",
    ):
        table.add_column(column, justify="right")
    for figures in results:
        table.add_row(*figures.cells())
    console.print(table)


if __name__ == "__main__":
    main()
