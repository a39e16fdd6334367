"""The audit log: how fast the auditor hashes the store into its tree, how long an inclusion
proof takes, and how long `crm audit verify` takes.

Seeds a fresh database with synthetic stored events (by default 200,000, of about 400 bytes
each, as customers' events are: their JSON with its metadata; written through the event
store's recorder, 2,000 to a transaction), then measures:
  1. hashing alone: the leaf encoding and SHA-256 of every event, in memory;
  2. the auditor: `extend` from an empty tree until it holds every event (reading the events,
     hashing, storing leaves and subtrees, signing a head per 20,000), leaves per second;
  3. inclusion proofs: `tree_store.inclusion_proofs` of one random position against the
     latest signed tree, what `GET /v1/audit/proofs/inclusion` runs (p50, p99, max);
  4. verification: `verify_store` over the whole store (what `crm audit verify` runs), and
     its time for 1,000,000 events at the same rate.
Goals: >= 50,000 leaves/s; inclusion proof p99 <= 5 ms. It prints; it asserts nothing.

Run:  python -m bench.audit [--events 200000] [--proofs 2000]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--reuse-database URL]
"""

import argparse
import random
import statistics
import time
from uuid import uuid4

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent

from api.bootstrap import bootstrap
from bench.commands import chosen_database
from consumers.auditor import extend
from infra.audit import tree_store
from infra.audit.leaf import EVENTS_AFTER, leaf_bytes
from infra.audit.merkle import leaf_hash
from infra.audit.verification import verify_store
from infra.settings import Settings

PER_TRANSACTION = 2000
LEAVES_GOAL, PROOF_P99_GOAL_MS = 50_000, 5.0


def state(n: int) -> bytes:
    """About 400 bytes, shaped like a stored customer event."""
    return (
        b'{"order_id":"A-%08d","total":"%d.90","currency":"EUR","items":[{"sku":"SKU-%04d",'
        b'"name":"Product %d","quantity":2,"unit_price":"%d.95"}],"payment_method":"card",'
        b'"customer_id":"0c59c22f-5fc0-402b-ad6f-fd88c60f3ae2","meta":{"actor":"shop",'
        b'"correlation_id":"5f0e4f57-9a43-6d1b-8f0c-2e110b5f3c1e","causation_id":null,'
        b'"occurred_at":"2026-12-07T10:00:00.000000+00:00"},"schema_version":1,'
        b'"timestamp":"2026-12-07T10:00:00.123456+00:00","originator_topic":"domain"}'
        % (n, n % 500, n % 500, n % 500, n % 90)
    )


def seed(url: str, events: int) -> None:
    container = bootstrap(Settings(database_url=url, _env_file=None))
    with psycopg.connect(url) as conn:
        present = conn.execute("SELECT count(*) FROM crm_events").fetchone()[0]  # type: ignore[index]
    try:
        for start in range(present, events, PER_TRANSACTION):
            stream = uuid4()
            batch = [
                StoredEvent(
                    stream, v, "domain.customer:Customer.PurchaseRecorded", state(start + v)
                )
                for v in range(1, min(PER_TRANSACTION, events - start) + 1)
            ]
            container.store.recorder.insert_events(batch)
    finally:
        container.close()


def hashing_alone(url: str) -> float:
    with psycopg.connect(url) as conn, conn.cursor(binary=True) as cursor:
        rows = cursor.execute(EVENTS_AFTER, (0, None)).fetchall()
    started = time.perf_counter()
    for position, stream, version, topic, stored in rows:
        leaf_hash(leaf_bytes(position, stream, version, topic, stored))
    return len(rows) / (time.perf_counter() - started)


def auditor(url: str, key: Ed25519PrivateKey) -> tuple[int, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("crm_audit_leaves", "crm_audit_nodes", "crm_audit_tree_heads"):
            conn.execute(f"TRUNCATE {table}")
        started = time.perf_counter()
        while extend(conn, key) is not None:
            pass
        elapsed = time.perf_counter() - started
        return tree_store.extent(conn)[0], elapsed


def proofs(url: str, count: int) -> list[float]:
    with psycopg.connect(url, autocommit=True) as conn:
        head = tree_store.latest_head(conn)
        assert head is not None
        positions = [row[0] for row in conn.execute("SELECT position FROM crm_audit_leaves")]
        times = []
        for position in random.sample(positions, min(count, len(positions))):
            started = time.perf_counter()
            found = tree_store.inclusion_proofs(conn, [position], head.tree_size)
            times.append((time.perf_counter() - started) * 1000)
            assert position in found
        return times


def verification(url: str, key: Ed25519PrivateKey) -> float:
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        verdict = verify_store(conn, key.public_key())
        elapsed = time.perf_counter() - started
    assert verdict.verified, verdict.reason
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reuse-database", metavar="URL", help="seeded up to --events, kept")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    with chosen_database(args) as url:
        started = time.perf_counter()
        seed(url, args.events)
        print(f"seeded {args.events:,} events in {time.perf_counter() - started:.1f} s")
        print(f"hashing alone:      {hashing_alone(url):,.0f} leaves/s")
        size, elapsed = auditor(url, key)
        rate = size / elapsed
        print(
            f"auditor (extend):   {rate:,.0f} leaves/s ({size:,} leaves in {elapsed:.1f} s;"
            f" goal >= {LEAVES_GOAL:,})"
        )
        times = sorted(proofs(url, args.proofs))
        p99 = times[int(len(times) * 0.99) - 1]
        print(
            f"inclusion proof:    p50 {statistics.median(times):.2f} ms, p99 {p99:.2f} ms,"
            f" max {times[-1]:.2f} ms over {len(times):,} (goal p99 <= {PROOF_P99_GOAL_MS} ms)"
        )
        seconds = verification(url, key)
        print(
            f"verify:             {seconds:.1f} s for {size:,} events"
            f" ({size / seconds:,.0f} events/s; 1,000,000 events: {1e6 / size * seconds:.0f} s)"
        )


if __name__ == "__main__":
    main()
