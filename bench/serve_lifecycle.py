"""How long `crm serve` takes to start and to stop, and the CPU its processes spend doing it:
what every end-to-end test module pays for a server of its own.

Each source tree given (`--trees`, e.g. a `git worktree` of an older commit, and `.`) is
served in turn, alternately, `--rounds` times, on one database (prepared by a first start
that is not timed). Each round times, per tree:
  1. launch to /healthz 200 (the API answers), and to /readyz 200 (the command writer too);
  2. SIGINT to exit, right after /healthz, no command sent (a test module that fails early);
  3. SIGINT to exit after a command was answered;
  4. the CPU seconds of `crm serve` and all its child processes over each whole run.
It prints medians over the rounds; it asserts nothing.

Run:  python -m bench.serve_lifecycle [--trees OLD_TREE .] [--rounds 3]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import resource
import signal
import statistics
import time

from rich.console import Console
from rich.table import Table

from bench.commands import bench_database
from bench.serving import serve
from tests.e2e.conftest import Service

console = Console()


def children_cpu() -> float:
    """CPU seconds of this process's finished (and waited-for) descendants."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def stopped(service: Service) -> float:
    """Seconds from SIGINT to the exit of `crm serve`."""
    started = time.monotonic()
    service.process.send_signal(signal.SIGINT)
    service.process.wait(timeout=60)
    return time.monotonic() - started


def measure(tree: str, url: str) -> dict[str, float]:
    cpu, started = children_cpu(), time.monotonic()
    idle = serve(tree, url)
    healthy = time.monotonic() - started
    stop_idle = stopped(idle)
    cpu_idle = children_cpu() - cpu
    cpu, started = children_cpu(), time.monotonic()
    service = serve(tree, url)
    with service.client(service.create_key("service")) as api:
        while api.get("/readyz").status_code != 200:
            time.sleep(0.01)
        ready = time.monotonic() - started
        assert api.post("/v1/customers", json={"name": "Bench"}).status_code == 201
    stop_used = stopped(service)
    return {
        "to /healthz": healthy,
        "to /readyz": ready,
        "stop, no command": stop_idle,
        "stop after a command": stop_used,
        "CPU s, no command": cpu_idle,
        "CPU s, a command": children_cpu() - cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", default=["."])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {tree: [] for tree in args.trees}
    with bench_database(args.database_url) as url:
        serve(args.trees[0], url).stop()  # creates the tables and the first key
        for _ in range(args.rounds):
            for tree in args.trees:
                results[tree].append(measure(tree, url))
                console.print(tree, {k: round(v, 2) for k, v in results[tree][-1].items()})
    table = Table(title=f"crm serve, medians of {args.rounds} rounds (seconds)")
    table.add_column("tree")
    for column in results[args.trees[0]][0]:
        table.add_column(column, justify="right")
    for tree, rounds in results.items():
        table.add_row(tree, *(f"{statistics.median(r[c] for r in rounds):.2f}" for c in rounds[0]))
    console.print(table)


if __name__ == "__main__":
    main()
