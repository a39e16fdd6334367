"""`crm keys` (in this process, on a real PostgreSQL): create with a name and an expiry, list
without the secret, revoke; refusals exit non-zero and write nothing."""

import re
from collections.abc import Callable

import psycopg
import pytest
from click.testing import Result
from typer.testing import CliRunner

from api.cli import app
from infra.api_keys import ApiKey, find_key


@pytest.fixture(scope="module")
def url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture(scope="module")
def crm(url: str) -> Callable[..., Result]:
    """Runs `crm keys ARGS...` on the module's database."""
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["keys", *args], env={"CRM_DATABASE_URL": url})


def stored(url: str, key: str) -> ApiKey | None:
    with psycopg.connect(url) as conn:
        return find_key(conn, key)


def test_keys_are_created_listed_without_their_secret_and_revoked(crm, url) -> None:
    created = crm("create", "--role", "analyst", "--name", "books", "--expires-in", "30")
    assert created.exit_code == 0, created.output
    key = created.output.split()[-1]
    key_id = re.search(r"Created key ([0-9a-f-]{36})", created.output)[1]
    assert "expiring" in created.output
    listed = crm("list")
    assert listed.exit_code == 0 and key not in listed.output
    header, *rows = listed.output.splitlines()
    assert header.split() == ["id", "name", "role", "created", "last", "used", "expires", "revoked"]
    row = next(row.split() for row in rows if row.startswith(key_id))
    assert row[1:3] == ["books", "analyst"]
    assert (row[4], row[6]) == ("-", "-") and row[5] > row[3]  # never used, expiring later
    revoked = crm("revoke", key_id)
    assert revoked.exit_code == 0 and "books" in revoked.output
    assert stored(url, key).revoked_at is not None


def test_a_default_name_is_the_role_and_a_number(crm) -> None:
    created = crm("create", "--role", "service")
    assert re.search(r"for service-\d+\. Key: crm_\S+$", created.output.strip())


def test_refusals_exit_non_zero(crm) -> None:
    assert crm("create", "--role", "service", "--name", "twice").exit_code == 0
    again = crm("create", "--role", "admin", "--name", "twice")
    assert again.exit_code == 1 and "exists already" in again.output
    assert crm("create", "--role", "service", "--name", "two words").exit_code == 2
    assert crm("create", "--role", "service", "--expires-in", "0").exit_code == 2
    assert crm("create", "--role", "root").exit_code == 2
    unknown = crm("revoke", "00000000-0000-4000-8000-000000000000")
    assert unknown.exit_code == 1 and "No key" in unknown.output
    assert crm("revoke", "not-an-id").exit_code == 2
