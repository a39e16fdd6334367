"""Stored events are append-only in PostgreSQL itself: an UPDATE, DELETE or TRUNCATE of
`crm_events` is refused to every session, superuser included, unless a migration allows it
for its own transaction."""

from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import Connection

from api.bootstrap import prepare_database
from infra.append_only import allow_rewrite
from infra.settings import Settings


@pytest.fixture(scope="module")
def url(new_database: Callable[[], str]) -> str:
    made = prepare_database(Settings(database_url=new_database(), _env_file=None))
    prepare_database(Settings(database_url=made, _env_file=None))  # a second start: unchanged
    with psycopg.connect(made, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm_events (originator_id, originator_version, topic, state)"
            " VALUES (%s, 1, 'tests:Appended', '{}')",
            (uuid4(),),
        )
    return made


@pytest.fixture
def conn(url: str) -> Iterator[Connection[Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE crm_events SET state = '{\"forged\": true}'",
        "DELETE FROM crm_events",
        "TRUNCATE crm_events",
    ],
)
def test_no_session_may_change_stored_events(conn: Connection[Any], statement: str) -> None:
    stored = conn.execute("SELECT count(*) FROM crm_events").fetchone()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement)
    assert conn.execute("SELECT count(*) FROM crm_events").fetchone() == stored


def test_a_migration_may_rewrite_events_in_its_own_transaction_only(
    conn: Connection[Any],
) -> None:
    with conn.transaction():
        allow_rewrite(conn)
        conn.execute("UPDATE crm_events SET state = '{\"sealed\": true}'")
    assert {row[0] for row in conn.execute("SELECT state FROM crm_events")} == {b'{"sealed": true}'}
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE crm_events SET state = '{}'")


def test_a_service_role_that_does_not_own_the_table_only_appends(conn: Connection[Any]) -> None:
    """The role separation docs/operations.md describes: the service's role takes the
    writer's lock and inserts, and may not change an event, whatever it sets."""
    role = f"crm_service_{uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        conn.execute(f"GRANT SELECT, INSERT, TRUNCATE ON crm_events TO {role}")
        conn.execute(f"GRANT USAGE ON SEQUENCE crm_events_notification_id_seq TO {role}")
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {role}")
            conn.execute("LOCK TABLE crm_events IN EXCLUSIVE MODE")
            conn.execute(
                "INSERT INTO crm_events (originator_id, originator_version, topic, state)"
                " VALUES (%s, 1, 'tests:Appended', '{}')",
                (uuid4(),),
            )
        for statement in ("UPDATE crm_events SET state = '{}'", "TRUNCATE crm_events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SET LOCAL ROLE {role}")
                allow_rewrite(conn)
                conn.execute(statement)
    finally:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")
