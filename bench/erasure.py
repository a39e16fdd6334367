"""Erasure to "nothing readable": from an erasure's 200 to the first moment no read model
holds anything of the customer, in-process and via Kafka.

For each path, on a fresh PostgreSQL database: the in-process path is `crm serve` (its store
follower feeds the read models); the Kafka path is `crm serve`, `crm relay` and `crm project`
with a Tansu broker started here (`bench.lag`'s stack). --customers customers are made over
HTTP, each with personal data that all holds a token of its own (name, email, a contact's
subject and notes, a ticket's subject, description and reply, a deal's title). Once the read
models show them all, they are erased one after another over HTTP (an admin key); after each
200 the customer's rows in customer_360, tickets and deals are read every --poll-ms until
none holds its token. Prints, per path, the erasure's answer time and the time to nothing
readable (p50 / p90 / max, ms). It prints; it asserts nothing.

Run:  python -m bench.erasure [--customers 30] [--poll-ms 2] [--path in-process|kafka|both]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from rich.table import Table

from bench.commands import bench_database, console, percentile
from bench.lag import kafka_stack
from tests.e2e.conftest import Service, crm_env, free_port, start_service

ROWS_HOLDING = """
SELECT (SELECT count(*) FROM customer_360 t WHERE customer_id = %(id)s AND t::text LIKE %(token)s)
     + (SELECT count(*) FROM tickets t WHERE customer_id = %(id)s AND t::text LIKE %(token)s)
     + (SELECT count(*) FROM deals t WHERE customer_id = %(id)s AND t::text LIKE %(token)s)
"""
"""How many of the customer's read-model rows hold the token."""


@contextmanager
def in_process(url: str, _logs: Path) -> Iterator[Service]:
    service = start_service(crm_env(database_url=url, port=str(free_port())))
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def via_kafka(url: str, logs: Path) -> Iterator[Service]:
    with kafka_stack(url, logs, fetch_wait_ms=100) as stack:
        yield stack.service


def lived(client: httpx.Client, token: str) -> str:
    """A customer whose personal data all holds `token`; their id."""
    customer = client.post(
        "/v1/customers", json={"name": f"Ada {token}", "email": f"{token}@example.org"}
    ).json()["id"]
    base = f"/v1/customers/{customer}"
    contact = {"channel": "call", "direction": "inbound", "subject": token, "notes": token}
    complaint = {"subject": f"{token} kettle", "description": token, "channel": "email"}
    deal = {"customer_id": customer, "title": f"Tea for {token}", "amount": "10",
            "currency": "EUR", "stage": "proposal"}  # fmt: skip
    answers = [
        client.post(f"{base}/interactions", json=contact),
        ticket := client.post(f"{base}/complaints", json=complaint),
        client.post(
            f"/v1/tickets/{ticket.json()['id']}/replies",
            json={"author": "agent", "body": f"Dear {token}"},
        ),  # fmt: skip
        client.post("/v1/deals", json=deal),
    ]
    for answer in answers:
        answer.raise_for_status()
    return customer


def holding(conn: psycopg.Connection, customer: str, token: str) -> int:
    row = conn.execute(ROWS_HOLDING, {"id": customer, "token": f"%{token}%"}).fetchone()
    return row[0] if row else 0


def measure(service: Service, url: str, customers: int, poll: float) -> tuple[list[float], ...]:
    """Makes and erases the customers; the erasures' answer times and the times to nothing
    readable (ms)."""
    admin_key = service.first_admin_key or service.create_key("admin")
    with service.client(service.create_key("service")) as client:
        made = {(token := secrets.token_hex(6)): lived(client, token) for _ in range(customers)}
    answered, cleared = [], []
    with (
        psycopg.connect(url, autocommit=True) as conn,
        service.client(admin_key) as admin,
    ):
        for token, customer in made.items():
            while holding(conn, customer, token) < 3:  # its 360 row, ticket and deal shown
                time.sleep(poll)
        for token, customer in made.items():
            sent = time.perf_counter()
            admin.post(
                f"/v1/customers/{customer}/erasure", json={"reason": "bench"}
            ).raise_for_status()
            done = time.perf_counter()
            while holding(conn, customer, token):
                time.sleep(poll)
            answered.append((done - sent) * 1000)
            cleared.append((time.perf_counter() - done) * 1000)
    return answered, cleared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--poll-ms", type=float, default=2)
    parser.add_argument("--path", choices=["in-process", "kafka", "both"], default="both")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    paths = {"in-process": in_process, "kafka": via_kafka}
    chosen = list(paths) if args.path == "both" else [args.path]
    table = Table(title=f"Erasure to nothing readable, {args.customers} customers, ms")
    for column in ("path", "what", "p50", "p90", "max"):
        table.add_column(column, justify="left" if column in ("path", "what") else "right")
    for name in chosen:
        with (
            bench_database(args.database_url) as url,
            tempfile.TemporaryDirectory(prefix="crm-erasure-") as logs,
            paths[name](url, Path(logs)) as service,
        ):
            answered, cleared = measure(service, url, args.customers, args.poll_ms / 1000)
        for what, values in (("erasure answered", answered), ("nothing readable", cleared)):
            figures = [f"{percentile(values, q):.1f}" for q in (50, 90, 100)]
            table.add_row(name, what, *figures)
    console.print(table)
    console.print(f"poll interval {args.poll_ms:g} ms (the bound on accuracy)")


if __name__ == "__main__":
    main()
