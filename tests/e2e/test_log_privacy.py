"""What `crm serve` logs about an error names its type, never a value it was given."""

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import psycopg

from tests.e2e.conftest import CRM, Service, crm_env, free_port
from tests.waiting import wait_for


def test_a_logged_error_carries_no_value_from_the_request(
    new_database: Callable[[], str],
) -> None:
    """A read model refuses a row (a constraint added by hand): the error logged is the
    constraint's error type, never the failing row, which holds the customer's name and
    email (PostgreSQL's message quotes it)."""
    url = new_database()
    lines: list[str] = []
    service = start_with_output(crm_env(database_url=url, port=str(free_port())), lines)
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
    finally:
        service.stop()


def start_with_output(env: dict[str, str], lines: list[str]) -> Service:
    """`crm serve`, its output (stdout and stderr, its child processes' too) kept in `lines`."""
    process = subprocess.Popen(
        [CRM, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    first_key = None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Admin API key:"):
            first_key = line.split()[-1]
        if line.startswith("Serving on"):
            break

    def keep() -> None:
        assert process.stdout is not None
        lines.extend(process.stdout)

    threading.Thread(target=keep, daemon=True).start()
    service = Service(process, f"http://127.0.0.1:{env['CRM_PORT']}", env, first_key)
    wait_for(lambda: _answers(service.url))
    return service


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError:
        return False
