"""Large commands and a stuck writer, against `crm serve`: no command wedges the writer.

Before the framed channel, a command larger than the socket's buffer (a campaign of 10,000
customers, a purchase of 1,000 lines) was written in part: the writer then waited for the rest
forever, swallowing every later command, while /readyz answered ok and SIGTERM did not stop
the service.
"""

import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4

import httpx
import psutil
import pytest

from tests.e2e.conftest import Service, serving
from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import purchase, register
from tests.waiting import wait_for

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it

WRITER = "crm-writer"
TIMEOUT_SECONDS = 2


@pytest.fixture(scope="module")
def impatient(new_database: Callable[[], str]) -> Iterator[Service]:
    """`crm serve` whose callers wait at most TIMEOUT_SECONDS for the writer."""
    with serving(new_database(), command_timeout_seconds=str(TIMEOUT_SECONDS)) as running:
        yield running


@pytest.fixture(scope="module")
def seller(impatient: Service) -> Iterator[httpx.Client]:
    with impatient.client(impatient.create_key("service")) as client:
        yield client


def canary_answers_at_once(client: httpx.Client) -> None:
    """A small command is answered 2xx within 2 s, and /readyz says all is well."""
    started = time.monotonic()
    answer = client.post("/v1/customers", json={"name": "Canary"})
    assert answer.status_code == 201, answer.text
    assert time.monotonic() - started < 2
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["command_writer"] == "ok"


def writer_of(service: Service) -> psutil.Process:
    (writer,) = [
        child
        for child in psutil.Process(service.process.pid).children(recursive=True)
        if child.name() == WRITER
    ]
    return writer


def test_a_campaign_of_10000_customers_is_drafted_and_the_writer_goes_on(seller) -> None:
    # Given 10,000 customer ids (about 400 KB of JSON, more than a socket buffer holds)
    audience = [str(uuid4()) for _ in range(10_000)]
    # When a campaign to all of them is drafted
    drafted = seller.post(
        "/v1/campaigns",
        json={"name": "All", "subject": "Hi", "body_html": "<p>Hi</p>", "customer_ids": audience},
    )
    # Then it is recorded whole, and the next command is answered at once
    assert drafted.status_code == 201, drafted.text
    canary_answers_at_once(seller)
    campaign = read_at_least(seller, f"/v1/campaigns/{drafted.json()['id']}")
    assert campaign.json()["audience"]["customer_ids"] == audience


def test_many_large_purchases_at_once_are_all_recorded(seller) -> None:
    # Given a customer, and 16 orders of 1,000 lines each (about 100 KB each), sent at once
    customer_id = register(seller)
    lines = [
        {"sku": f"CANDLE-{i}", "name": "Candle " * 60, "quantity": 1, "unit_price": "1.00"}
        for i in range(1000)
    ]
    orders = [purchase(items=lines, total="1000.00") for _ in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda o: seller.post(f"/v1/customers/{customer_id}/purchases", json=o), orders
            )
        )
    # Then every one is recorded, each as its own version of the customer
    assert [a.status_code for a in answers] == [201] * 16, [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 18))
    canary_answers_at_once(seller)


def test_a_writer_that_stops_answering_is_replaced(impatient, seller) -> None:
    # Given a writer that stops answering (frozen, as by a stuck disk or a deadlock)
    frozen = writer_of(impatient)
    frozen.send_signal(signal.SIGSTOP)
    try:
        # When a command is sent, it is answered 503 (retry) once the timeout passes
        started = time.monotonic()
        stuck = seller.post("/v1/customers", json={"name": "Waits"})
        assert stuck.status_code == 503, stuck.text
        assert stuck.headers["content-type"] == "application/problem+json"
        assert time.monotonic() - started < TIMEOUT_SECONDS + 1
        # And /readyz says so, while the writer is not answering
        ready = seller.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["command_writer"] == "not answering"
    finally:
        # Then the frozen writer is replaced by a new one, and commands go on
        wait_for(lambda: not frozen.is_running(), 15)
    wait_for(lambda: seller.get("/readyz").status_code == 200, 15)
    assert writer_of(impatient).pid != frozen.pid
    canary_answers_at_once(seller)


def test_sigterm_stops_the_service_within_10_seconds_after_all_this(impatient, seller) -> None:
    # Given the service after the large and stuck commands above (and one in flight now)
    canary_answers_at_once(seller)
    # When a service manager stops it
    started = time.monotonic()
    impatient.process.terminate()
    # Then it is gone within 10 s
    impatient.process.wait(timeout=10)
    assert time.monotonic() - started < 10
