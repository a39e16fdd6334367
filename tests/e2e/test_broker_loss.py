"""A broker that comes back empty, or a topic recreated with the wrong partition count, under
load: `crm serve`, `crm relay` and `crm project` recover by themselves. Within 60 s, with
nobody acting, every projection equals its rebuild from the event store, and the status
route never reports lag 0 for a projection that misses an event."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from infra.kafka import TopicAdmin
from infra.settings import Settings
from projections.catalog import PROJECTIONS
from tests.broker import Tansu
from tests.e2e.conftest import Service
from tests.e2e.kafka_stack import kafka_stack
from tests.e2e.rebuilds import at_lag_zero
from tests.e2e.test_faults import buy_until_accepted
from tests.e2e.test_kafka_faults import register

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it

RECOVERY_SECONDS = 60


@contextmanager
def shop_under_load(
    service: Service, customers: list[str], tag: str
) -> Iterator[Callable[[], list[int]]]:
    """Purchases and complaints sent by four clients while the block runs; gives the answers
    so far (purchases retried with their Idempotency-Key until answered)."""
    stop, answers, key = threading.Event(), [], service.create_key("service")

    def client(worker: int) -> None:
        with service.client(key) as api:
            n = 0
            while not stop.is_set():
                customer = customers[(worker + n) % len(customers)]
                answers.append(buy_until_accepted(api, customer, f"{tag}-{worker}-{n}"))
                if n % 5 == 0:
                    complaint = {"subject": f"{tag} {worker} {n}", "description": "Late.",
                                 "priority": "high", "channel": "email"}  # fmt: skip
                    answers.append(_until_answered(api, f"/v1/customers/{customer}/complaints",
                                                   complaint, f"{tag}-c-{worker}-{n}"))  # fmt: skip
                n += 1
                time.sleep(0.02)

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(client, worker) for worker in range(4)]
        try:
            yield lambda: list(answers)
        finally:
            stop.set()
            for each in running:
                each.result()


def _until_answered(api: httpx.Client, path: str, body: dict, key: str) -> int:
    for _ in range(300):
        try:
            response = api.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code not in (409, 503):
            return response.status_code
        time.sleep(0.1)
    raise AssertionError(f"{path} was never answered")


def recovered(service: Service, seconds: float = RECOVERY_SECONDS) -> dict:
    """Waits until every projection reports lag 0; each report of lag 0 is checked against
    the projection's rebuild on the way. Returns the last status."""
    url = service.env["CRM_DATABASE_URL"]
    deadline = time.monotonic() + seconds
    with service.client(service.create_key("analyst")) as analyst:
        while True:
            status = analyst.get("/v1/projections").json()
            differing = at_lag_zero(url, status)
            if differing is not None:
                assert differing == dict.fromkeys(differing, 0), (differing, status)
                if len(differing) == len(PROJECTIONS):
                    return status
            assert time.monotonic() < deadline, f"not recovered in {seconds} s: {status}"
            time.sleep(1)


def topic_admin(service: Service) -> TopicAdmin:
    env = service.env
    return TopicAdmin(
        Settings(
            kafka_bootstrap=env["CRM_KAFKA_BOOTSTRAP"],
            kafka_topic=env["CRM_KAFKA_TOPIC"],
            _env_file=None,
        )
    )


def test_a_broker_restarted_empty_twice_under_load_is_recovered_by_nobody(
    new_database, tmp_path
) -> None:
    broker = Tansu()
    try:
        with kafka_stack(new_database(), broker.bootstrap, tmp_path) as (service, _):
            with service.client(service.create_key("service")) as api:
                customers = register(api, 20)
            with shop_under_load(service, customers, "empty") as answers:
                for _ in range(2):
                    time.sleep(5)
                    broker.restart_empty()
                time.sleep(5)
            assert set(answers()) == {201}
            status = recovered(service)
            assert status["relay"]["generation"] >= 2 and status["relay"]["fault"] is None
    finally:
        broker.stop()


def test_a_topic_recreated_with_other_partitions_under_load_is_made_again(
    new_database, kafka_bootstrap, tmp_path
) -> None:
    with kafka_stack(new_database(), kafka_bootstrap, tmp_path) as (service, _):
        with service.client(service.create_key("service")) as api:
            customers = register(api, 20)
        with shop_under_load(service, customers, "wrong") as answers:
            time.sleep(5)
            admin = topic_admin(service)
            try:
                admin.delete()
                admin.create(2)
            finally:
                admin.close()
            time.sleep(5)
        assert set(answers()) == {201}
        recovered(service)
        admin = topic_admin(service)
        try:
            described = admin.describe()
        finally:
            admin.close()
        assert described is not None and described.partitions == 4
