"""The production path under faults: `crm serve` + `crm relay` + `crm project` processes,
real PostgreSQL and the test broker. Nothing is lost, nothing counts twice."""

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from projections.catalog import PROJECTIONS
from tests.broker import Gate, Tansu
from tests.e2e.conftest import free_port
from tests.e2e.kafka_stack import Consumers, kafka_stack
from tests.e2e.rebuilds import differences
from tests.e2e.test_faults import buy_until_accepted
from tests.waiting import wait_for

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it


def register(client: httpx.Client, count: int) -> list[str]:
    return [client.post("/v1/customers", json={"name": f"K{n}"}).json()["id"] for n in range(count)]


def counts(database_url: str) -> Counter:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT customer_id, purchase_count FROM customer_360").fetchall()
    return Counter({str(customer_id): count for customer_id, count in rows if count})


def test_kill_9_of_relay_and_projector_loses_nothing_and_counts_nothing_twice(
    new_database, kafka_bootstrap, tmp_path
) -> None:
    url = new_database()
    with kafka_stack(url, kafka_bootstrap, tmp_path) as (service, consumers):
        with service.client(service.create_key("service")) as api:
            customers = register(api, 50)
            orders = [(customers[i % 50], f"k9-{i}") for i in range(5000)]
            done = threading.Event()
            kills: list[str] = []

            def chaos() -> None:
                while not done.wait(random.uniform(0.3, 1.2)):
                    name = random.choice(["relay", "project"])
                    consumers.kill(name)
                    kills.append(name)
                    consumers.start(name, name)

            killer = threading.Thread(target=chaos)
            killer.start()
            try:
                with ThreadPoolExecutor(8) as pool:
                    statuses = list(pool.map(lambda o: buy_until_accepted(api, *o), orders))
            finally:
                done.set()
                killer.join()
        assert statuses == [201] * 5000
        assert {"relay", "project"} <= set(kills), kills
        wait_for(lambda: counts(url) == Counter({c: 100 for c in customers}), seconds=180)
    # every read model, fed in the same transactions as customer_360, equals its rebuild
    assert differences(url) == dict.fromkeys(PROJECTIONS, 0)


def test_two_projectors_in_one_group_split_the_partitions_and_count_exactly(
    new_database, kafka_bootstrap, tmp_path
) -> None:
    url = new_database()
    with kafka_stack(url, kafka_bootstrap, tmp_path) as (service, consumers):
        # A second projector process of every projection: one more member of the same group
        consumers.start("project-2", "project")
        with service.client(service.create_key("service")) as api:
            customers = register(api, 40)
            wait_for(lambda: len(_last_assignments(consumers)) == 2, seconds=120)
            orders = [(customers[i % 40], f"two-{i}") for i in range(1000)]
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda o: buy_until_accepted(api, *o), orders))
        assert statuses == [201] * 1000
        wait_for(lambda: counts(url) == Counter({c: 25 for c in customers}), seconds=120)
        first, second = _last_assignments(consumers).values()
        assert first and second and sorted(first + second) == [0, 1, 2, 3]


def _last_assignments(consumers: Consumers) -> dict[str, list[int]]:
    """Each projector process's latest partition assignment, once both have one."""
    latest = {}
    for name in ("project", "project-2"):
        assigned = [e for e in consumers.log(name) if e.get("event") == "partitions assigned"]
        if assigned and assigned[-1]["partitions"]:
            latest[name] = assigned[-1]["partitions"]
    both = len(latest) == 2 and sorted(sum(latest.values(), [])) == [0, 1, 2, 3]
    return latest if both else {}


def test_a_broker_outage_of_10_s_loses_no_command_and_no_event(new_database, tmp_path) -> None:
    url = new_database()
    gate_port = free_port()
    broker = Tansu(advertised_port=gate_port)
    gate = Gate(gate_port, broker.port)
    try:
        with kafka_stack(url, f"127.0.0.1:{gate_port}", tmp_path) as (service, _):
            with service.client(service.create_key("service")) as api:
                customers = register(api, 10)
                statuses: list[int] = []

                def keep_buying() -> None:
                    for i in range(300):
                        statuses.append(buy_until_accepted(api, customers[i % 10], f"out-{i}"))
                        time.sleep(0.05)

                buyer = threading.Thread(target=keep_buying)
                buyer.start()
                wait_for(lambda: len(statuses) >= 30)
                gate.close()
                time.sleep(10)
                during = len(statuses)
                gate.open()
                buyer.join()
            assert statuses == [201] * 300
            assert during > 60  # commands kept coming while the broker was away
            wait_for(lambda: counts(url) == Counter({c: 30 for c in customers}), seconds=120)
            with service.client(service.create_key("analyst")) as analyst:

                def status() -> dict:
                    return analyst.get("/v1/projections").json()

                wait_for(lambda: all(p["lag_events"] == 0 for p in status()["items"]))
                shown = status()
            assert (shown["mode"], shown["broker"]) == ("kafka", "ok")
            assert [(p["lag_events"], p["dead_letters"]) for p in shown["items"]] == [(0, 0)] * len(
                PROJECTIONS
            )
    finally:
        gate.close()
        broker.stop()
