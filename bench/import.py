"""`crm import purchases` on a generated CSV file: purchases/s of a first run and of a re-run.

Writes a CSV of purchases (by default 50,000 over 5,000 customers, spread over two years and
sorted by time, as an export is; one row in three with an item line and a payment method), then,
in each round, on a fresh database: runs `crm import purchases FILE` as a process (the first run:
it registers every customer and records every purchase), then runs it again (the re-run: it
records nothing). It prints, per run, the purchases/s of the whole command (its wall time,
start-up included) and of the check and import alone (the time the command reports), the CPU
seconds of the `crm` process, its CPU and wall µs per row and its peak resident memory; then the
medians.

With `--store-size N`, the store already holds N purchases of the same customers (the two years
before; imported once into a template database, copied for each round), so the first run
registers no one. With `--trees`, each round runs each source tree in turn (e.g. a `git
worktree` of an older commit, and `.`), on copies of the same database. It prints; it asserts
nothing.

Run:  python -m bench.import [--purchases 50000] [--customers 5000] [--rounds 3]
      [--store-size 0] [--trees .]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
Databases crm_bench_<random> are created there and dropped at the end.
"""

import argparse
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

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
    *("round", "tree", "run", "command s", "purchases/s"),
    *("import s", "purchases/s (import)", "crm CPU s", "CPU µs/row", "import µs/row", "peak MB"),
)
console = Console(width=150)


def write_csv(
    path: Path, purchases: int, customers: int, seed: int = 7, before: bool = False
) -> None:
    """Purchases of random customers at random times, sorted by time (`before`: in the two
    years before, with other order ids)."""
    rng = random.Random(seed)
    start = START - timedelta(seconds=SPAN_SECONDS) if before else START
    order = "old" if before else "ord"
    moments = sorted(rng.randrange(SPAN_SECONDS) for _ in range(purchases))
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(COLUMNS)
        for n, moment in enumerate(moments):
            detailed = n % 3 == 0
            out.writerow(
                [
                    f"shop-{rng.randrange(customers):06d}",
                    (start + timedelta(seconds=moment)).isoformat(),
                    f"{order}-{n:08d}",
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
    peak_mb: float
    """The `crm` process's peak resident memory."""
    summary: str


def run_import(path: Path, url: str, tree: str = ".") -> Run:
    """Runs the CLI of source tree `tree` on the file and measures it."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        crm = subprocess.Popen(  # noqa: S603 - our own CLI
            [CRM, "import", "purchases", str(path)],
            env={k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
            | {"CRM_DATABASE_URL": url, "PYTHONPATH": str(Path(tree).resolve())},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _, status, usage = os.wait4(crm.pid, 0)
        crm.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if crm.returncode != 0:
        sys.exit(f"crm import failed:\n{output}")
    summary = output.strip().splitlines()[-1]
    reported = re.search(r"imported in ([\d.]+) s", summary)
    imported_in = float(reported.group(1)) if reported else float("nan")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, imported_in, cpu, usage.ru_maxrss / 1024, summary)


@contextmanager
def filled_store(args: argparse.Namespace, folder: Path) -> Iterator[str | None]:
    """The name of a database holding `--store-size` purchases of the customers (None if 0),
    dropped afterwards."""
    if not args.store_size:
        yield None
        return
    path = folder / "store.csv"
    write_csv(path, args.store_size, args.customers, seed=11, before=True)
    with bench_database(args.database_url) as url:
        filled = run_import(path, url)
        cost = f"{filled.crm_cpu / args.store_size * 1e6:,.0f} CPU µs/row, {filled.peak_mb:,.0f} MB"
        console.print(f"store of {args.store_size:,} purchases ({cost}): {filled.summary}")
        yield urlsplit(url).path.lstrip("/")


def main() -> None:
    """Generates the files, runs the rounds, prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store-size", type=int, default=0, help="purchases stored before")
    parser.add_argument("--trees", nargs="+", default=["."], help="source trees, in turn")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    runs: dict[tuple[str, str], list[Run]] = {
        (tree, name): [] for tree in args.trees for name in ("first run", "re-run")
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "purchases.csv"
        write_csv(path, args.purchases, args.customers)
        with filled_store(args, Path(folder)) as template:
            for round_ in range(1, args.rounds + 1):
                for tree in args.trees:
                    with bench_database(args.database_url, template) as url:
                        for name in ("first run", "re-run"):
                            runs[tree, name].append(run := run_import(path, url, tree))
                            console.print(f"round {round_}, {tree}, {name}: {run.summary}")
    title = f"{args.purchases:,} rows, {args.customers:,} customers, store of {args.store_size:,}"
    console.print(report(runs, args.purchases, title))


def report(runs: dict[tuple[str, str], list[Run]], purchases: int, title: str) -> Table:
    """Each run, then the median rates and costs per row of each tree and kind of run."""
    table = Table(title=f"crm import purchases: {title}")
    for column in REPORT_COLUMNS:
        table.add_column(column, justify="right")
    for (tree, name), done in runs.items():
        for round_, run in enumerate(done, 1):
            table.add_row(
                str(round_),
                tree,
                name,
                f"{run.seconds:.1f}",
                f"{purchases / run.seconds:,.0f}",
                f"{run.imported_in:.1f}",
                f"{purchases / run.imported_in:,.0f}",
                f"{run.crm_cpu:.1f}",
                f"{run.crm_cpu / purchases * 1e6:,.0f}",
                f"{run.imported_in / purchases * 1e6:,.0f}",
                f"{run.peak_mb:,.0f}",
            )
    for (tree, name), done in runs.items():
        whole = statistics.median(purchases / run.seconds for run in done)
        alone = statistics.median(purchases / run.imported_in for run in done)
        cpu = statistics.median(run.crm_cpu / purchases * 1e6 for run in done)
        wall = statistics.median(run.imported_in / purchases * 1e6 for run in done)
        peak = statistics.median(run.peak_mb for run in done)
        row = ["median", tree, name, "", f"{whole:,.0f}", "", f"{alone:,.0f}", ""]
        table.add_row(*row, f"{cpu:,.0f}", f"{wall:,.0f}", f"{peak:,.0f}")
    return table


if __name__ == "__main__":
    main()
