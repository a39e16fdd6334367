"""API keys in PostgreSQL: unique names, expiry, revocation, last use, and a store made before
keys had ids and names migrated in place."""

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg
import pytest

from infra.api_keys import (
    DDL,
    DuplicateKeyName,
    Role,
    create_key,
    find_key,
    hash_key,
    list_keys,
    revoke_key,
)

OLD_DDL = """
CREATE TABLE crm_api_keys (
    key_hash text PRIMARY KEY,
    role text NOT NULL,
    principal text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
"""
"""The table as the code before key lifecycles made it."""


@pytest.fixture(scope="module")
def conn(new_database: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(new_database(), autocommit=True) as connection:
        connection.execute(DDL)
        yield connection


def test_a_name_is_unique_among_all_keys_revoked_ones_too(conn) -> None:
    _, first = create_key(conn, Role.SERVICE, "shop")
    revoke_key(conn, first.id)
    with pytest.raises(DuplicateKeyName):
        create_key(conn, Role.ANALYST, "shop")
    assert [key.name for key in list_keys(conn)].count("shop") == 1


def test_default_names_are_role_and_a_number_never_part_of_the_key(conn) -> None:
    names = [create_key(conn, Role.AUDITOR)[1].name for _ in range(3)]
    assert len(set(names)) == 3
    assert all(re.fullmatch(r"auditor-\d+", name) for name in names)


def test_a_default_name_taken_by_hand_is_skipped(conn) -> None:
    (last,) = conn.execute("SELECT nextval('crm_api_key_numbers')").fetchone()
    create_key(conn, Role.ANALYST, f"analyst-{last + 1}")
    assert create_key(conn, Role.ANALYST)[1].name == f"analyst-{last + 2}"


def test_an_unknown_key_is_none_a_revoked_or_expired_one_says_why(conn) -> None:
    assert find_key(conn, "crm_unknown") is None
    revoked_secret, revoked = create_key(conn, Role.SERVICE)
    assert revoke_key(conn, revoked.id) is not None
    expiring_secret, expiring = create_key(conn, Role.SERVICE, expires_in_days=1)
    conn.execute(
        "UPDATE crm_api_keys SET expires_at = now() - interval '1 s' WHERE id = %s", (expiring.id,)
    )
    now = datetime.now(UTC)
    assert find_key(conn, revoked_secret).refusal(now) == "revoked"
    assert find_key(conn, expiring_secret).refusal(now) == "expired"
    assert find_key(conn, expiring_secret).last_used_at is None  # a refused key is not "used"


def test_expires_in_days_sets_the_expiry(conn) -> None:
    _, key = create_key(conn, Role.ANALYST, expires_in_days=30)
    assert key.expires_at - key.created_at == timedelta(days=30)
    assert key.refusal(datetime.now(UTC)) is None


def test_last_use_is_written_at_most_once_a_minute(conn) -> None:
    secret, key = create_key(conn, Role.SERVICE)
    first = find_key(conn, secret)  # answers what was stored before this use
    assert first.last_used_at is None
    used = find_key(conn, secret).last_used_at
    assert used is not None
    assert find_key(conn, secret).last_used_at == used  # not written again within the minute
    conn.execute(
        "UPDATE crm_api_keys SET last_used_at = now() - interval '61 s' WHERE id = %s", (key.id,)
    )
    find_key(conn, secret)
    assert find_key(conn, secret).last_used_at > used


def test_revoking_an_unknown_id_is_none_and_a_second_revocation_keeps_the_first(conn) -> None:
    _, key = create_key(conn, Role.SERVICE)
    first = revoke_key(conn, key.id).revoked_at
    assert revoke_key(conn, key.id).revoked_at == first
    assert revoke_key(conn, uuid4()) is None


def test_a_store_made_before_key_lifecycles_keeps_its_keys_and_principals(
    new_database: Callable[[], str],
) -> None:
    with psycopg.connect(new_database(), autocommit=True) as old:
        old.execute(OLD_DDL)
        for secret, role, principal in (
            ("crm_a", "admin", "admin"),
            ("crm_b", "service", "service-AbCdEfGh"),
            ("crm_c", "service", "shop"),
            ("crm_d", "analyst", "shop"),  # names were not unique then
        ):
            old.execute(
                "INSERT INTO crm_api_keys (key_hash, role, principal) VALUES (%s, %s, %s)",
                (hash_key(secret), role, principal),
            )
        old.execute(DDL)
        old.execute(DDL)  # every start runs it: a second run changes nothing
        keys = {key.name: key for key in list_keys(old)}
        assert sorted(keys) == ["admin", "service-AbCdEfGh", "shop", "shop-2"]
        assert len({key.id for key in keys.values()}) == 4
        assert find_key(old, "crm_b").principal.name == "service-AbCdEfGh"
        assert find_key(old, "crm_d").principal.role == Role.ANALYST
        with pytest.raises(DuplicateKeyName):
            create_key(old, Role.SERVICE, "shop-2")
