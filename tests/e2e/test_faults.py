"""Faults: killed processes lose no command and count none twice."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import psycopg

from tests.e2e.conftest import crm_env, free_port, start_service

PURCHASES = 600


def buy_until_accepted(client: httpx.Client, customer_id: str, order_id: str) -> int:
    """Sends a purchase, retrying with the same Idempotency-Key until it is answered."""
    body = {"order_id": order_id, "total": "2.50", "currency": "EUR"}
    for _ in range(100):
        try:
            response = client.post(
                f"/v1/customers/{customer_id}/purchases",
                json=body,
                headers={"Idempotency-Key": order_id},
            )
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code != 503:
            return response.status_code
        time.sleep(0.1)
    raise AssertionError(f"{order_id} was never answered")


def kill_children(pid: int) -> int:
    """kill -9 the service's worker processes (command writer, store follower)."""
    children = [c for c in psutil.Process(pid).children() if "spawn_main" in " ".join(c.cmdline())]
    for child in children:
        child.kill()
    return len(children)


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_killing_the_writer_and_follower_loses_nothing_and_doubles_nothing(new_database) -> None:
    url = new_database()
    service = start_service(crm_env(database_url=url, port=str(free_port())))
    try:
        key = service.create_key("service")
        with service.client(key) as api:
            customers = [
                api.post("/v1/customers", json={"name": f"F{i}"}).json()["id"] for i in range(20)
            ]
            orders = [(customers[i % 20], f"fault-{i}") for i in range(PURCHASES)]
            killed: list[int] = []
            killer = threading.Timer(0.5, lambda: killed.append(kill_children(service.process.pid)))
            killer.start()
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(lambda o: buy_until_accepted(api, *o), orders))
            killed_during_load = killer.finished.is_set() and killed
            killer.join()
            assert killed_during_load and killed == [2]
            assert statuses.count(201) == PURCHASES
            with psycopg.connect(url) as conn:
                (stored,) = conn.execute(
                    "SELECT count(*) FROM crm_events WHERE topic LIKE '%PurchaseRecorded'"
                ).fetchone()
                assert stored == PURCHASES

                def counted() -> int:
                    conn.commit()
                    return conn.execute(
                        "SELECT coalesce(sum(purchase_count), 0) FROM customer_360"
                    ).fetchone()[0]

                wait_for(lambda: counted() == PURCHASES)
    finally:
        service.stop()
