"""`crm project` catching up after an outage, next to a raw kafka-python consumer; and
`crm project` killed (-9) and started again under load.

Catch-up (default): seeds a fresh database through the command bus (--customers registered,
then --purchases purchases spread over them: 11,000 events by default) and publishes every
event with the relay to a Tansu broker started here (--partitions 12). Then alternates, in
each round:
  1. raw: a kafka-python consumer without a group, assigned every partition, reads the topic
     from its start until it holds every message (it parses Kafka records, nothing more);
  2. project: every read model and offset is emptied (a projector down since the first
     event), and `crm project` (all projections) runs until each projection's offsets reach
     the topic's end; then it is stopped;
  3. project (old), with --old-tree DIR: the same with PYTHONPATH=DIR (a git worktree of an
     older commit: `git worktree add /tmp/old <commit>`).
A projector is timed from its first partition assignment (its log's) until every
projection's offsets reach the topic's end; the time from the process's start to the
assignment (start-up, group join) and to the end are printed apart. Prints events/s (each
event applied to every projection; --projections NAME...: only those), CPU seconds of the
consumer's process and the broker, the ratio project / raw (goal >= 0.3) and the rate
(goal >= 5,000 events/s).

Kills (--kills K): `crm serve`, `crm relay` and `crm project` on the broker; purchases over
HTTP from 8 threads while `crm project` is killed (-9) K times, 1 to 3 s apart, and started
again at once. Prints how long each restart took to start consuming (Python's imports, the
database prepared), to get its partitions and to apply a message, then, once the load
stopped and every projection caught up, the rows that differ between each live read model
and its rebuild from the event store (goals: 0 each; no group join over 10 s).

It prints; it asserts nothing.

Run:  python -m bench.projector_catchup [--customers 1000] [--purchases 10000] [--rounds 3]
      [--old-tree /tmp/old] [--projections NAME ...] [--partitions 12] [--kills K]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
A database crm_bench_<random> is created at --database-url and dropped at the end; the broker
and the processes started are stopped even on failure.
"""

import argparse
import os
import random
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import count
from pathlib import Path

import httpx
import orjson
import psutil
import psycopg
from kafka import KafkaConsumer, TopicPartition
from psycopg import sql
from rich.table import Table

from bench.commands import bench_database, console
from bench.replay import Measured, report, seed
from infra.settings import Settings
from projections.catalog import PROJECTIONS
from tests.broker import Tansu
from tests.conftest import KAFKA_TEST_FETCH_WAIT_MS, KAFKA_TEST_TIMEOUT_MS, TEST_MASTER_KEY
from tests.e2e.conftest import CRM, crm_env, free_port, start_service
from tests.e2e.kafka_stack import Consumers
from tests.e2e.rebuilds import differences
from tests.e2e.test_faults import buy_until_accepted

RAW, NEW, OLD = "raw consumer", "project", "project (old)"
GOAL_RATIO, GOAL_RATE, GOAL_RESTART_SECONDS = 0.3, 5_000, 10.0
POLL_SECONDS = 0.02
LOAD_THREADS = 8
STARTING, ASSIGNED = "projector starting", "partitions assigned"
RELAY_UP = "relay publishing"
"""Logged by `crm relay` once its event store is open: `crm project` starts after it (both
prepare the database; see bench/lag.py)."""


def kafka_env(url: str, bootstrap: str, partitions: int) -> dict[str, str]:
    """A `crm` process's environment on the test broker, with the tests' short timeouts."""
    return crm_env(
        database_url=url,
        port=str(free_port()),
        kafka_bootstrap=bootstrap,
        kafka_topic="crm.events.bench",
        kafka_partitions=str(partitions),
        kafka_max_poll_interval_ms=str(KAFKA_TEST_TIMEOUT_MS),
        kafka_session_timeout_ms=str(KAFKA_TEST_TIMEOUT_MS),
        kafka_fetch_max_wait_ms=str(KAFKA_TEST_FETCH_WAIT_MS),
    )


