"""End-to-end lag on the Kafka path: from a command's 201 to its effect in the read model.

Starts, on a fresh PostgreSQL database and a Tansu broker started here, the product as it runs
with Kafka: `crm serve` (HTTP API), `crm relay` (event store -> Kafka) and `crm project`
(Kafka -> read models). Registers --customers customers over HTTP and waits until the
projector has them all in customer_360. Then sends purchases (POST /v1/customers/{id}/purchases)
open-loop at a steady --rate per second, round-robin over the customers, from a pool of
keep-alive connections: each request is sent at its planned time whatever the answers before
it do. The first --warmup seconds are not measured; the next --seconds are.

For each measured purchase it records when its 201 arrived and the version it answered (so the
purchase_count it makes: version - 1, registration being version 1). A watcher thread reads
customer_360 (customer_id, purchase_count) every --poll-ms and notes when each count first
shows; lag = first seen - 201 arrival (0 when seen before the 201 arrived; those are counted).
A tap consumer (no group; the projector's fetch settings unless --tap-fetch-wait-ms) reads the
topic too, so the lag is split at the relay's send (the Kafka message's create timestamp, ms)
and at the tap's receipt. Prints the lag by stage (p50 / p90 / p99 / max, ms) against the goal
(p99 <= 500 ms at 200 commands/s), the achieved rate, the watcher's poll interval (the bound
on accuracy), how the relay and the projector batch, and the CPU each process used while
measuring, next to the whole machine's (other work on the machine shows there).
It prints; it asserts nothing.

Run:  python -m bench.lag [--seconds 30] [--rate 200] [--customers 200] [--warmup 5]
      [--poll-ms 5] [--no-tap] [--tap-fetch-wait-ms MS]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
A database crm_bench_<random> is created at --database-url and dropped at the end; the
processes and the broker are stopped even on failure.
"""

import argparse
import asyncio
import os
import secrets
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psutil
import psycopg
from kafka import KafkaConsumer, TopicPartition
from rich.table import Table

from bench.commands import bench_database, console, percentile
from tests.broker import Tansu
from tests.e2e.conftest import CRM, Service, crm_env, free_port, start_service

GOAL_P99_MS = 500.0
PARTITIONS = 12
CONNECTIONS = 32  # the load's keep-alive HTTP connections
TEST_BROKER_TIMEOUT_MS = "3000"  # Tansu's first consumer-group join waits this long
RELAY_UP = "relay publishing"
"""Logged by `crm relay` once its event store is open. `crm relay` opens it (CREATE OR
REPLACE FUNCTION of the notify trigger) outside the migration lock that `crm project` takes,
so the two started at once may fail with "tuple concurrently updated": the projector starts
after this line."""
Key = tuple[str, int]
"""A customer id and the purchase_count one purchase made."""


@dataclass
class Sent:
    """One measured purchase: when it was planned, sent and answered, and what it answered."""

    customer: str
    planned: float
    started: float = 0.0
    answered: float = 0.0
    status: int | str = 0
    count: int = 0


@dataclass
class Stack:
    """The running product: the API service and the relay and projector processes."""

    service: Service
    consumers: dict[str, subprocess.Popen[bytes]]
    broker: Tansu
    topic: str


@contextmanager
def kafka_stack(url: str, logs: Path, fetch_wait_ms: int) -> Iterator[Stack]:
    """A Tansu broker, `crm serve`, `crm relay` and `crm project`; all stopped at the end."""
    broker = Tansu()
    topic = f"crm.events.bench-{secrets.token_hex(4)}"
    env = crm_env(
        database_url=url,
        port=str(free_port()),
        kafka_bootstrap=broker.bootstrap,
        kafka_topic=topic,
        kafka_partitions=str(PARTITIONS),
        kafka_max_poll_interval_ms=TEST_BROKER_TIMEOUT_MS,
        kafka_session_timeout_ms=TEST_BROKER_TIMEOUT_MS,
        kafka_fetch_max_wait_ms=str(fetch_wait_ms),
    )
    service, consumers = None, {}
    try:
        service = start_service(env)
        stack = Stack(service, consumers, broker, topic)
        for name in ("relay", "project"):
            with (logs / f"{name}.log").open("ab") as log:
                consumers[name] = subprocess.Popen([CRM, name], env=env, stdout=log, stderr=log)
            if name == "relay":  # its event store set-up races the projector's (see RELAY_UP)
                wait_for_log(stack, logs, "relay", RELAY_UP)
        yield stack
    finally:
        for process in consumers.values():
            process.terminate()
        for process in consumers.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if service is not None:
            try:
                service.stop()
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        broker.stop()


