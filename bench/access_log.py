"""What the access policy costs a read: shaping an analyst's answer, queueing an access
record, and how many records per second the access log's writer copies into PostgreSQL.

  1. shaping: a 360 view of a customer with 20 open tickets and deals and 6 channels, parsed,
     cut to the analyst's allow-list and written again (`api.policing.delivered`'s work);
  2. queueing: `AccessLog.record` (what a request pays to be logged);
  3. writing: `--records` records queued at once, then the writer's COPY batches until the
     queue is empty, on a database of its own.
It prints figures; it asserts nothing.

Run:  python -m bench.access_log [--records 200000]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import time
import timeit
from datetime import UTC, datetime
from uuid import uuid4

import orjson
import psycopg

from api.access_policy import POLICY
from bench.commands import bench_database
from infra import access_log
from infra.access_log import AccessLog, AccessRecord
from infra.api_keys import Role
from infra.postgres import open_pool


def answer() -> bytes:
    at = datetime.now(UTC).isoformat()
    ticket = {"id": str(uuid4()), "kind": "complaint", "subject": "Late parcel", "priority": "high", "status": "open", "opened_at": at}  # fmt: skip
    deal = {"id": str(uuid4()), "title": "Renewal", "amount": "100.00", "currency": "EUR", "stage": "proposal", "probability": 50, "status": "open", "opened_at": at}  # fmt: skip
    channel = {"count": 3, "last_at": at, "direction": "inbound", "subject": "Call back"}
    return orjson.dumps(
        {
            "id": str(uuid4()), "version": 40, "external_ref": "c-1", "name": "Ada Lovelace",
            "email": "ada@example.com", "phone": "+44 20 7946 0000", "tags": ["vip"],
            "personal": {"address": {"line1": "12 St James's Sq"}, "hobbies": ["maths"]},
            "profile": {"source": "shop"}, "consent": {"email_marketing": True},
            "custom_fields": {"national_id": "AB123456C"},
            "purchases": {"count": 12, "total": "340.00", "currency": "EUR"},
            "open_tickets": [ticket] * 20, "open_deals": [deal] * 20,
            "interactions_by_channel": {c: channel for c in ("call", "email", "chat", "sms", "meeting", "social")},  # fmt: skip
            "last_interaction": channel | {"channel": "call"},
            "registered_at": at, "updated_at": at, "churn_risk": None, "lifetime_value": None,
        }
    )  # fmt: skip


def shaping_microseconds(rounds: int = 20_000) -> float:
    view = POLICY["GET /v1/customers/{customer_id}"].roles[Role.ANALYST]
    body = answer()
    seconds = timeit.timeit(lambda: orjson.dumps(view.shown(orjson.loads(body))), number=rounds)
    return seconds / rounds * 1e6


def record() -> AccessRecord:
    return AccessRecord(uuid4(), "shop", "service", "GET /v1/customers/{customer_id}", "c-1", datetime.now(UTC))  # fmt: skip


def queueing_microseconds(rounds: int = 100_000) -> float:
    log = AccessLog(None, capacity=rounds)
    records = [record() for _ in range(rounds)]
    started = time.perf_counter()
    for each in records:
        log.record(each)
    return (time.perf_counter() - started) / rounds * 1e6


def writing_per_second(url: str, count: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(access_log.DDL)
    pool = open_pool(url, 2, "bench-access-log")
    log = AccessLog(pool, capacity=count)
    for _ in range(count):
        log.record(record())
    started = time.perf_counter()
    log.start()
    log.flush()
    elapsed = time.perf_counter() - started
    log.stop()
    pool.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"analyst's 360 view shaped: {shaping_microseconds():.0f} µs per answer")
    print(f"access record queued: {queueing_microseconds():.2f} µs per read")
    with bench_database(args.database_url) as url:
        rate = writing_per_second(url, args.records)
    print(f"access records written: {rate:,.0f} per second ({args.records:,} records)")


if __name__ == "__main__":
    main()
