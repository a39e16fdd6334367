"""Relay events/s next to a raw kafka-python producer sending the same messages.

Seeds a fresh database through the `CommandBus` (by default 5,000 customers, each registered
and then 9 purchases with item lines: 50,000 events), starts a Tansu broker (or uses
--bootstrap), and reads the events' Kafka messages into memory beforehand: key = customer
id, value = `encode(from_notification(n))`, the relay's headers. Then alternates, in each
round, each into a fresh topic of the same partition count:
  1. raw: a producer from `infra.kafka.open_producer` (the relay's configuration) sends the
     messages from memory, keyed (the client partitions them), then flushes once;
  2. relay: `Relay.publish()` from position 0 until nothing is left (batches of 5,000, each
     read from PostgreSQL, sent, flushed and recorded).
Prints events/s and CPU seconds (this client process, PostgreSQL, the broker if started
here) of each, and the ratio relay / raw (goal: >= 0.7). It prints; it asserts nothing.

Run:  python -m bench.relay [--events 50000] [--rounds 3] [--partitions 12]
      [--bootstrap host:port] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
A database crm_bench_<random> is created at --database-url and dropped at the end.
"""

import argparse
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil
from kafka import KafkaProducer

from api.bootstrap import Container, bootstrap
from bench.commands import bench_database
from bench.replay import Measured, PostgresCpu, console, measure, report, seed
from consumers.relay import Relay
from domain.events.envelope import encode
from infra.kafka import TopicAdmin, ensure_topic, open_producer, partition_for
from infra.settings import Settings
from infra.stored_events import read_events
from tests.broker import Tansu

RAW, RELAY = "raw producer", "relay"
GOAL = 0.7
PURCHASES = 9
Message = tuple[bytes, bytes, list[tuple[str, bytes]]]
"""Key, value and headers."""


def messages(container: Container, partitions: int) -> list[Message]:
    """The messages the relay sends for every stored event, headers chained as it does."""
    chain, out = [0] * partitions, []
    for batch in read_events(container.store.recorder, 0):
        for event in batch:
            key = (event.customer_id or event.stream_id).encode()
            partition = partition_for(key, partitions)
            previous, chain[partition] = chain[partition], event.position
            headers = [
                ("type", event.type.encode()),
                ("schema_version", str(event.schema_version).encode()),
                ("previous_position", str(previous).encode()),
            ]
            out.append((key, encode(event), headers))
    return out


def send_raw(producer: KafkaProducer, topic: str, batch: list[Message]) -> int:
    """Sends every message, flushes once, and checks each was acknowledged."""
    futures = [producer.send(topic, value=v, key=k, headers=h) for k, v, h in batch]
    producer.flush()
    if failed := [f for f in futures if not f.succeeded()]:
        raise RuntimeError(f"{len(failed)} messages failed: {failed[0].exception!r}")
    return len(futures)


def relay_all(container: Container, producer: KafkaProducer, settings: Settings) -> int:
    """Publishes every stored event with the relay, from position 0."""
    admin = TopicAdmin(settings)
    try:
        return Relay(container.store, container.pool, lambda: producer, admin).publish_all()
    finally:
        admin.close()


def into_fresh_topic(
    settings: Settings,
    phase: str,
    round_: int,
    send: Callable[[KafkaProducer, str], int],
    meters: dict[str, Callable[[], float]],
) -> Measured:
    """Creates a topic and a producer (untimed), then measures `send(producer, topic)`."""
    topic = f"bench.{phase.replace(' ', '-')}.{secrets.token_hex(4)}"
    ensure_topic(settings.model_copy(update={"kafka_topic": topic}))
    producer = open_producer(settings, f"bench-{phase.replace(' ', '-')}")
    try:
        return measure(phase, round_, lambda: send(producer, topic), meters)
    finally:
        producer.close()


@contextmanager
def broker(bootstrap: str | None) -> Iterator[tuple[str, psutil.Process | None]]:
    """--bootstrap as it is, or a Tansu broker started here (and its process), then stopped."""
    if bootstrap:
        yield bootstrap, None
        return
    tansu = Tansu()
    try:
        yield tansu.bootstrap, psutil.Process(tansu.process.pid)
    finally:
        tansu.stop()


def main() -> None:
    """Seeds, runs the rounds against the broker and prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="a multiple of 10")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--bootstrap", help="a running broker (default: start Tansu)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with broker(args.bootstrap) as (servers, tansu), bench_database(args.database_url) as url:
        settings = Settings(
            database_url=url,
            kafka_bootstrap=servers,
            kafka_partitions=args.partitions,
            _env_file=None,
        )
        start = time.perf_counter()
        seed(settings, args.events // (1 + PURCHASES), PURCHASES, ("purchase",))
        seconds = time.perf_counter() - start
        container = bootstrap(settings)
        try:
            batch = messages(container, args.partitions)
            console.print(f"seeded {len(batch):,} events in {seconds:.0f} s")
            meters = {"client": time.process_time, "PostgreSQL": PostgresCpu(url)}
            if tansu:
                meters["broker"] = lambda: sum(tansu.cpu_times()[:2])
            phases = {
                RAW: lambda p, t: send_raw(p, t, batch),
                RELAY: lambda p, t: relay_all(
                    container, p, settings.model_copy(update={"kafka_topic": t})
                ),
            }
            results = [
                into_fresh_topic(settings, phase, round_, send, meters)
                for round_ in range(1, args.rounds + 1)
                for phase, send in phases.items()
            ]
        finally:
            container.close()
    title = f"Relay vs raw producer: {len(batch):,} events, {args.partitions} partitions"
    report(results, [(RELAY, RAW, GOAL)], title)


if __name__ == "__main__":
    main()