def publish(env: dict[str, str]) -> int:
    """Runs `crm relay` until every stored event is published; how many there are."""
    with psycopg.connect(env["CRM_DATABASE_URL"]) as conn:
        (events,) = conn.execute("SELECT count(*) FROM crm_events").fetchone()  # type: ignore[misc]
    relay = subprocess.Popen(
        [CRM, "relay"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        with psycopg.connect(env["CRM_DATABASE_URL"], autocommit=True) as conn:
            while _relayed(conn) < events:
                time.sleep(0.2)
    finally:
        relay.terminate()
        relay.wait(timeout=30)
    return events


def _relayed(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT max(position) FROM crm_relay").fetchone()
    return row[0] or 0 if row else 0


def read_raw(bootstrap: str, topic: str, total: int) -> int:
    """Reads every message of the topic with a plain consumer; how many it read."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=KAFKA_TEST_FETCH_WAIT_MS,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        read = 0
        while read < total:
            read += sum(len(batch) for batch in consumer.poll(500, max_records=5000).values())
        return read
    finally:
        consumer.close()


def empty_read_models(url: str) -> None:
    """Every read model, offset, position and dead letter gone: a projector that never ran."""
    with psycopg.connect(url) as conn:
        for name in PROJECTIONS:
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(name)))
        conn.execute("TRUNCATE crm_projection_offsets, crm_dead_letters")
        conn.execute("UPDATE crm_projections SET position = 0, error = NULL")


def caught_up(conn: psycopg.Connection, total_offsets: int, names: list[str]) -> bool:
    """Whether the named projections' offsets reached the topic's end."""
    rows = conn.execute(
        "SELECT projection, sum(next_offset) FROM crm_projection_offsets GROUP BY projection"
    ).fetchall()
    return sorted(p for p, s in rows if s == total_offsets) == sorted(names)


def project(
    env: dict[str, str], names: list[str], total: int, round_: int, phase: str, meters: dict
) -> Measured:
    """Times `crm project` catching up from nothing: from its first partition assignment, as
    its log says, until every projection's offsets reach the topic's end."""
    empty_read_models(env["CRM_DATABASE_URL"])
    before = {name: meter() for name, meter in meters.items()}
    started = time.time()
    with tempfile.NamedTemporaryFile(prefix="crm-project-", suffix=".log") as log:
        process = subprocess.Popen([CRM, "project", *names], env=env, stdout=log, stderr=log)
        try:
            done, assigned_cpu, used = _wait_caught_up(
                env, names, total, Path(log.name), process.pid
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
        assigned = min(_assignment_times(Path(log.name)))
    spent = {name: meter() - before[name] for name, meter in meters.items()}
    cpu = {"consumer": used - assigned_cpu} | spent
    result = Measured(phase, round_, total, done - assigned, cpu)
    console.print(
        f"round {round_} {phase:<14} {result.rate:>9,.0f} events/s  start to first assignment"
        f" {assigned - started:.1f} s, to caught up {done - started:.1f} s"
        f"  load {os.getloadavg()[0]:.1f}"
    )
    return result


def _wait_caught_up(
    env: dict[str, str], names: list[str], total: int, log: Path, pid: int
) -> tuple[float, float, float]:
    """When the projector caught up (wall clock), and its CPU seconds once its first
    partitions were assigned and once it caught up."""
    process, assigned_cpu = psutil.Process(pid), None
    with psycopg.connect(env["CRM_DATABASE_URL"], autocommit=True) as conn:
        while True:
            used = sum(process.cpu_times()[:2])
            if assigned_cpu is None and _assignment_times(log):
                assigned_cpu = used
            if caught_up(conn, total, names):
                return time.time(), assigned_cpu or 0.0, used
            time.sleep(POLL_SECONDS)


def _assignment_times(log: Path) -> list[float]:
    """When the projector's log says partitions were assigned (Unix seconds)."""
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    return [
        datetime.fromisoformat(line["timestamp"]).timestamp()
        for line in lines
        if line.get("event") == ASSIGNED
    ]


def raw(bootstrap: str, topic: str, total: int, round_: int, meters: dict) -> Measured:
    before = {name: meter() for name, meter in meters.items()}
    cpu, start = time.process_time(), time.perf_counter()
    read = read_raw(bootstrap, topic, total)
    seconds, used = time.perf_counter() - start, time.process_time() - cpu
    spent = {name: meter() - before[name] for name, meter in meters.items()}
    result = Measured(RAW, round_, read, seconds, {"consumer": used} | spent)
    console.print(f"round {round_} {RAW:<14} {result.rate:>9,.0f} events/s")
    return result


def catch_up(args: argparse.Namespace, broker: Tansu, url: str) -> None:
    """Seeds, publishes, then alternates the raw consumer and the projector(s)."""
    env = kafka_env(url, broker.bootstrap, args.partitions)
    seed(seed_settings(env), args.customers, args.purchases // args.customers, ("purchase",))
    total = publish(env)
    names = args.projections or list(PROJECTIONS)
    console.print(f"seeded and published {total:,} events")
    meters: dict[str, Callable[[], float]] = {
        "broker": lambda: sum(psutil.Process(broker.process.pid).cpu_times()[:2]),
    }
    phases = {RAW: None, NEW: env} | (
        {OLD: env | {"PYTHONPATH": args.old_tree}} if args.old_tree else {}
    )
    results = []
    for round_ in range(1, args.rounds + 1):
        for phase, phase_env in phases.items():
            if phase_env is None:
                results.append(raw(broker.bootstrap, env["CRM_KAFKA_TOPIC"], total, round_, meters))
            else:
                results.append(project(phase_env, names, total, round_, phase, meters))
    ratios = [(NEW, RAW, GOAL_RATIO)] + ([(NEW, OLD, 1.0)] if args.old_tree else [])
    title = f"Catch-up of {len(names)} projections: {total:,} events, {args.partitions} partitions"
    report(results, ratios, title)
    console.print(f"goal: {NEW} >= {GOAL_RATE:,} events/s")


def seed_settings(env: dict[str, str]) -> Settings:
    """The settings of the `crm` processes, for seeding in this one."""
    return Settings(
        database_url=env["CRM_DATABASE_URL"],
        kafka_bootstrap=env["CRM_KAFKA_BOOTSTRAP"],
        kafka_topic=env["CRM_KAFKA_TOPIC"],
        kafka_partitions=int(env["CRM_KAFKA_PARTITIONS"]),
        _env_file=None,
    )


def kills(args: argparse.Namespace, broker: Tansu, url: str) -> None:
    """Kills and restarts `crm project` under load, then compares every read model with
    its rebuild."""
    env = kafka_env(url, broker.bootstrap, args.partitions)
    service = start_service(env)
    consumers = Consumers(env, Path(tempfile.mkdtemp(prefix="crm-bench-kills-")))
    try:
        consumers.start("relay", "relay")
        wait_until(lambda: any(e.get("event") == RELAY_UP for e in consumers.log("relay")))
        consumers.start("project", "project")
        with service.client(service.create_key("service")) as api:
            customers = [
                api.post("/v1/customers", json={"name": f"K{n}"}).json()["id"]
                for n in range(args.customers)
            ]
            stop, accepted = threading.Event(), count()

            def load(worker: int) -> None:
                for n in count():
                    if stop.is_set():
                        return
                    buy_until_accepted(api, customers[n % len(customers)], f"w{worker}-{n}")
                    next(accepted)

            with ThreadPoolExecutor(LOAD_THREADS) as pool:
                for worker in range(LOAD_THREADS):
                    pool.submit(load, worker)
                restarts = [restart(consumers, url) for _ in range(args.kills)]
                stop.set()
        purchases = next(accepted)
        with service.client(service.create_key("analyst")) as analyst:
            wait_until(lambda: lag_zero(analyst), seconds=300)
        show_kills(restarts, purchases, differences(url))
    finally:
        consumers.stop()
        service.stop()


def restart(consumers: Consumers, url: str) -> tuple[float, float, float]:
    """After 1 to 3 s, kills `crm project` and starts it again; seconds from its start until
    it logged that it starts consuming (Python's imports, the database prepared), until its
    partitions were assigned, and until it applied a message."""
    time.sleep(random.uniform(1, 3))
    consumers.kill("project")
    before, applied = len(_logged(consumers, ASSIGNED)), _applied(url)
    start = time.time()
    consumers.start("project", "project")
    wait_until(lambda: len(_logged(consumers, ASSIGNED)) > before, seconds=300)
    wait_until(lambda: _applied(url) > applied, seconds=300)
    first_message = time.time() - start
    starting, assigned = _logged(consumers, STARTING)[-1], _logged(consumers, ASSIGNED)[-1]
    return starting - start, assigned - start, first_message


def _logged(consumers: Consumers, event: str) -> list[float]:
    """When `crm project` logged `event` (Unix seconds), oldest first."""
    lines = consumers.log("project")
    return [
        datetime.fromisoformat(e["timestamp"]).timestamp() for e in lines if e.get("event") == event
    ]


def _applied(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT sum(next_offset) FROM crm_projection_offsets").fetchone()
    return int(row[0] or 0) if row else 0


def lag_zero(analyst: httpx.Client) -> bool:
    items = analyst.get("/v1/projections").json()["items"]
    return all(p["lag_events"] == 0 for p in items)


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached in {seconds} s")
        time.sleep(0.05)


def show_kills(
    restarts: list[tuple[float, float, float]], purchases: int, differ: dict[str, int]
) -> None:
    title = f"{len(restarts)} kill -9 of crm project under load ({purchases:,} purchases)"
    table = Table(title=title)
    columns = ("restart", "consuming (s)", "partitions assigned (s)", "message applied (s)")
    for column in columns:
        table.add_column(column, justify="right")
    for n, seconds in enumerate(restarts, 1):
        table.add_row(str(n), *(f"{s:.1f}" for s in seconds))
    console.print(table)
    joins = [assigned - starting for starting, assigned, _ in restarts]
    console.print(
        f"longest restart {max(r[-1] for r in restarts):.1f} s; longest from consuming to"
        f" partitions assigned {max(joins):.1f} s (goal <= {GOAL_RESTART_SECONDS:.0f} s)"
    )
    console.print(f"rows differing from a rebuild: {differ} (goal: 0 each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--purchases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--projections", nargs="+", choices=PROJECTIONS, help="default: all")
    parser.add_argument("--old-tree", help="a worktree of older code to time too")
    parser.add_argument("--kills", type=int, help="kill -9 crm project this often under load")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    os.environ["CRM_MASTER_KEY"] = TEST_MASTER_KEY  # the crm processes' (tests.e2e)
    broker = Tansu()
    try:
        with bench_database(args.database_url) as url:
            (kills if args.kills else catch_up)(args, broker, url)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
