"""Test infrastructure: tiers by folder, and a fresh PostgreSQL database per use.

Every test is marked with its tier, the folder it sits in: `unit` (pure logic, no I/O),
`integration` (real PostgreSQL and broker, in this process) or `e2e` (the real `crm`
command); `pytest -m unit` runs one tier.

PostgreSQL is CRM_TEST_DATABASE_URL if set, else the server at 127.0.0.1:5432 if it
answers, else an embedded server. Kafka is CRM_TEST_KAFKA_BOOTSTRAP if set,
else a Tansu broker started for each test; each test gets a topic of its own.
"""

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from api.bootstrap import Container, bootstrap
from infra.postgres import embedded_database_url
from infra.settings import Settings
from tests.broker import Tansu

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_MASTER_KEY = "dGVzdCBtYXN0ZXIga2V5OiBub3QgYSBzZWNyZXQgISE="
"""The master key of every test process and of the `crm` processes tests start (32 bytes)."""
os.environ["CRM_MASTER_KEY"] = TEST_MASTER_KEY

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e")
IO_FIXTURES = frozenset({"new_database", "database_url", "container", "kafka_bootstrap"})
"""Fixtures that reach PostgreSQL or a broker: the unit tier may not use them."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test with its tier, the folder under tests/ it sits in."""
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/{{{','.join(TIERS)}}}/")
        used = IO_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if tier == "unit" and used:
            raise pytest.UsageError(f"{item.nodeid}: a unit test uses I/O fixtures {sorted(used)}")
        item.add_marker(tier)


def _admin_url() -> str:
    if url := os.environ.get("CRM_TEST_DATABASE_URL"):
        return url
    try:
        with psycopg.connect(LOCAL_SERVER, connect_timeout=2):
            return LOCAL_SERVER
    except psycopg.OperationalError:
        return embedded_database_url(Path(tempfile.mkdtemp(prefix="crm-test-pg-")))


@pytest.fixture(scope="session")
def new_database() -> Iterator[Callable[[], str]]:
    """Makes fresh databases on the test server; drops them all at the end of the session."""
    admin = _admin_url()
    made: list[str] = []

    def make() -> str:
        name = f"crm_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return make_conninfo(admin, dbname=name)

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def database_url(new_database: Callable[[], str]) -> str:
    """The database shared by the integration tests (tests use unique ids, never truncate)."""
    return new_database()


@pytest.fixture(scope="session")
def container(database_url: str) -> Iterator[Container]:
    """A started CRM container: command bus and in-process projection feed."""
    built = bootstrap(Settings(database_url=database_url, _env_file=None))
    built.start()
    yield built
    built.close()


KAFKA_TEST_TIMEOUT_MS = 3000
"""The test broker's first group join waits this long (a Tansu quirk): short, for tests only."""

KAFKA_TEST_FETCH_WAIT_MS = 100
"""Tansu answers a waiting fetch only when the wait ends: shortened, for tests only."""


@contextmanager
def started_broker() -> Iterator[str]:
    """CRM_TEST_KAFKA_BOOTSTRAP if set, else a Tansu broker of its own, stopped afterwards."""
    if bootstrap := os.environ.get("CRM_TEST_KAFKA_BOOTSTRAP"):
        yield bootstrap
        return
    broker = Tansu()  # starts in about 0.1 s
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_bootstrap() -> Iterator[str]:
    """The test broker's address: a broker per test, so that consumer groups (every
    projector joins `crm-project-<hash>`) never carry one test's members into the next."""
    with started_broker() as bootstrap:
        yield bootstrap


def kafka_settings(database_url: str, bootstrap: str, **overrides: object) -> Settings:
    """Settings for the Kafka path: a fresh topic of 4 partitions, the tests' short timeouts."""
    values: dict = {
        "database_url": database_url,
        "kafka_bootstrap": bootstrap,
        "kafka_topic": f"crm.events.test-{uuid.uuid4().hex[:10]}",
        "kafka_partitions": 4,
        "kafka_max_poll_interval_ms": KAFKA_TEST_TIMEOUT_MS,
        "kafka_session_timeout_ms": KAFKA_TEST_TIMEOUT_MS,
        "kafka_fetch_max_wait_ms": KAFKA_TEST_FETCH_WAIT_MS,
    }
    return Settings(**(values | overrides), _env_file=None)  # type: ignore[arg-type]