def register(service: Service, key: str, count: int) -> list[str]:
    """Registers `count` customers over HTTP; their ids."""
    with service.client(key) as client:
        ids = []
        for n in range(count):
            answer = client.post("/v1/customers", json={"name": f"Lag {n}"})
            if answer.status_code != 201:
                raise RuntimeError(f"registering answered {answer.status_code}: {answer.text}")
            ids.append(answer.json()["id"])
        return ids


def check_alive(stack: Stack, logs: Path) -> None:
    """Raises, with the end of its log, if the relay or the projector has exited."""
    for name, process in stack.consumers.items():
        if process.poll() is not None:
            tail = (logs / f"{name}.log").read_text()[-3000:]
            raise RuntimeError(f"crm {name} exited with status {process.returncode}:\n{tail}")


def wait_for_log(stack: Stack, logs: Path, name: str, text: str, seconds: float = 30) -> None:
    """Waits until the log of process `name` holds `text`."""
    deadline = time.monotonic() + seconds
    while text not in (logs / f"{name}.log").read_text():
        check_alive(stack, logs)
        if time.monotonic() > deadline:
            raise RuntimeError(f"crm {name} did not log {text!r} within {seconds:.0f} s")
        time.sleep(0.05)


def wait_projected(url: str, stack: Stack, logs: Path, count: int, seconds: float = 90) -> float:
    """Waits until customer_360 has `count` rows; the seconds it took."""
    start = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() - start < seconds:
            check_alive(stack, logs)
            (rows,) = conn.execute("SELECT count(*) FROM customer_360").fetchone()  # type: ignore[misc]
            if rows >= count:
                return time.monotonic() - start
            time.sleep(0.1)
    raise RuntimeError(f"the projector did not show {count} customers within {seconds:.0f} s")


class Watcher(threading.Thread):
    """Reads customer_360 every `interval` s; notes when each (customer, count) first shows."""

    def __init__(self, url: str, interval: float) -> None:
        super().__init__(name="watcher", daemon=True)
        self._url, self._interval = url, interval
        self._stopping = threading.Event()
        self.seen: dict[Key, float] = {}
        self.polls: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self._url, autocommit=True) as conn:
                self._watch(conn)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error

    def _watch(self, conn: psycopg.Connection) -> None:
        query = "SELECT customer_id::text, purchase_count FROM customer_360"
        counts: dict[str, int] = {}
        following = time.time()
        while not self._stopping.is_set():
            snapshot = time.time()  # the statement's snapshot is taken as it starts
            self.polls.append(snapshot)
            for customer, count in conn.execute(query).fetchall():
                for each in range(counts.get(customer, count) + 1, count + 1):
                    self.seen[(customer, each)] = snapshot
                counts[customer] = count
            following = max(following + self._interval, time.time())
            time.sleep(max(0.0, following - time.time()))

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)


class Tap(threading.Thread):
    """Reads every partition of the topic from its end, as the projector's consumer does
    (kafka-python's defaults, unless `fetch_wait_ms` is given); notes each event's relay send
    time and its own receipt."""

    def __init__(self, bootstrap: str, topic: str, fetch_wait_ms: int | None = None) -> None:
        super().__init__(name="tap", daemon=True)
        self._stopping = threading.Event()
        self.sent: dict[Key, float] = {}
        self.received: dict[Key, float] = {}
        self.error: BaseException | None = None
        wait = {} if fetch_wait_ms is None else {"fetch_max_wait_ms": fetch_wait_ms}
        self._consumer = KafkaConsumer(
            bootstrap_servers=[bootstrap], client_id="bench-tap", enable_auto_commit=False, **wait
        )
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self._consumer.assign(partitions)
        self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            self._consumer.position(tp)  # resolves the end offsets now, before any purchase

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                for records in self._consumer.poll(timeout_ms=100).values():
                    now = time.time()
                    for record in records:
                        event = orjson.loads(record.value)
                        if event["type"].endswith("PurchaseRecorded"):
                            key = (event["stream_id"], event["stream_version"] - 1)
                            self.sent[key] = record.timestamp / 1000
                            self.received[key] = now
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error
        finally:
            self._consumer.close(autocommit=False)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)


