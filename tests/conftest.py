"""Test infrastructure: a fresh PostgreSQL database per use, dropped at the end.

PostgreSQL is CRM_TEST_DATABASE_URL if set, else the server at 127.0.0.1:5432 if it
answers, else an embedded server (DESIGN.md).
"""

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.bootstrap import Container, bootstrap
from infra.postgres import embedded_database_url
from infra.settings import Settings

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


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
