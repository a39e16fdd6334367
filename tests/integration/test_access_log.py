"""The access log's writer against real PostgreSQL: batches are copied in, everything
queued is written when it stops, and pages follow each other by cursor."""

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import psycopg

from infra import access_log
from infra.access_log import AccessLog, AccessRecord
from infra.postgres import open_pool


def test_what_is_queued_when_it_stops_is_written_in_order(new_database: Callable[[], str]) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(access_log.DDL)
    pool = open_pool(url, 2, "test-access-log")
    subject, other = uuid4(), uuid4()
    log = AccessLog(pool)
    log.start()
    try:
        for n in range(250):
            at = datetime.now(UTC)
            log.record(AccessRecord(subject, f"key-{n}", "auditor", "GET /v1/x", f"c{n}", at))
        log.record(AccessRecord(other, "key-x", "admin", "GET /v1/x", "c", datetime.now(UTC)))
        log.stop()  # long before a second has passed: stopping writes what is queued
        with pool.connection() as conn:
            first, after = access_log.page(conn, subject, 0, 200)
            assert after is not None
            rest, end = access_log.page(conn, subject, after, 200)
            assert end is None
            assert [r["principal"] for r in first + rest] == [f"key-{n}" for n in range(250)]
            assert {r["customer_id"] for r in first + rest} == {subject}
    finally:
        pool.close()
