"""A campaign to 10,000 customers: `crm serve` + `crm automate` against a local SMTP sink.

Seeds a fresh database through the `CommandBus` (customers with email-marketing consent and
one tag, and a campaign for that tag with two links), starts `crm serve` and `crm automate`
(CRM_SMTP_URL -> an aiosmtpd sink in this process), waits for customer_360 to hold every
customer, then measures:
  1. sending: from `POST /v1/campaigns/{id}/send` to the last message received by the sink;
  2. opens: one GET of each recipient's open pixel, from concurrent HTTP clients.
Prints emails/s, opens/s and the CPU seconds of each process (this one, `crm serve` with its
children, `crm automate`, PostgreSQL). It prints; it asserts nothing.

Run:  python -m bench.campaign [--customers 10000] [--clients 16]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import psutil
import psycopg
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table

from api.bootstrap import bootstrap
from bench.commands import bench_database, running
from bench.replay import PostgresCpu, run_all
from commands.campaigns import CreateCampaign
from commands.context import Target
from commands.customers import RegisterCustomer
from infra import tracking
from infra.settings import Settings

CRM = str(Path(sys.executable).parent / "crm")
TAG = "bench-campaign"
BODY = (
    "<html><body><p>Hello {{ customer.name }},</p><p>"
    '<a href="https://shop.example.com/spring?utm=mail">Shop</a> or '
    '<a href="https://blog.example.com/spring">read more</a></p></body></html>'
)
console = Console()


class Sink:
    """Counts the messages it receives and when the last one came."""

    def __init__(self) -> None:
        self.received = 0
        self.last_at = 0.0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        with self._lock:
            self.received += 1
            self.last_at = time.perf_counter()
        return "250 OK"


def seed(url: str, customers: int) -> tuple[UUID, list[UUID], bytes]:
    """Registers the customers and drafts the campaign; returns their ids and the tracking
    key."""
    container = bootstrap(Settings(database_url=url, _env_file=None))
    container.start()
    try:
        ids = [uuid4() for _ in range(customers)]
        run_all(container.bus, [(Target(c, creates=True), customer(n)) for n, c in enumerate(ids)])
        campaign_id = uuid4()
        draft = CreateCampaign(
            name="Bench",
            subject="Spring, {{ customer.name }}",
            body_html=BODY,
            segment={"tag": TAG},
        )
        run_all(container.bus, [(Target(campaign_id, creates=True), draft)])
        with container.pool.connection() as conn:
            secret = tracking.tracking_secret(conn, Settings(_env_file=None))
    finally:
        container.close()
    return campaign_id, ids, secret


def customer(n: int) -> RegisterCustomer:
    return RegisterCustomer(
        name=f"Customer {n}",
        email=f"customer{n}@example.com",
        tags=[TAG],
        consent={"email_marketing": True},
    )


def cpu(process: subprocess.Popen[str]) -> float:
    """CPU seconds of a process and its children so far."""
    try:
        root = psutil.Process(process.pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0.0


def caught_up(url: str) -> bool:
    with psycopg.connect(url) as conn:
        (head,) = conn.execute(
            "SELECT coalesce(max(notification_id), 0) FROM crm_events"
        ).fetchone()
        (done,) = conn.execute(
            "SELECT position FROM crm_projections WHERE name = 'customer_360'"
        ).fetchone()
    return done >= head


def service_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [CRM, "keys", "create", "--role", "service"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with bench_database(args.database_url) as url:
        measure(url, args.customers, args.clients)


def measure(url: str, customers: int, clients: int) -> None:
    started = time.perf_counter()
    campaign_id, ids, secret = seed(url, customers)
    console.print(f"seeded {customers:,} customers in {time.perf_counter() - started:.1f} s")
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    http_port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")} | {
        "CRM_DATABASE_URL": url,
        "CRM_PORT": http_port,
        "CRM_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "CRM_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "CRM_LOG_LEVEL": "WARNING",
        "CRM_TRACKING_RATE_LIMIT": "",  # every pixel is fetched from this one address
    }
    base = env["CRM_PUBLIC_URL"]
    postgres = PostgresCpu(url)
    try:
        with running([CRM, "serve"], env, "Serving on") as (serve, _):
            automate = subprocess.Popen(
                [CRM, "automate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                _wait(lambda: caught_up(url), 300)
                key = service_key(env)
                figures = []
                before = (cpu(serve), cpu(automate), postgres(), time.process_time())
                start = time.perf_counter()
                sent = httpx.post(
                    f"{base}/v1/campaigns/{campaign_id}/send",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=30,
                )
                assert sent.status_code == 202, sent.text  # noqa: S101 - the bench cannot go on
                _wait(lambda: sink.received >= customers, 1200)
                figures.append(("emails", customers, sink.last_at - start, before))
                before = (cpu(serve), cpu(automate), postgres(), time.process_time())
                start = time.perf_counter()
                opened = open_all(tracking_urls(base, secret, campaign_id, ids), clients)
                figures.append(("opens", opened, time.perf_counter() - start, before))
                report(figures, serve, automate, postgres)
            finally:
                automate.terminate()
                automate.wait(timeout=30)
    finally:
        controller.stop()


def tracking_urls(base: str, secret: bytes, campaign_id: UUID, ids: list[UUID]) -> list[str]:
    """Each recipient's open pixel (as in the emails sent)."""
    return [tracking.open_url(base, tracking.sign_open(secret, campaign_id, c)) for c in ids]


def open_all(urls: list[str], clients: int) -> int:
    """GETs every pixel from `clients` threads; returns how many answered 200."""
    local = threading.local()

    def get(url: str) -> bool:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30, headers={"User-Agent": "bench"})
        return local.client.get(url).status_code == 200

    with ThreadPoolExecutor(clients) as pool:
        return sum(pool.map(get, urls))


def report(figures, serve, automate, postgres) -> None:  # noqa: ANN001
    after = (cpu(serve), cpu(automate), postgres(), time.process_time())
    table = Table(title="campaign bench")
    for column in ("phase", "count", "seconds", "per second", "serve CPU s", "automate CPU s",
                   "PostgreSQL CPU s", "bench CPU s"):  # fmt: skip
        table.add_column(column, justify="left" if column == "phase" else "right")
    for n, (phase, count, seconds, before) in enumerate(figures):
        until = figures[n + 1][3] if n + 1 < len(figures) else after
        used = [f"{u - b:.1f}" for u, b in zip(until, before, strict=True)]
        table.add_row(phase, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", *used)
    console.print(table)


def _wait(condition, seconds: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(0.05)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
