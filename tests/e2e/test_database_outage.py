"""End-to-end: with PostgreSQL unreachable, a command is answered 503 with Retry-After within
about the database timeout, not held until the client gives up; its Idempotency-Key is free
again, and once PostgreSQL is back the retry records the command once."""

import time

import psycopg
import pytest

from tests.e2e.conftest import serving
from tests.pg_proxy import PgProxy

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it

TIMEOUT_SECONDS = 2.0
SLACK_SECONDS = 4.0
"""Above the database timeout, what a slow 2-core machine may take to answer over HTTP."""


def test_with_postgres_down_a_command_is_answered_503_and_its_retry_recorded_once(
    new_database,
) -> None:
    url = new_database()
    proxy = PgProxy(url)
    try:
        with serving(proxy.url(), database_timeout_seconds=str(TIMEOUT_SECONDS)) as service:
            with service.client(service.create_key("service")) as api:
                customer_id = api.post("/v1/customers", json={"name": "Outage"}).json()["id"]
                purchase = {"order_id": "outage-1", "total": "5.00", "currency": "EUR"}
                headers = {"Idempotency-Key": "outage-1"}
                # Given PostgreSQL is down (connections cut, new ones refused)
                proxy.close()
                for _ in range(2):
                    # When the purchase is sent, and sent again with the same key once answered
                    started = time.monotonic()
                    response = api.post(
                        f"/v1/customers/{customer_id}/purchases", json=purchase, headers=headers
                    )
                    elapsed = time.monotonic() - started
                    # Then it is 503 with Retry-After (never 409 in-flight), within the timeout
                    assert response.status_code == 503, response.text
                    assert int(response.headers["Retry-After"]) >= 1
                    assert elapsed < TIMEOUT_SECONDS + SLACK_SECONDS, f"after {elapsed:.1f} s"
                # When PostgreSQL is back, the retry with the same key records it
                proxy.open()
                deadline = time.monotonic() + 30
                while True:
                    response = api.post(
                        f"/v1/customers/{customer_id}/purchases", json=purchase, headers=headers
                    )
                    if response.status_code != 503 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert response.status_code == 201, response.text
                again = api.post(
                    f"/v1/customers/{customer_id}/purchases", json=purchase, headers=headers
                )
                assert (again.status_code, again.json()) == (201, response.json())
    finally:
        proxy.stop()
    # Once
    with psycopg.connect(url) as conn:
        (stored,) = conn.execute(
            "SELECT count(*) FROM crm_events WHERE topic LIKE '%PurchaseRecorded'"
        ).fetchone()
    assert stored == 1
