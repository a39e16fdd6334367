"""`crm import purchases` on a generated CSV file: purchases/s of a first run and of a re-run.

Writes a CSV of purchases (by default 50,000 over 5,000 customers, spread over two years and
sorted by time, as an export is; one row in three with an item line and a payment method), then,
in each round, on a fresh database: runs `crm import purchases FILE` as a process (the first run:
it registers every customer and records every purchase), then runs it again (the re-run: it
records nothing). It prints, per run, the purchases/s of the whole command (its wall time,
start-up included) and of the check and import alone (the time the command reports), and the
CPU seconds of the `crm` process; then the medians. It prints; it asserts nothing.

Run:  python -m bench.import [--purchases 50000] [--customers 5000] [--rounds 3]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
Databases crm_bench_<random> are created there and dropped at the end.
"""

import argparse
import csv
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.commands import bench_database

CRM = str(Path(sys.executable).parent / "crm")
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 86_400
COLUMNS = (
    *("customer_ref", "occurred_at", "order_id", "total", "currency"),
    *("sku", "quantity", "payment_method"),
)
REPORT_COLUMNS = (
    *("round", "run", "command s", "purchases/s"),
    *("import s", "purchases/s (import)", "crm CPU s"),
)
console = Console(width=120)


def write_csv(path: Path, purchases: int, customers: int, seed: int = 7) -> None:
    """Purchases of random customers at random times, sorted by time."""
    rng = random.Random(seed)
    moments = sorted(rng.randrange(SPAN_SECONDS) for _ in range(purchases))
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(COLUMNS)
        for n, moment in enumerate(moments):
            detailed = n % 3 == 0
            out.writerow(
                [
                    f"shop-{rng.randrange(customers):06d}",
                    (START + timedelta(seconds=moment)).isoformat(),
                    f"ord-{n:08d}",
                    f"{rng.randrange(100, 50_000) / 100:.2f}",
                    "EUR",
                    f"SKU-{rng.randrange(500):04d}" if detailed else "",
                    str(rng.randrange(1, 4)) if detailed else "",
                    "card" if detailed else "",
                ]
            )


@dataclass
class Run:
    """One `crm import purchases` process."""

    seconds: float
    imported_in: float
    """The time the command reports for the check and the import (no start-up)."""
    crm_cpu: float
    summary: str


def run_import(path: Path, url: str) -> Run:
    """Runs the CLI on the file and measures it."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [CRM, "import", "purchases", str(path)],
        env={k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        | {"CRM_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"crm import failed:\n{done.stdout}{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    summary = done.stdout.strip().splitlines()[-1]
    reported = re.search(r"imported in ([\d.]+) s", summary)
    return Run(seconds, float(reported.group(1)) if reported else float("nan"), cpu, summary)


def main() -> None:
    """Generates the file, runs the rounds, prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    runs: dict[str, list[Run]] = {"first run": [], "re-run": []}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "purchases.csv"
        write_csv(path, args.purchases, args.customers)
        for round_ in range(1, args.rounds + 1):
            with bench_database(args.database_url) as url:
                for name, done in runs.items():
                    done.append(run_import(path, url))
                    console.print(f"round {round_}, {name}: {done[-1].summary}", soft_wrap=True)
    console.print(report(runs, args.purchases, args.customers))


def report(runs: dict[str, list[Run]], purchases: int, customers: int) -> Table:
    """Each run, then the median rates of each kind of run."""
    table = Table(title=f"crm import purchases: {purchases:,} rows, {customers:,} customers")
    for column in REPORT_COLUMNS:
        table.add_column(column, justify="right")
    for name, done in runs.items():
        for round_, run in enumerate(done, 1):
            table.add_row(
                str(round_),
                name,
                f"{run.seconds:.1f}",
                f"{purchases / run.seconds:,.0f}",
                f"{run.imported_in:.1f}",
                f"{purchases / run.imported_in:,.0f}",
                f"{run.crm_cpu:.1f}",
            )
    for name, done in runs.items():
        whole = statistics.median(purchases / run.seconds for run in done)
        alone = statistics.median(purchases / run.imported_in for run in done)
        table.add_row("median", name, "", f"{whole:,.0f}", "", f"{alone:,.0f}", "")
    return table


if __name__ == "__main__":
    main()
