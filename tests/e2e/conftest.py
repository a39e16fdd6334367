"""End-to-end: the real `crm` command, serving HTTP on a free port."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from infra.api_keys import Role, create_key
from tests.conftest import TEST_MASTER_KEY

CRM = str(Path(sys.executable).parent / "crm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crm_env(**settings: str) -> dict[str, str]:
    """The environment of a `crm` process: this one's, minus CRM_ settings, plus the tests'
    master key and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_MASTER_KEY"] = TEST_MASTER_KEY
    return env | {f"CRM_{k.upper()}": v for k, v in settings.items()}


@dataclass
class Service:
    """A running `crm serve`."""

    process: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    first_admin_key: str | None

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def create_key(self, role: str) -> str:
        """A new key of `role`: made in this process, as `crm keys create` makes it, on the
        service's database (a `crm` process costs two seconds of CPU); with an embedded
        database, by `crm keys create --role ROLE` with the service's settings."""
        if url := self.env.get("CRM_DATABASE_URL"):
            with psycopg.connect(url) as conn:
                return create_key(conn, Role(role))[0]
        done = subprocess.run(
            [CRM, "keys", "create", "--role", role],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1].split()[-1]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        """Stops it as a service manager would (SIGTERM); returns its exit status."""
        self.process.terminate()
        return self.process.wait(timeout=30)


def start_service(env: dict[str, str], output: list[str] | None = None) -> Service:
    """Starts `crm serve` and waits until it answers /healthz; its output (its child
    processes' too) is kept in `output` if given."""
    process = subprocess.Popen(
        [CRM, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first_key, lines = None, [] if output is None else output
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Admin API key:"):
            first_key = line.split()[-1]
        if line.startswith("Serving on"):
            break
    else:
        raise RuntimeError("crm serve did not start:\n" + "".join(lines))
    service = Service(process, f"http://127.0.0.1:{env['CRM_PORT']}", env, first_key)
    _drain(process, lines if output is not None else None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{service.url}/healthz").status_code == 200:
                return service
        except httpx.TransportError:
            time.sleep(0.02)
    service.stop()
    raise RuntimeError("crm serve did not answer /healthz")


def _drain(process: subprocess.Popen[str], into: list[str] | None) -> None:
    """Keeps reading the server's output (into `into`, if given) so that it never blocks
    on a full pipe."""
    import threading

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if into is not None:
                into.append(line)

    threading.Thread(target=read, daemon=True).start()


@contextmanager
def serving(database_url: str, **settings: str) -> Iterator[Service]:
    """`crm serve` on `database_url` and a free port, with these CRM_ settings; stopped at
    the end (unless the test stopped it)."""
    running = start_service(crm_env(database_url=database_url, port=str(free_port()), **settings))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


@pytest.fixture(scope="session")
def service(new_database: Callable[[], str]) -> Iterator[Service]:
    """`crm serve` on its own fresh database."""
    with serving(new_database()) as running:
        yield running


@pytest.fixture(scope="session")
def keys(service: Service) -> dict[str, str]:
    """One API key per role."""
    assert service.first_admin_key
    return {"admin": service.first_admin_key} | {
        role: service.create_key(role) for role in ("service", "analyst", "auditor")
    }


@pytest.fixture(scope="session")
def api(service: Service, keys: dict[str, str]) -> Iterator[httpx.Client]:
    """An HTTP client with a service key."""
    with service.client(keys["service"]) as client:
        yield client


@pytest.fixture(scope="session")
def stopping(new_database: Callable[[], str]) -> Iterator[list[Service]]:
    """Servers told to stop (SIGINT) that finish stopping while the next module's tests run
    (a used server takes a second or two); each must have exited within 30 s at the end of
    the session, before the databases are dropped."""
    told: list[Service] = []
    yield told
    for service in told:
        service.process.wait(timeout=30)


@pytest.fixture(scope="module")
def shop(new_database: Callable[[], str], stopping: list[Service]) -> Iterator[Service]:
    """`crm serve` on a database of the test module's own, for answers over every customer
    or global settings (reports, SLA policies, the churn model); a churn answer after a
    purchase schedules a new fit at once (no fit reused), so a test polls until it shows.
    Told to stop after the module, not waited for."""
    running = start_service(
        crm_env(database_url=new_database(), port=str(free_port()), churn_refit_seconds="0")
    )
    yield running
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
        stopping.append(running)


@pytest.fixture(scope="module")
def analyst(shop: Service) -> Iterator[httpx.Client]:
    """An analyst's client of the module's own service."""
    with shop.client(shop.create_key("analyst")) as client:
        yield client


@pytest.fixture(scope="module")
def seller(shop: Service) -> Iterator[httpx.Client]:
    """A service key's client of the module's own service."""
    with shop.client(shop.create_key("service")) as client:
        yield client
