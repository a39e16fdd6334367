"""What `crm serve` logs about an error names its type, never a value it was given."""

import json
import time
import uuid
from collections.abc import Callable

import httpx
import psycopg

from tests.e2e.conftest import crm_env, free_port, start_service
from tests.waiting import wait_for


def test_a_logged_or_shown_error_carries_no_value_from_the_request(
    new_database: Callable[[], str],
) -> None:
    """A read model refuses a row (a constraint added by hand): the error logged is the
    constraint's error type, never the failing row, which holds the customer's name and
    email (PostgreSQL's message quotes it)."""
    url = new_database()
    lines: list[str] = []
    service = start_service(crm_env(database_url=url, port=str(free_port())), lines)
    try:
        marker = f"secret-{uuid.uuid4().hex}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "ALTER TABLE customer_360 ADD CONSTRAINT no_marker"
                f" CHECK (name NOT LIKE '%{marker}%') NOT VALID"
            )
        with service.client(service.create_key("service")) as api:
            registered = api.post(
                "/v1/customers", json={"name": f"Ada {marker}", "email": f"{marker}@example.com"}
            )
        assert registered.status_code == 201
        wait_for(lambda: any("projection stopped" in line for line in lines))
        time.sleep(0.5)  # anything else it logs about it
        stopped = next(json.loads(x) for x in lines if "projection stopped" in x)
        assert stopped["error"] == "CheckViolation (SQLSTATE 23514)"
        assert stopped["projection"] == "customer_360"
        assert [line for line in lines if marker in line] == []
        # And the stopped projection's reason, shown to anyone by /readyz, names no value
        ready = httpx.get(f"{service.url}/readyz")
        assert ready.status_code == 503
        reason = ready.json()["checks"]["projections"]["customer_360"]
        assert reason.endswith(": CheckViolation (SQLSTATE 23514)"), reason
        assert marker not in ready.text
    finally:
        service.stop()