@dataclass
class Load:
    """What the open-loop sender did."""

    measured: list[Sent] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)
    statuses: Counter[int | str] = field(default_factory=Counter)
    late_ms: list[float] = field(default_factory=list)


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 POST on an open connection: the status and the body."""
    writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    status, length = int((await reader.readline()).split()[1]), 0
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.partition(b":")
        length = int(value) if name.strip().lower() == b"content-length" else length
    return status, await reader.readexactly(length)


async def send_purchases(
    url: str, key: str, customers: list[str], rate: float, warmup: float, seconds: float
) -> Load:
    """Sends purchases at their planned times (`rate` per second, round-robin over
    `customers`) for `warmup` + `seconds`, from CONNECTIONS keep-alive connections taking
    them from a queue; keeps the ones planned after the warm-up."""
    run, load = secrets.token_hex(4), Load()
    port = urlsplit(url).port
    queue: asyncio.Queue[tuple[int, Sent] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                n, sent = item
                head = (
                    f"POST /v1/customers/{sent.customer}/purchases HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
                    "Content-Type: application/json\r\n"
                ).encode()
                body = orjson.dumps(
                    {"order_id": f"lag-{run}-{n}", "total": "9.90", "currency": "EUR"}
                )
                sent.started = time.time()
                load.late_ms.append((sent.started - sent.planned) * 1000)
                status, answer = await post(reader, writer, head, body)
                sent.answered, sent.status = time.time(), status
                if status == 201:
                    sent.count = orjson.loads(answer)["version"] - 1
                load.statuses[status] += 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    start = time.time() + 0.1
    for n in range(int((warmup + seconds) * rate)):
        planned = start + n / rate
        await asyncio.sleep(max(0.0, planned - time.time()))
        sent = Sent(customers[n % len(customers)], planned)
        if planned >= start + warmup:
            load.measured.append(sent)
        queue.put_nowait((n, sent))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    load.window = (load.measured[0].started, load.measured[-1].started)
    return load


OURS, OTHERS, MACHINE = (
    "PostgreSQL (this database, background)",
    "PostgreSQL (other databases)",
    "machine",
)


class Cpu:
    """CPU seconds (user + system) of each part of the stack, of PostgreSQL (split into this
    database's backends with the background processes, and other databases' backends), and of
    the whole machine, between two readings."""

    def __init__(self, stack: Stack, url: str) -> None:
        serve = psutil.Process(stack.service.process.pid)
        self._parts = {
            "crm serve (API + writer)": [serve, *serve.children(recursive=True)],
            "crm relay": [psutil.Process(stack.consumers["relay"].pid)],
            "crm project": [psutil.Process(stack.consumers["project"].pid)],
            "Tansu broker": [psutil.Process(stack.broker.process.pid)],
            "this bench (load, watcher, tap)": [psutil.Process()],
        }
        self._url = url
        self._before: dict[str, dict[int, float]] = {}
        self._at = 0.0

    def _other_backends(self) -> set[int]:
        """The PostgreSQL backends connected to another database than this bench's."""
        with psycopg.connect(self._url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname <> current_database()"
            ).fetchall()
        return {pid for (pid,) in rows}

    def _read(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {name: {} for name in [*self._parts, OURS, OTHERS]}
        others = self._other_backends()
        parts = [(name, p) for name, ps in self._parts.items() for p in ps]
        for process in psutil.process_iter(["name"]):
            if process.info["name"] == "postgres":
                parts.append((OTHERS if process.pid in others else OURS, process))
        for name, process in parts:
            try:
                out[name][process.pid] = sum(process.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        machine = psutil.cpu_times()._asdict()
        busy = ("user", "nice", "system", "irq", "softirq")  # guest time is in user already
        out[MACHINE] = {0: sum(machine.get(kind, 0.0) for kind in busy)}
        return out

    def start(self) -> None:
        self._before, self._at = self._read(), time.monotonic()

    def stop(self) -> tuple[float, dict[str, float]]:
        """The seconds since `start()` and each part's CPU seconds in them."""
        after, elapsed = self._read(), time.monotonic() - self._at
        used = {
            name: sum(t - self._before[name].get(pid, 0.0) for pid, t in times.items())
            for name, times in after.items()
        }
        return elapsed, used


def stats(values: list[float]) -> list[str]:
    """n, p50, p90, p99 and max of `values` (ms), as text."""
    if not values:
        return ["0", "-", "-", "-", "-"]
    cells = [percentile(values, q) for q in (50, 90, 99)] + [max(values)]
    return [f"{len(values):,}", *(f"{v:,.1f}" for v in cells)]


def bursts(times: list[float], gap: float = 0.010) -> str:
    """How `times` (s) clump: groups split where `gap` passes without one; their count,
    the mean time between group starts and the mean group size, as text."""
    ordered = sorted(times)
    starts = [b for a, b in zip(ordered, ordered[1:], strict=False) if b - a > gap]
    starts = ordered[:1] + starts
    if len(starts) < 2:
        return f"{len(starts)} batch(es)"
    every = (starts[-1] - starts[0]) / (len(starts) - 1) * 1000
    return f"{len(starts):,} batches, one every {every:.0f} ms, {len(ordered) / len(starts):.1f} events each"


def lag_table(ok: list[Sent], seen: dict[Key, float], tap: Tap | None) -> list[float]:
    """Prints the lag by stage; returns the lags from 201 to visible (ms)."""
    visible = [(s, seen[(s.customer, s.count)]) for s in ok if (s.customer, s.count) in seen]
    lags = [max(0.0, shown - s.answered) * 1000 for s, shown in visible]
    stages: list[tuple[str, list[float]]] = [
        ("HTTP: planned send -> 201", [(s.answered - s.planned) * 1000 for s in ok]),
        ("201 -> visible in customer_360 (the goal)", lags),
    ]
    if tap is not None:
        keyed = [((s.customer, s.count), s, shown) for s, shown in visible]
        keyed = [(k, s, shown) for k, s, shown in keyed if k in tap.sent]
        stages += [
            ("201 -> relay send (Kafka timestamp)", [(tap.sent[k] - s.answered) * 1000 for k, s, _ in keyed]),
            ("relay send -> tap consumer has it", [(tap.received[k] - tap.sent[k]) * 1000 for k, _, _ in keyed]),
            ("relay send -> visible in customer_360", [(shown - tap.sent[k]) * 1000 for k, _, shown in keyed]),
        ]  # fmt: skip
    table = Table(title="End-to-end lag through Kafka (ms)")
    for column in ("stage", "n", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for name, values in stages:
        table.add_row(name, *stats(values))
    console.print(table)
    return lags


def summary(
    load: Load, ok: list[Sent], lags: list[float], watcher: Watcher, tap: Tap | None
) -> None:
    """Prints the load achieved, what was never seen, the watcher's resolution, the batching
    of the relay and of the projector, and the verdict."""
    keys = [(s.customer, s.count) for s in ok]
    visible = [(s, watcher.seen[k]) for s, k in zip(ok, keys, strict=True) if k in watcher.seen]
    early = sum(1 for s, shown in visible if shown < s.answered)
    begin, end = load.window
    rate = (len(load.measured) - 1) / (end - begin) if end > begin else 0.0
    gaps = [(b - a) * 1000 for a, b in zip(watcher.polls, watcher.polls[1:], strict=False)]
    p99 = percentile(lags, 99)
    met = "met" if lags and p99 <= GOAL_P99_MS else "NOT met"
    other = ", ".join(f"{k}: {v}" for k, v in load.statuses.items() if k != 201) or "none"
    late = f"p99 {percentile(load.late_ms, 99):.1f} ms, max {max(load.late_ms, default=0):.1f} ms"
    lines = [
        f"commands measured: {len(load.measured):,} ({len(ok):,} answered 201; other: {other})",
        f"achieved send rate: {rate:,.1f}/s; sends late against their plan: {late}",
        f"never visible: {len(ok) - len(visible)}; visible before the 201 arrived (lag 0): {early}",
        f"watcher poll interval: mean {sum(gaps) / max(len(gaps), 1):.1f} ms, p99"
        f" {percentile(gaps, 99):.1f} ms, max {max(gaps, default=0):.1f} ms (bounds the accuracy)",
    ]
    if tap is not None:
        lines.append(f"relay sends: {bursts([tap.sent[k] for k in keys if k in tap.sent])}")
    lines += [
        f"projector commits seen: {bursts([shown for _, shown in visible])}",
        f"goal p99 <= {GOAL_P99_MS:.0f} ms: {met} (p99 {p99:,.1f} ms)",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)


def cpu_table(elapsed: float, used: dict[str, float], commands: int) -> None:
    """Prints each process's CPU while measuring: seconds, share of a core, per command."""
    usage = Table(title=f"CPU while measuring ({elapsed:.1f} s, {os.cpu_count()} cores)")
    for column in ("process", "CPU s", "% of one core", "ms per command"):
        usage.add_column(column, justify="left" if column == "process" else "right")
    machine, others = used.pop(MACHINE), used.pop(OTHERS)
    ours = sum(used.values())
    rows = [*used.items(), ("this stack + bench", ours), (OTHERS, others)]
    rest = max(0.0, machine - ours - others)  # the readings are not quite simultaneous
    rows += [("anything else on the machine", rest), ("whole machine", machine)]
    for name, seconds in rows:
        per = seconds / max(commands, 1) * 1000
        usage.add_row(name, f"{seconds:.1f}", f"{seconds / elapsed * 100:.0f}", f"{per:.2f}")
    console.print(usage)


def report(
    load: Load, watcher: Watcher, tap: Tap | None, cpu: tuple[float, dict[str, float]]
) -> None:
    """Prints the lag by stage, the load, the watcher's resolution and the CPU used."""
    ok = [s for s in load.measured if s.status == 201]
    lags = lag_table(ok, watcher.seen, tap)
    summary(load, ok, lags, watcher, tap)
    cpu_table(*cpu, len(load.measured))


def main() -> None:
    """Parses the arguments, starts the stack on a fresh database, measures, prints."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="measured duration")
    parser.add_argument("--rate", type=float, default=200, help="purchases per second")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured seconds first")
    parser.add_argument("--poll-ms", type=float, default=5, help="watcher's poll interval")
    parser.add_argument("--no-tap", action="store_true", help="no tap consumer on the topic")
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=100,
        help="CRM_KAFKA_FETCH_MAX_WAIT_MS of the projector and the tap (100, as the tests:"
        " Tansu answers a waiting fetch only when the wait ends; Kafka's default is 500)",
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with (
        bench_database(args.database_url) as url,
        tempfile.TemporaryDirectory(prefix="crm-lag-") as logs,
        kafka_stack(url, Path(logs), args.fetch_wait_ms) as stack,
    ):
        key = stack.service.create_key("service")
        customers = register(stack.service, key, args.customers)
        waited = wait_projected(url, stack, Path(logs), args.customers)
        console.print(
            f"{args.customers} customers registered and projected ({waited:.1f} s);"
            f" {args.warmup:g} s warm-up, then {args.seconds:g} s at {args.rate:g}/s"
            f" over {PARTITIONS} partitions",
            soft_wrap=True,
        )
        watcher = Watcher(url, args.poll_ms / 1000)
        tap = None if args.no_tap else Tap(stack.broker.bootstrap, stack.topic, args.fetch_wait_ms)
        cpu = Cpu(stack, url)
        for thread in (watcher, tap):
            if thread is not None:
                thread.start()
        timer = threading.Timer(args.warmup + 0.1, cpu.start)
        timer.daemon = True
        timer.start()
        try:
            load = asyncio.run(
                send_purchases(
                    stack.service.url, key, customers, args.rate, args.warmup, args.seconds
                )
            )
            used = cpu.stop()
            wanted = {(s.customer, s.count) for s in load.measured if s.status == 201}
            deadline = time.monotonic() + 30
            while not wanted <= watcher.seen.keys() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # the tap's last messages
        finally:
            for thread in (watcher, tap):
                if thread is not None:
                    thread.stop()
        for thread in (watcher, tap):
            if thread is not None and thread.error is not None:
                raise thread.error
        check_alive(stack, Path(logs))
        report(load, watcher, tap, used)


if __name__ == "__main__":
    main()
