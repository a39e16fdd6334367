"""The BG/NBD fit on 25,000 customers and about 100,000 purchases, simulated with known
parameters (seeded).

First purchases fall on the days of 2024; each customer then buys as the model says
(`tests.bgnbd_simulation`) until the as-of date, 2025-12-31. The purchases become UTC dates
per customer; then three phases are timed, each the median of --rounds runs, in wall and CPU
seconds of this process (others' load on the machine shows as the difference):
  1. histories: (x, t_x, T) of every customer from their purchase dates (`summarise`);
  2. fit: the maximum-likelihood model (`fit`);
  3. score: P(alive) and the expected purchases in the next 90 days and 52 weeks (`score`).
Prints the times and the fitted parameters next to the true ones. It asserts nothing.

Run:  python -m bench.churn [--customers 25000] [--rounds 3] [--seed 2005]
"""

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from domain.churn.bgnbd import Model, Parameters, fit, score
from domain.churn.histories import Histories, summarise
from tests.bgnbd_simulation import simulate_purchases

TRUE = Parameters(r=0.75, alpha=6.6, a=1.5, b=4.0)
"""Chosen so that 25,000 customers make about 100,000 purchases (4 each) in two years."""
START, AS_OF = date(2024, 1, 1), date(2025, 12, 31)
console = Console()


def purchase_dates(customers: int, seed: int) -> dict[int, list[date]]:
    """Each simulated customer's purchase dates: the first one, then the repeat ones."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 366, customers)  # 2024 has 366 days
    customer, weeks = simulate_purchases(rng, TRUE, ((AS_OF - START).days - first) / 7)
    owners = np.concatenate([np.arange(customers), customer])
    days = np.concatenate([first, (first[customer] + weeks * 7).astype(int)])
    dates: dict[int, list[date]] = defaultdict(list)
    for n, day in zip(owners.tolist(), days.tolist(), strict=True):
        dates[n].append(START + timedelta(days=day))
    return dates


def timed(run: Callable[[], Any], rounds: int) -> tuple[tuple[float, float], Any]:
    """The median wall and CPU seconds of `rounds` runs, and the last run's result."""
    wall, cpu, result = [], [], None
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (statistics.median(wall), statistics.median(cpu)), result


def report(
    medians: dict[str, tuple[float, float]], rounds: int, histories: Histories, model: Model
) -> None:
    """Prints the phases' median times and the fitted parameters against the true ones."""
    customers = len(histories.customers)
    times = Table(title=f"Medians of {rounds} runs")
    for column in ("phase", "seconds", "CPU seconds", "customers/s"):
        times.add_column(column, justify="left" if column == "phase" else "right")
    for phase, (wall, cpu) in medians.items():
        times.add_row(phase, f"{wall:.3f}", f"{cpu:.3f}", f"{customers / wall:,.0f}")
    console.print(times)
    fitted = Table(title=f"Fitted on {model.customers:,} customers")
    for column in ("parameter", "true", "fitted", "relative error"):
        fitted.add_column(column, justify="left" if column == "parameter" else "right")
    for name in ("r", "alpha", "a", "b"):
        true, estimate = getattr(TRUE, name), getattr(model, name)
        fitted.add_row(name, f"{true:.3f}", f"{estimate:.3f}", f"{estimate / true - 1:+.1%}")
    console.print(fitted)
    console.print(f"log-likelihood {model.log_likelihood:,.2f}")


def main() -> None:
    """Simulates, times the three phases, prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2005)
    args = parser.parse_args()
    dates = purchase_dates(args.customers, args.seed)
    purchases = sum(len(days) for days in dates.values())
    days = sum(len(set(days)) for days in dates.values())
    console.print(f"{len(dates):,} customers, {purchases:,} purchases on {days:,} customer-days")
    medians: dict[str, tuple[float, float]] = {}
    medians["histories"], histories = timed(lambda: summarise(dates, AS_OF), args.rounds)
    history = (histories.x, histories.t_x, histories.T)
    console.print(f"no repeat purchase: {np.mean(histories.x == 0):.1%} of the customers")
    medians["fit"], model = timed(lambda: fit(*history), args.rounds)
    medians["score"], _ = timed(lambda: score(model, *history), args.rounds)
    report(medians, args.rounds, histories, model)


if __name__ == "__main__":
    main()
